"""What a user gets: the core alone imports only the standard library, a wheel built from a clean
copy of the tree ships every package (live mode included), and ``vossim live`` without the live
extra says in one line what to install."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_IN_THE_CORE = ("pydantic", "simpy", "yaml", "rich", "cdr_writer", "scapy", "sippy", "pjsua2",
                   "pymysql", "pyarrow", "numpy", "distributed")


def _fresh(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_importing_the_core_loads_nothing_outside_the_standard_library() -> None:
    done = _fresh(
        "import sys, json\n"
        "import simulator.core\n"
        "from simulator.core import _cdr, _config, _decisions, _rating, _reasons, _record, _state\n"
        "print(json.dumps(sorted(sys.modules)))\n")
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert "simulator.core._state" in loaded
    assert not {m for m in loaded if m.split(".")[0] in NOT_IN_THE_CORE}
    # The package's own import picks the core (simulator._core_choice, standard library only).
    outside = {m for m in loaded if m.startswith("simulator.") and not m.startswith(
        "simulator.core")} - {"simulator._core_choice"}
    assert not outside, outside  # not the schema, the transports or the run layer either


def test_the_public_api_still_imports_from_the_package() -> None:
    done = _fresh("from simulator import (load_scenario, parse_scenario, run_scenario, Scenario, "
                  "ScenarioError, RunResult, RunStats, SimulationError, EndReason, Party, "
                  "Verdict, ALL_ROWS, SETUP_CHECKS, apply_overrides, Mismatch, Problem)\n"
                  "print(RunStats.__module__, Scenario.__module__)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["simulator.run._stats", "simulator.scenario._schema"]


def _clean_copy(target: Path) -> None:
    """The tracked files, as a fresh clone has them (no build/, no caches, no stray files)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                            check=False)
    if listed.returncode != 0:  # not a git checkout: copy what a clone would hold
        shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "*.egg-info", "__pycache__", "out"))
        return
    for name in listed.stdout.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)


def test_a_wheel_built_from_a_clean_copy_ships_every_package(tmp_path: Path) -> None:
    tree, wheels = tmp_path / "tree", tmp_path / "wheels"
    _clean_copy(tree)
    # the compiled core is built and checked in test_compiled_core; here only what ships
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", str(tree), "-w", str(wheels),
                           "--no-deps", "-q"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "VOSSIM_NO_COMPILE": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = wheels.glob("vossim-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {p.parent.relative_to(ROOT).as_posix() for p in ROOT.glob("simulator/**/*.py")}
    packages |= {"cdr_writer"}
    shipped = {name.rsplit("/", 1)[0] for name in names if name.endswith(".py")}
    assert packages <= shipped, packages - shipped
    live = {n for n in names if n.startswith("simulator/transports/live/")}
    assert {"simulator/transports/live/__init__.py", "simulator/transports/live/_switch.py",
            "simulator/transports/live/_agent.py"} <= live
    tracked = {p.relative_to(ROOT).as_posix() for p in ROOT.glob("simulator/**/*.py")}
    assert tracked <= names | {n for n in tracked if not (tree / n).exists()}


def test_vossim_live_without_the_live_extra_says_what_to_install() -> None:
    # As if sippy (the only package of the live extra) were not installed.
    missing = "sippy"
    done = _fresh(f"import sys; sys.modules[{missing!r}] = None\n"
                  "from simulator.cli import main\n"
                  "sys.exit(main(['live', 'scenarios/decision-table/21-caller-bye.yaml', "
                  "'--port', '0']))\n")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "pip install 'vossim[live]'" in lines[0] and missing in lines[0]


def test_the_readme_links_the_contract_in_the_repository() -> None:
    import re

    readme = (ROOT / "README.md").read_text()
    assert "../shared" not in readme and "shared/spec" not in readme
    links = set(re.findall(r"\]\((docs/[^)#]+)\)", readme))
    wanted = {"docs/scenario-reference.md", "docs/decision-table.md", "docs/money.md",
              "docs/cdr-formats.md"}
    assert wanted <= links
    for link in links:
        assert (ROOT / link).is_file(), link
    # the front door links the architecture, whose layout names the packages that exist
    assert "docs/architecture.md" in links
    architecture = (ROOT / "docs" / "architecture.md").read_text()
    for package in ("simulator/core", "simulator/scenario", "simulator/traffic",
                    "simulator/transports", "simulator/run", "simulator/explain",
                    "simulator/analyze", "simulator/audit", "cdr_writer"):
        assert (ROOT / package / "__init__.py").is_file()
        assert package.split("/")[-1] in architecture, package
    decisions = (ROOT / "docs" / "decision-table.md").read_text()
    assert all(f"| {row} |" in decisions for row in range(1, 29))
