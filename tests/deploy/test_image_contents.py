"""What the production image receives: the folders the Dockerfile copies, minus .dockerignore. The local stand-ins
(every `dev/` folder) and the demo scenarios stay out; everything else the services need goes in, and nothing
that goes in imports what stays out."""

from __future__ import annotations

import ast
import re
from functools import cache

from tests.support import ROOT

#: Where a stand-in or a demo may live: kept out of the image wherever it is.
DEV_FOLDER = "dev"
DEMO_MODULE = re.compile(r"demo(_\w+)?\.py")
CACHES = ("__pycache__",)


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as Docker reads it: from the context root, `*` and `?` within a path segment, `**`
    across any number of them."""
    out, i = "", 0
    pattern = pattern.strip().lstrip("/").rstrip("/")
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


@cache
def _rules() -> list[tuple[bool, re.Pattern[str]]]:
    """(excludes, regex) per line of .dockerignore; a `!` line brings back what it matches."""
    rules = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keep = line.startswith("!")
            rules.append((not keep, _pattern_regex(line[1:] if keep else line)))
    return rules


def ignored(path: str) -> bool:
    """Whether a path of the context (relative, with /) is left out: a pattern matching it or one of its folders
    leaves it out; the last matching line decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    decision = False
    for excludes, regex in _rules():
        if any(regex.fullmatch(candidate) for candidate in candidates):
            decision = excludes
    return decision


def _copied_sources() -> list[str]:
    """The context paths the Dockerfile COPYs (not the COPY --from of the build stage)."""
    sources: list[str] = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            sources += [w.rstrip("/") for w in words[1:-1] if not w.startswith("--")]
    return sources


def _files(source: str) -> list[str]:
    path = ROOT / source
    if path.is_file():
        return [source]
    return sorted(str(p.relative_to(ROOT)) for p in path.rglob("*")
                  if p.is_file() and not any(part in CACHES for part in p.parts) and p.suffix != ".pyc")


def _stays_out(path: str) -> bool:
    parts = path.split("/")
    return DEV_FOLDER in parts[:-1] or bool(DEMO_MODULE.fullmatch(parts[-1]))


def _candidates() -> list[str]:
    return [f for source in _copied_sources() for f in _files(source)]


def test_the_dockerfile_copies_the_code_folders() -> None:
    sources = _copied_sources()
    assert {"shared", "services"} <= set(sources), sources
    assert not [s for s in sources if ignored(s)], "a folder the Dockerfile copies is excluded as a whole"


def test_every_dev_folder_and_demo_module_stays_out_of_the_image() -> None:
    dev_and_demo = [f for f in _candidates() if _stays_out(f)]
    # Today: services/notifier/dev, services/feeds/dev, services/crisis_center/dashboard/demo.py, feeds' demo.
    assert any("/dev/" in f for f in dev_and_demo) and any(f.endswith("demo.py") for f in dev_and_demo)
    shipped = [f for f in dev_and_demo if not ignored(f)]
    assert not shipped, f"add them to .dockerignore, they would go into the production image: {shipped}"


def test_nothing_else_is_left_out() -> None:
    """Migrations, seeds, templates and the built UI sit beside the code and are read from there at run time."""
    left_out = [f for f in _candidates() if ignored(f) and not _stays_out(f)]
    assert not left_out, f".dockerignore leaves out files the services may need: {left_out[:20]}"


def _module(path: str) -> str:
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def _top_level_imports(source: str) -> list[str]:
    """Modules imported when the module loads (imports inside functions run only when called)."""
    names: list[str] = []
    pending = list(ast.parse(source).body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, (ast.If, ast.Try)):
            pending += node.body + node.orelse + getattr(node, "finalbody", [])
            pending += [n for handler in getattr(node, "handlers", []) for n in handler.body]
    return names


def test_what_goes_in_does_not_import_what_stays_out_when_it_loads() -> None:
    left_out = {_module(f) for f in _candidates() if f.endswith(".py") and ignored(f)}
    assert left_out
    broken = {
        f: sorted(set(_top_level_imports((ROOT / f).read_text())) & left_out)
        for f in _candidates() if f.endswith(".py") and not ignored(f)
    }
    broken = {f: names for f, names in broken.items() if names}
    assert not broken, f"these would fail to import in the image (import inside the function instead): {broken}"


def test_the_matcher_reads_patterns_as_docker_does() -> None:
    assert _pattern_regex("services/*/dev").fullmatch("services/feeds/dev")
    assert not _pattern_regex("services/*/dev").fullmatch("services/a/b/dev")
    assert _pattern_regex("services/**/demo.py").fullmatch("services/demo.py")
    assert _pattern_regex("services/**/demo.py").fullmatch("services/crisis_center/dashboard/demo.py")
    assert not _pattern_regex("tests").fullmatch("services/tests")
