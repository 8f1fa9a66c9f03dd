"""The compiled core (``simulator._core_choice``): built here as ``pip install .`` builds it (the
wheel's install step, ``simulator._build_hook``), with mypyc, from the very sources the rest of
the suite runs as Python. An installed copy runs it by default; it must be what runs under
``VOSSIM_CORE=compiled`` and give the same bytes: every digest of the scenario library (the
sharded run's spawned workers included) and the core's own tests (the planner against the
full machine of ``tests/test_eager.py``, every decision row, record field and outcome). A
build that does not match the sources or this Python is refused with what to do, never
used."""

from __future__ import annotations

import importlib.machinery
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator import _core_choice as choice

ROOT = Path(__file__).resolve().parent.parent
SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def _env(directory: Path, core: str = "compiled") -> dict[str, str]:
    return {**os.environ, "VOSSIM_CORE": core, "VOSSIM_COMPILED_DIR": str(directory),
            "PYTHONPATH": str(ROOT)}


def _python(directory: Path, *args: str, core: str = "compiled",
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=_env(directory, core),
                          capture_output=True, text=True, timeout=timeout)


def _source_tree(into: Path) -> Path:
    """What ``pip install .`` reads of the checkout, copied (the build writes beside it)."""
    into.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, into / name)
    for package in ("simulator", "cdr_writer"):
        shutil.copytree(ROOT / package, into / package,
                        ignore=shutil.ignore_patterns("__pycache__", "_compiled_core"))
    return into


def _wheel(tmp: Path, **env: str) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """Build the project's wheel as pip does for ``pip install .`` (without fetching the build
    requirements: this venv has them)."""
    source = _source_tree(tmp / "src")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps",
                           "--no-build-isolation", str(source), "-w", str(tmp / "wheel")],
                          cwd=tmp, env={**os.environ, "VOSSIM_CORE": "python", **env},
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (wheel,) = (tmp / "wheel").glob("vossim-*.whl")
    return wheel, done


