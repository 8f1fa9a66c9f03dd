"""The layout is the architecture: no module-level import cycle anywhere in the package, the
scenario schema never imports the traffic generator, and the core imports only itself."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("simulator", "cdr_writer")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _top_level_imports(path: Path) -> set[str]:
    """Modules imported when ``path`` is imported (not inside functions, not TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
    visit(tree.body)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    return {name: {m for m in _top_level_imports(path) if m in modules and m != name}
            for name, path in modules.items()}


def test_no_module_level_import_cycle() -> None:
    graph = _graph()
    # a package's __init__ importing its own submodules is not a cycle of the code's layers
    edges = {m: {d for d in deps if not (m == d.rsplit(".", 1)[0] or d == m.rsplit(".", 1)[0])}
             for m, deps in graph.items()}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []
    sys.setrecursionlimit(10_000)

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(edges[node]):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep):], dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert cycles == []


def test_the_scenario_schema_does_not_import_the_traffic_generator_or_the_transports() -> None:
    graph = _graph()
    for name, deps in graph.items():
        if name.startswith("simulator.scenario"):
            assert not {d for d in deps if d.startswith(("simulator.traffic",
                                                         "simulator.transports",
                                                         "simulator.run"))}, name


def test_the_core_imports_only_the_standard_library_and_itself() -> None:
    for path in (ROOT / "simulator" / "core").rglob("*.py"):
        for module in _top_level_imports(path):
            top = module.split(".")[0]
            assert module.startswith("simulator.core") or top in sys.stdlib_module_names \
                or top == "__future__", (path.name, module)
