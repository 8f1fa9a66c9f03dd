"""The layout is the architecture: no import cycle anywhere in the packages (imports inside
functions count: they run too, only later), and each floor imports only the floors below it:

- ``simulator.core`` imports only itself and the standard library;
- ``simulator.transports`` never imports the run, the CLI, explain or analyze;
- ``cdr_writer`` never imports the simulator's upper floors (only the core's record);
- the scenario schema never imports the traffic generator, the transports or the run.
"""

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


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at module level or inside a function or class, except
    under ``if TYPE_CHECKING:`` (those never run)."""
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)
    visit(tree)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    return {name: {m for m in _imports(path) if m in modules and m != name}
            for name, path in modules.items()}


def test_no_import_cycle() -> None:
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
        for module in _imports(path):
            top = module.split(".")[0]
            assert module.startswith("simulator.core") or top in sys.stdlib_module_names \
                or top == "__future__", (path.name, module)


def _importers(prefix: str) -> dict[str, set[str]]:
    return {name: deps for name, deps in _graph().items() if name.startswith(prefix)}


def test_the_transports_never_import_the_run_or_its_consumers() -> None:
    upper = ("simulator.run", "simulator.cli", "simulator.explain", "simulator.analyze")
    for name, deps in _importers("simulator.transports").items():
        assert not {d for d in deps if d.startswith(upper)}, name


def test_cdr_writer_imports_only_the_core_of_the_simulator() -> None:
    for name, deps in _importers("cdr_writer").items():
        above = {d for d in deps if d.startswith("simulator") and
                 not d.startswith("simulator.core")}
        assert not above, (name, above)


def test_a_cycle_hidden_inside_a_function_is_found(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def later():\n    from simulator.run._summary import alarms\n")
    assert "simulator.run._summary" in _imports(module)
    guarded = tmp_path / "g.py"
    guarded.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                       "    import simulator.run\n")
    assert "simulator.run" not in _imports(guarded)


def test_reproduce_and_audit_sit_on_top_and_only_the_cli_imports_them() -> None:
    allowed = ("simulator.audit", "simulator.scenario", "simulator.run", "simulator.analyze",
               "simulator.core")
    graph = _graph()
    for name, deps in graph.items():
        if name.startswith("simulator.audit"):
            assert not {d for d in deps if d.startswith("simulator")
                        and not d.startswith(allowed)}, name
        elif name != "simulator.cli":
            assert not {d for d in deps if d.startswith("simulator.audit")}, name
    assert any(d.startswith("simulator.audit") for d in graph["simulator.cli"])


# Modules another package may import directly rather than through the package's face: each
# needs an optional or heavy library that only its own command should load.
LAZY_MODULES = {
    "simulator.run._live": "sippy (the live extra), for vossim live only",
    "simulator.analyze._plots": "matplotlib, for analyze --plots/--html only",
    "simulator.analyze._html": "matplotlib, for analyze --html only",
    "cdr_writer._mariadb": "PyMySQL, for --format mariadb and mysql:// sources only",
    "simulator.transports.live._capture": "scapy's sniffer, for vossim live --pcap only",
}
# The core choice asks which file the state machine itself was loaded from (a .py or a build).
ALLOWED = {("simulator._core_choice", "simulator.core._state")}


def test_other_packages_import_through_each_packages_public_face() -> None:
    packages = {p.parent.relative_to(ROOT).as_posix().replace("/", ".")
                for pkg in PACKAGES for p in (ROOT / pkg).rglob("__init__.py")}
    offenders = []
    for name, deps in _graph().items():
        home = max((p for p in packages if name == p or name.startswith(p + ".")), key=len)
        for dep in deps:
            owner = max((p for p in packages if dep.startswith(p + ".")), key=len, default="")
            private = dep.rsplit(".", 1)[-1].startswith("_")
            if owner and private and not home.startswith(owner) and dep not in LAZY_MODULES \
                    and (name, dep) not in ALLOWED:
                offenders.append(f"{name} -> {dep}")
    assert offenders == [], "\n".join(offenders)


def test_consumers_replay_calls_through_the_run_not_the_transports() -> None:
    for prefix in ("simulator.explain", "simulator.analyze", "simulator.audit"):
        for name, deps in _importers(prefix).items():
            assert not {d for d in deps if d.startswith("simulator.transports")}, name
