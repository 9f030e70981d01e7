"""The built UI files are committed (Python alone serves the pages) and must be what `frontend/build.mjs` makes from
`frontend/src` now: a fresh build into a temporary directory is compared with them file by file."""

from __future__ import annotations

import filecmp
import shutil
import subprocess
from pathlib import Path

from tests.support import ROOT

FRONTEND = ROOT / "frontend"
REBUILD = "run the build and commit its output: cd frontend && npm ci && npm run build"


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def _build(into: Path) -> list[Path]:
    """Run frontend/build.mjs in a copy of frontend/ under `into` (it writes beside it, as it does in the checkout);
    the folders it built, relative to `into`."""
    node = shutil.which("node")
    assert node is not None, "Node.js is needed to build the frontend"
    copy = into / "frontend"
    shutil.copytree(FRONTEND, copy, ignore=shutil.ignore_patterns("node_modules"))
    assert (FRONTEND / "node_modules").is_dir(), "frontend/node_modules is missing: cd frontend && npm ci"
    (copy / "node_modules").symlink_to(FRONTEND / "node_modules", target_is_directory=True)
    result = subprocess.run([node, "build.mjs"], cwd=copy, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    # build.mjs says one line per target: "<name>: <folder it wrote>".
    built = [Path(line.split(": ", 1)[1]) for line in result.stdout.splitlines() if ": " in line]
    assert built, f"build.mjs named no output folder:\n{result.stdout}"
    return [folder.relative_to(into) for folder in built]


def test_the_committed_built_files_are_a_fresh_build_of_frontend_src(tmp_path: Path) -> None:
    for folder in _build(tmp_path):
        fresh, committed = tmp_path / folder, ROOT / folder
        fresh_files, committed_files = _files(fresh), _files(committed)
        assert fresh_files == committed_files, (
            f"{folder}: files only in the fresh build {sorted(fresh_files - committed_files)}, only committed "
            f"{sorted(committed_files - fresh_files)}: {REBUILD}")
        _, differ, errors = filecmp.cmpfiles(fresh, committed, sorted(fresh_files), shallow=False)
        assert not differ and not errors, f"{folder}: {sorted(differ + errors)} differ from frontend/src: {REBUILD}"


def test_the_build_is_deterministic(tmp_path: Path) -> None:
    """Two builds of the same sources give the same bytes (no time stamp, no order of the file system)."""
    first, second = _build(tmp_path / "one"), _build(tmp_path / "two")
    assert first == second
    for folder in first:
        one, two = tmp_path / "one" / folder, tmp_path / "two" / folder
        assert _files(one) == _files(two)
        _, differ, errors = filecmp.cmpfiles(one, two, sorted(_files(one)), shallow=False)
        assert not differ and not errors, f"{folder}: {differ + errors} differ between two builds"


def test_the_built_files_are_marked_generated_for_git(tmp_path: Path) -> None:
    """.gitattributes marks them linguist-generated: diffs and language statistics leave them out."""
    folders = _build(tmp_path)
    paths = sorted(str(folder / name) for folder in folders for name in _files(ROOT / folder))
    result = subprocess.run(["git", "check-attr", "--stdin", "linguist-generated"], cwd=ROOT, input="\n".join(paths),
                            capture_output=True, text=True, check=True)
    unmarked = [line.split(":")[0] for line in result.stdout.splitlines() if not line.endswith(": set")
                and not line.endswith(": true")]
    assert not unmarked, f"not linguist-generated in .gitattributes: {unmarked}"
