"""Every service has the same files in the same roles (docs/CONVENTIONS.md, "Layout of a service"), routes live in
module-level routers, and no function outside the tests is longer than the conventions allow."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists())
#: What every service holds (a trailing slash: a package or folder).
EVERY_SERVICE = ("__main__.py", "settings.py", "bootstrap.py", "handlers.py", "worker.py", "domain/",
                 "adapters/", "migrations/")
#: What a service with an HTTP API holds besides.
HTTP_SERVICE = ("api.py", "deps.py")
LONGEST_FUNCTION = 80
CHECKED_TREES = ("services", "shared", "bench", "deploy", "scripts")


def _conventions_layout() -> str:
    text = (ROOT / "docs" / "CONVENTIONS.md").read_text(encoding="utf-8")
    match = re.search(r"^## Layout of a service.*?(?=^## )", text, flags=re.S | re.M)
    assert match, "docs/CONVENTIONS.md has no 'Layout of a service' section"
    return match.group(0)


def test_services_are_found() -> None:
    assert {"intake", "directory", "crisis_center", "notifier", "feeds"} <= set(SERVICES)


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_has_the_files_of_every_service(service: str) -> None:
    folder = ROOT / "services" / service
    missing = [name for name in EVERY_SERVICE if not (folder / name.rstrip("/")).exists()]
    if (folder / "api.py").exists():
        missing += [name for name in HTTP_SERVICE if not (folder / name).exists()]
    assert not missing, f"services/{service} lacks {missing} (docs/CONVENTIONS.md, Layout of a service)"


def test_the_conventions_name_every_file_the_layout_requires() -> None:
    layout = _conventions_layout()
    unnamed = [name for name in (*EVERY_SERVICE, *HTTP_SERVICE, "*_api.py") if f"`{name}" not in layout]
    assert not unnamed, f"docs/CONVENTIONS.md's layout does not name {unnamed}"


def _modules(*trees: str) -> list[Path]:
    return sorted(p for tree in trees for p in (ROOT / tree).rglob("*.py") if "node_modules" not in p.parts)


def _top_level_names(module: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in module.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) else []
        names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def test_route_modules_define_a_module_level_router() -> None:
    """`*_api.py` and `*_page.py` hold routes: a module-level `router` that `api.create_app` includes, not a factory
    closing over the settings (they reach the app's state through the service's `deps.Deps`)."""
    route_modules = [p for p in _modules("services") if p.stem.endswith(("_api", "_page"))]
    assert len(route_modules) >= 10
    without = [str(p.relative_to(ROOT)) for p in route_modules
               if "router" not in _top_level_names(ast.parse(p.read_text(encoding="utf-8")))]
    assert not without, f"route modules without a module-level router: {without}"


def test_no_route_is_declared_on_the_app() -> None:
    """Routes are declared on routers (`@router.get`); `@app.get` inside a factory is what the routers replaced.
    shared/http.py's operations routes (/healthz, /readyz, /metrics) are the one exception."""
    declared = []
    for path in _modules("services", "shared"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for decorator in node.decorator_list:
                    call = decorator.func if isinstance(decorator, ast.Call) else decorator
                    if (isinstance(call, ast.Attribute) and isinstance(call.value, ast.Name)
                            and call.value.id == "app" and call.attr in {"get", "post", "put", "patch", "delete"}):
                        declared.append(f"{path.relative_to(ROOT)}:{node.name}")
    assert [d for d in declared if not d.startswith("shared/http.py:")] == []


def test_no_function_outside_the_tests_is_longer_than_the_conventions_allow() -> None:
    too_long = []
    for path in _modules(*CHECKED_TREES):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > LONGEST_FUNCTION:
                    too_long.append(f"{path.relative_to(ROOT)}:{node.name} ({lines} lines)")
    assert not too_long, f"longer than {LONGEST_FUNCTION} lines: {too_long}"
