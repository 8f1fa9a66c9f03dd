"""The compiled core: the pure core's own modules built with mypyc, chosen at import.

Why it exists
-------------
A load run spends most of its time in the core's Python: setup checks, planning, billing and
the CDR record of every call. mypyc compiles those same source files to C extension modules
(native classes, direct attribute slots, no bytecode dispatch); the run then makes the same
CDRs, byte for byte, a good deal faster. The source stays the one copy of the rules: nothing is
written for the compiled build alone, and the pure-Python core is the reference every test
runs on (the compiled one is checked against the same digests).

Where it comes from
-------------------
``pip install .`` compiles it into the package, ``simulator/_compiled_core`` (the install step
is ``simulator._build_hook``; without a C compiler it warns once and installs the pure core).
An editable install, and ``make compiled``, build it into the checkout's ``build/compiled``.

How it is chosen
----------------
``VOSSIM_CORE`` selects the core when ``simulator`` is first imported:

* unset or ``auto`` (the default): the compiled core when a build made from exactly the
  sources on disk and for this interpreter is found (``VOSSIM_COMPILED_DIR``, the installed
  package's build, then the checkout's), else the ``.py`` files. ``core_status()`` (what
  ``vossim --version`` prints) says which, and why not the compiled one;
* ``python``: the ``.py`` files, always;
* ``compiled``: the compiled core or nothing: a missing or stale build stops vossim with what
  to do, rather than quietly running the slower core.

A build is a directory of extension modules and ``manifest.json``: the sha256 of each source
it was compiled from, the interpreter's extension suffix and the name of mypyc's shared library
module. A finder at the front of ``sys.meta_path`` maps the compiled module names to their
files; every other module imports as usual.

The build itself is ``simulator._compiled`` (``python -m simulator._compiled build [DIR]``,
what ``make compiled`` runs; it needs mypy).
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = PACKAGE_ROOT / "build" / "compiled"  # a checkout's (make compiled, pip install -e)
INSTALLED_DIR = Path(__file__).resolve().parent / "_compiled_core"  # pip install .
MANIFEST = "manifest.json"

# The pure core, the part a load run spends its time in (see ``simulator/core/__init__``): the
# call's life, its record (``Cdr`` as a native class, filled and rendered without the
# interpreter) and the run's tally of records.
MODULES = ("simulator.core._reasons", "simulator.core._decisions", "simulator.core._config",
           "simulator.core._rating", "simulator.core._state", "simulator.core._plan",
           "simulator.core._calendar", "simulator.core._record", "simulator.core._cdr",
           "simulator.core._metrics")


class CompiledCoreError(RuntimeError):
    """The compiled core was asked for and cannot be used (missing, stale, other Python)."""


def source_of(module: str) -> Path:
    return PACKAGE_ROOT.joinpath(*module.split(".")).with_suffix(".py")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_dir() -> Path:
    return Path(os.environ.get("VOSSIM_COMPILED_DIR") or DEFAULT_DIR)


# -- choosing the core at import ----------------------------------------------------------------
class _CompiledFinder(importlib.abc.MetaPathFinder):
    """Finds the compiled modules of one build; leaves every other name to the usual finders."""

    def __init__(self, files: dict[str, Path]) -> None:
        self.files = files

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        file = self.files.get(name)
        if file is None:
            return None
        loader = importlib.machinery.ExtensionFileLoader(name, str(file))
        return importlib.util.spec_from_file_location(name, file, loader=loader)


def compiled_files(directory: Path) -> dict[str, Path]:
    """Module name -> extension file of the build in ``directory``, checked against the sources
    on disk and this interpreter; raises ``CompiledCoreError`` saying what is wrong."""
    manifest_path = directory / MANIFEST
    hint = "run `make compiled` (or VOSSIM_CORE=python for the pure-Python core)"
    try:
        manifest = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        raise CompiledCoreError(f"VOSSIM_CORE=compiled, but {directory} holds no compiled "
                                f"core ({MANIFEST} not found): {hint}") from None
    except (OSError, ValueError) as exc:
        raise CompiledCoreError(f"VOSSIM_CORE=compiled, but {manifest_path} cannot be read "
                                f"({exc}): {hint}") from None
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    if manifest.get("suffix") != suffix:
        raise CompiledCoreError(f"VOSSIM_CORE=compiled, but the build in {directory} is for "
                                f"{manifest.get('suffix')!r}, not this Python ({suffix}): {hint}")
    sources = manifest.get("sources", {})
    stale = [m for m in MODULES if sources.get(m) != digest(source_of(m))]
    if stale:
        raise CompiledCoreError(f"VOSSIM_CORE=compiled, but the build in {directory} is older "
                                f"than {source_of(stale[0]).relative_to(PACKAGE_ROOT)}"
                                f"{f' and {len(stale) - 1} more' if len(stale) > 1 else ''}: "
                                f"{hint}")
    listed = manifest.get("files", {})
    files = {name: directory / relative for name, relative in listed.items()}
    missing = [m for m in MODULES if m not in files]  # a manifest that lists too little
    missing += [str(f) for f in files.values() if not f.is_file()]
    if missing:
        raise CompiledCoreError(f"VOSSIM_CORE=compiled, but {missing[0]} is missing: {hint}")
    return files


_status = "python (VOSSIM_CORE=python)"


def _candidates() -> list[Path]:
    explicit = os.environ.get("VOSSIM_COMPILED_DIR")
    return [Path(explicit)] if explicit else [INSTALLED_DIR, DEFAULT_DIR]


def select_core() -> str:
    """Put the compiled core in place when one is chosen (see above); returns the core in use."""
    global _status
    choice = os.environ.get("VOSSIM_CORE", "auto").strip().lower() or "auto"
    if choice == "python":
        _status = "python (VOSSIM_CORE=python)"
        return "python"
    if choice not in ("auto", "compiled"):
        raise CompiledCoreError(f"VOSSIM_CORE={choice!r}: expected 'auto', 'python' or "
                                "'compiled'")
    if any(isinstance(f, _CompiledFinder) for f in sys.meta_path):
        return "compiled"
    loaded = [m for m in MODULES if m in sys.modules]
    if loaded:  # a module already imported as Python would mix two copies of the classes
        if choice == "auto":
            _status = f"python ({loaded[0]} was imported before the compiled core was chosen)"
            return "python"
        raise CompiledCoreError(f"VOSSIM_CORE=compiled, but {loaded[0]} was imported first")
    if choice == "compiled":
        directory = build_dir()
        files = compiled_files(directory)
    else:
        files, reasons = {}, []
        for directory in _candidates():
            if not (directory / MANIFEST).exists():
                continue
            try:
                files = compiled_files(directory)
                break
            except CompiledCoreError as exc:
                reasons.append(str(exc).replace("VOSSIM_CORE=compiled, but ", ""))
        if not files:
            not_built = INSTALLED_DIR / "NOT_BUILT"  # written by the install (_build_hook)
            if not reasons and not_built.is_file():
                reasons.append("the install could not compile it: "
                               + not_built.read_text(encoding="utf-8").strip())
            why = reasons[0] if reasons else "no compiled build here: `make compiled`, or " \
                "reinstall with a C compiler"
            _status = f"python ({why})"
            return "python"
    sys.meta_path.insert(0, _CompiledFinder(files))
    _status = f"compiled ({directory})"
    return "compiled"


def core_status() -> str:
    """Which core runs, and where it came from or why the compiled one does not."""
    return _status if core_in_use() == _status.split(" ", 1)[0] else core_in_use()


def core_in_use() -> str:
    """``compiled`` when the call state machine runs from an extension module, else ``python``."""
    from simulator.core import _state

    return "python" if (_state.__file__ or "").endswith(".py") else "compiled"
