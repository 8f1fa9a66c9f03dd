"""The optional compiled core: the pure core's own modules built with mypyc, chosen at import.

Why it exists
-------------
A load run spends most of its time in the core's Python: setup checks, planning, billing and
the CDR record of every call. mypyc compiles those same source files to C extension modules
(native classes, direct attribute slots, no bytecode dispatch); the run then makes the same
CDRs, byte for byte, a good deal faster. The source stays the one copy of the rules: nothing is
written for the compiled build alone, and the pure-Python core is what every test runs on.

How it is chosen
----------------
``VOSSIM_CORE`` selects the core when ``simulator`` is first imported:

* ``python`` (the default): the ``.py`` files, always;
* ``compiled``: the build in ``VOSSIM_COMPILED_DIR`` (default ``build/compiled`` of the
  checkout, made by ``make compiled``). It must have been built from exactly the sources on
  disk and for this interpreter; otherwise vossim stops with what to do rather than run a
  stale build or quietly fall back to the slower core.

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
DEFAULT_DIR = PACKAGE_ROOT / "build" / "compiled"
MANIFEST = "manifest.json"

# The pure core, the part a load run spends its time in (see ``simulator/core/__init__``).
# ``_record`` (the ``Cdr``) stays Python: the sinks and tests build and read records as plain
# slotted objects, and ``_cdr`` fills one slot by slot from ``object.__new__``.
MODULES = ("simulator.core._reasons", "simulator.core._decisions", "simulator.core._config",
           "simulator.core._rating", "simulator.core._state", "simulator.core._plan",
           "simulator.core._cdr")


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
    hint = "run `make compiled` (or unset VOSSIM_CORE for the pure-Python core)"
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


def select_core() -> str:
    """Put the compiled core in place when ``VOSSIM_CORE=compiled``; returns the core in use."""
    choice = os.environ.get("VOSSIM_CORE", "python").strip().lower() or "python"
    if choice == "python":
        return "python"
    if choice != "compiled":
        raise CompiledCoreError(f"VOSSIM_CORE={choice!r}: expected 'python' or 'compiled'")
    if any(isinstance(f, _CompiledFinder) for f in sys.meta_path):
        return "compiled"
    loaded = [m for m in MODULES if m in sys.modules]
    if loaded:  # a module already imported as Python would mix two copies of the classes
        raise CompiledCoreError(f"VOSSIM_CORE=compiled, but {loaded[0]} was imported first")
    sys.meta_path.insert(0, _CompiledFinder(compiled_files(build_dir())))
    return "compiled"


def core_in_use() -> str:
    """``compiled`` when the call state machine runs from an extension module, else ``python``."""
    from simulator.core import _state

    return "python" if (_state.__file__ or "").endswith(".py") else "compiled"