def _install(wheel: Path, site: Path) -> Path:
    """``pip install`` of the wheel into a directory of its own (a site-packages)."""
    done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                           "--no-index", "--target", str(site), str(wheel)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return site


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site-packages holding the wheel ``pip install .`` builds here (a C compiler exists)."""
    tmp = tmp_path_factory.mktemp("install")
    wheel, done = _wheel(tmp)
    assert "WARNING" not in done.stdout + done.stderr
    assert f"-{sys.implementation.cache_tag.replace('cpython-', 'cp')}-" in wheel.name
    return _install(wheel, tmp / "site")


@pytest.fixture(scope="module")
def built(installed: Path) -> Iterator[Path]:
    """The compiled core the install made, as a build directory of its own."""
    yield installed / "simulator" / "_compiled_core"


def _status(site: Path, core: str | None) -> str:
    env = {k: v for k, v in os.environ.items()
           if k not in ("VOSSIM_CORE", "VOSSIM_COMPILED_DIR", "PYTHONPATH")}
    if core is not None:
        env["VOSSIM_CORE"] = core
    done = subprocess.run([sys.executable, "-c", "import simulator, simulator.core._state; "
                           "from simulator._core_choice import core_status; "
                           "print(simulator.__file__); print(core_status())"],
                          cwd=site, env={**env, "PYTHONPATH": str(site)}, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    where, status = done.stdout.splitlines()
    assert where.startswith(str(site))  # the installed copy, not the checkout
    return status


def test_an_installed_copy_runs_the_compiled_core_by_default(installed: Path) -> None:
    assert _status(installed, None) == \
        f"compiled ({installed / 'simulator' / '_compiled_core'})"
    assert _status(installed, "python") == "python (VOSSIM_CORE=python)"


def test_without_a_c_compiler_the_install_warns_once_and_the_pure_core_runs(
        tmp_path: Path) -> None:
    wheel, done = _wheel(tmp_path, CC="false")
    warnings = [line for line in (done.stdout + done.stderr).splitlines()
                if "vossim: WARNING: the compiled core was not built" in line]
    assert len(warnings) == 1, done.stdout[-2000:]
    assert "the C compiler 'false' failed" in warnings[0]
    assert "pure-Python core will run" in warnings[0]
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert [n for n in names if n.endswith("simulator/_compiled_core/NOT_BUILT")]
    assert not [n for n in names if n.endswith(SUFFIX)]
    site = _install(wheel, tmp_path / "site")
    assert _status(site, None) == ("python (the install could not compile it: the C compiler "
                                   "'false' failed (no output))")


def test_the_build_is_complete_and_names_its_sources(built: Path) -> None:
    manifest = json.loads((built / "manifest.json").read_text())
    assert manifest["suffix"] == SUFFIX
    assert set(manifest["sources"]) == set(choice.MODULES)
    for module in choice.MODULES:
        assert (built / manifest["files"][module]).is_file()
    assert not list(built.parent.glob(".compiling-*"))  # the work directory is gone


def test_the_compiled_core_is_what_runs(built: Path) -> None:
    probe = ("import simulator, simulator.core._state as s, simulator.core._record as r; "
             "from simulator._core_choice import core_in_use; "
             "print(simulator.CORE, core_in_use(), s.__file__, r.__file__)")
    done = _python(built, "-c", probe)
    assert done.returncode == 0, done.stderr
    core, in_use, state_file, record_file = done.stdout.split()
    assert (core, in_use) == ("compiled", "compiled")
    for file in (state_file, record_file):  # the record is compiled too (a native Cdr)
        assert file.startswith(str(built)) and file.endswith(SUFFIX)
    pure = _python(built, "-c", probe, core="python")
    assert pure.stdout.split()[:2] == ["python", "python"]


# Run a script only once the core it imported is known to be the compiled one: the pure core
# gives the same digests, so without this check these tests would pass on it as well.
_ON_COMPILED = ("import runpy, sys; from simulator._core_choice import core_in_use; "
                "assert core_in_use() == 'compiled', core_in_use(); ")


def test_compiled_output_is_byte_identical_to_the_digests(built: Path) -> None:
    done = _python(built, "-c", _ON_COMPILED + "sys.argv = sys.argv[1:]; "
                   "runpy.run_path(sys.argv[0], run_name='__main__')",
                   "bench/output_digests.py", "--check", "tests/data/output-digests.json")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert " 0 differences" in done.stdout


def test_the_core_tests_pass_on_the_compiled_core(built: Path) -> None:
    # Planned calls against the full machine: the profiles whose entries meet on the same
    # instants and take every branch, and the bench profile (the long wholesale day adds
    # minutes, not branches); the Calendar pops in simpy's order; every decision-table row,
    # recording switch and record field; outcomes, which a sharded run pickles (a compiled
    # frozen record once could not be unpickled, and the run waited for it for ever).
    done = _python(built, "-c", _ON_COMPILED + "import pytest; sys.exit(pytest.main(sys.argv[1:]))",
                   "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                   "-k", "not wholesale-day", "tests/test_eager.py",
                   "tests/test_simpy_contract.py", "tests/test_core_state.py",
                   "tests/test_decision_rows.py", "tests/test_recording.py",
                   "tests/test_cdr_path.py", "tests/test_outcome.py",
                   "tests/test_sink_output.py", timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout and "failed" not in done.stdout


def _fake_build(directory: Path, **changes: object) -> Path:
    """A manifest as a build writes it, with ``changes``, and empty module files."""
    files = {m: f"{m.replace('.', '/')}{SUFFIX}" for m in choice.MODULES}
    manifest = {"suffix": SUFFIX, "files": files,
                "sources": {m: choice.digest(choice.source_of(m))
                            for m in choice.MODULES}}
    manifest.update(changes)
    directory.mkdir(parents=True)
    for relative in files.values():
        (directory / relative).parent.mkdir(parents=True, exist_ok=True)
        (directory / relative).write_bytes(b"")
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


@pytest.mark.parametrize(("case", "message"), [
    ("none", "holds no compiled core (manifest.json not found)"),
    ("stale", "is older than simulator/core/_state.py: run `make compiled`"),
    ("other python", "is for 'cpython-399-x86_64-linux-gnu.so', not this Python"),
    ("unreadable", "cannot be read"),
    ("lists too little", "but simulator.core._plan is missing"),
])
def test_a_build_that_does_not_fit_is_refused_with_what_to_do(tmp_path: Path, case: str,
                                                              message: str) -> None:
    directory = tmp_path / "core"
    if case == "stale":
        sources = {m: choice.digest(choice.source_of(m)) for m in choice.MODULES}
        sources["simulator.core._state"] = "0" * 64
        _fake_build(directory, sources=sources)
    elif case == "other python":
        _fake_build(directory, suffix="cpython-399-x86_64-linux-gnu.so")
    elif case == "lists too little":
        _fake_build(directory)
        manifest = json.loads((directory / "manifest.json").read_text())
        del manifest["files"]["simulator.core._plan"]
        (directory / "manifest.json").write_text(json.dumps(manifest))
    elif case == "unreadable":
        _fake_build(directory)
        (directory / "manifest.json").write_text("{not json")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "run", "scenarios/demo.yaml",
                           "-o", str(out)], cwd=ROOT, env=_env(directory),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stderr.startswith("vossim: VOSSIM_CORE=compiled, but ")
    assert "Traceback" not in done.stderr
    assert not out.exists()  # nothing was run, nothing written


def test_an_unknown_core_choice_is_refused(tmp_path: Path) -> None:
    done = _python(tmp_path, "-m", "simulator.cli", "check", "scenarios/demo.yaml", core="fast")
    assert done.returncode == 2
    assert done.stderr == ("vossim: VOSSIM_CORE='fast': expected 'auto', 'python' or "
                           "'compiled'\n")

