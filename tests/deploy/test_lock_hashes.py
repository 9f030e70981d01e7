"""The lock files pin every distribution with its sha256 hashes and every install checks them (issue 19): the
Makefile's venv (scripts/venv.sh) and the image (Dockerfile). requirements.runtime.lock is the image's part of
requirements.lock: the same pins and the same hashes."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from tests.support import ROOT

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse(path: Path) -> dict[str, tuple[str, frozenset[str]]]:
    pins: dict[str, tuple[str, set[str]]] = {}
    current = ""
    for line in path.read_text().splitlines():
        if match := PIN.match(line):
            current = canonical(match[1])
            assert current not in pins, f"{path.name}: {current} pinned twice"
            pins[current] = (match[2], set())
        elif line.strip().startswith(("-c", "-r", "-e", "--index-url", "--find-links", "--extra-index-url")):
            raise AssertionError(f"{path.name}: an option that does not belong in a lock: {line.strip()}")
        if line.lstrip().startswith("--hash") or PIN.match(line):
            pins[current][1].update(HASH.findall(line))
    return {name: (version, frozenset(hashes)) for name, (version, hashes) in pins.items()}


def direct_pins(group: list[str]) -> dict[str, str]:
    return {canonical(name): version for name, version in (d.split("==") for d in group)}


def test_every_pinned_distribution_has_its_hashes() -> None:
    for path in (ROOT / "requirements.lock", ROOT / "requirements.runtime.lock"):
        pins = parse(path)
        assert len(pins) > 50
        unhashed = sorted(name for name, (_, hashes) in pins.items() if not hashes)
        assert not unhashed, f"{path.name}: no hashes for {unhashed}"


def test_the_locks_agree_with_each_other_and_with_pyproject() -> None:
    dev, runtime = parse(ROOT / "requirements.lock"), parse(ROOT / "requirements.runtime.lock")
    assert {name: dev.get(name) for name in runtime} == runtime
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for group, lock in ((project["dependencies"], runtime), (project["optional-dependencies"]["dev"], dev)):
        for name, version in direct_pins(group).items():
            assert lock[name][0] == version, f"{name}: pyproject says {version}, the lock {lock[name][0]}"


def test_installs_check_the_hashes() -> None:
    venv = (ROOT / "scripts" / "venv.sh").read_text()
    assert "pip install -q --require-hashes -r requirements.lock" in venv
    assert "pip install -q --no-deps -e '.[dev]'" in venv
    assert "scripts/venv.sh" in (ROOT / "Makefile").read_text()
    installs = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if "pip install" in line]
    assert installs == ["RUN pip install --require-hashes -r requirements.runtime.lock", "RUN pip install --no-deps ."]
