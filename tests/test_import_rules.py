"""The import graph, read from the source (every import, at the top or inside a function):

- the apps form layers with no cycle: `core` at the bottom importing no other app, `audit`
  right above it importing only `core`, and no app importing one above it;
- the apps reach the engine only through its front door, `masking` and `masking.dialects`;
- the engine imports nothing of the apps, the project configuration or Django."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = (
    "core",
    "audit",
    "accounts",
    "connections",
    "workflows",
    "executions",
    "schedules",
    "notifications",
)
# Each app may import the apps listed before it, never one after it.
LAYERS = {name: set(APPS[:i]) for i, name in enumerate(APPS)}
FRONT_DOOR = {"masking", "masking.dialects"}


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def _sources(folder: str):
    for path in sorted((ROOT / folder).rglob("*.py")):
        if "migrations" not in path.parts:
            yield path


def app_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {app: set() for app in APPS}
    for path in _sources("apps"):
        parts = path.relative_to(ROOT / "apps").parts
        if len(parts) < 2:
            continue
        app = parts[0]
        for name in _imports(path):
            bits = name.split(".")
            if bits[0] == "apps" and len(bits) > 1 and bits[1] != app:
                graph[app].add(bits[1])
    return graph


def test_every_app_is_in_a_layer():
    found = {p.name for p in (ROOT / "apps").iterdir() if (p / "apps.py").exists()}
    assert found == set(APPS)


def test_apps_import_only_the_layers_below():
    graph = app_graph()
    wrong = {app: sorted(deps - LAYERS[app]) for app, deps in graph.items() if deps - LAYERS[app]}
    assert wrong == {}
    assert graph["core"] == set() and graph["audit"] <= {"core"}


def test_no_cycles_between_apps():
    graph = app_graph()
    state: dict[str, str] = {}

    def visit(app: str, path: list[str]) -> None:
        state[app] = "open"
        for dep in graph[app]:
            assert state.get(dep) != "open", " -> ".join([*path, app, dep])
            if dep not in state:
                visit(dep, [*path, app])
        state[app] = "done"

    for app in APPS:
        if app not in state:
            visit(app, [])


def test_apps_use_the_engine_front_door_only():
    wrong = []
    for path in _sources("apps"):
        for name in _imports(path):
            if name.split(".")[0] == "masking" and name not in FRONT_DOOR:
                wrong.append(f"{path.relative_to(ROOT)}: {name}")
    assert wrong == []


def test_the_engine_imports_nothing_above_it():
    wrong = []
    for path in _sources("masking"):
        for name in _imports(path):
            if name.split(".")[0] in ("apps", "config", "django", "rest_framework", "celery"):
                wrong.append(f"{path.relative_to(ROOT)}: {name}")
    assert wrong == []


def test_the_rules_see_real_imports():
    """The scan finds what it should: a rule that reads nothing would pass vacuously."""
    graph = app_graph()
    assert "workflows" in graph["executions"] and "connections" in graph["workflows"]
    assert "masking" in _imports(ROOT / "apps" / "executions" / "services" / "run.py")
