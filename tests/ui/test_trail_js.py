"""The dashboard's audit-trail grouping (frontend/src/dashboard/trail.js) under Node's own test runner."""

from __future__ import annotations

import shutil
import subprocess

from tests.support import ROOT


def test_trail_grouping_under_node() -> None:
    node = shutil.which("node")
    assert node is not None, "Node.js is needed (it builds the frontend too)"
    result = subprocess.run([node, "--test", str(ROOT / "tests" / "ui" / "trail.test.mjs")],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# pass 3" in result.stdout
