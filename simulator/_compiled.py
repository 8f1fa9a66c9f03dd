"""Building the optional compiled core (see ``simulator._core_choice`` for what it is and how a
run picks it): ``python -m simulator._compiled build [DIR]``, what ``make compiled`` runs.

mypyc compiles ``MODULES`` from the sources on disk into C extension modules, built beside the
target directory and moved into place only once complete, with the manifest a run checks them
against.
"""

from __future__ import annotations

import importlib.machinery
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from simulator._core_choice import (
    MANIFEST,
    MODULES,
    PACKAGE_ROOT,
    CompiledCoreError,
    build_dir,
    digest,
    source_of,
)

# The core is annotated for readers, not checked by mypy in strict terms (optional attributes
# are read where the state machine knows them set). mypyc compiles it as written; each
# annotation it relies on is checked at run time, and the digest and planner tests run on it.
_MYPY_CONFIG = """[mypy]
ignore_errors = True
ignore_missing_imports = True
follow_imports = silent
"""


def build(directory: Path | None = None) -> Path:
    """Compile ``MODULES`` with mypyc into ``directory`` (default ``build_dir()``), whole or not
    at all: the build is made beside it and moved into place only once it is complete."""
    try:
        from mypyc.build import mypycify
        from setuptools import Distribution
        from setuptools.errors import BaseError, CCompilerError
    except ImportError as exc:
        raise CompiledCoreError(f"building the compiled core needs mypy and setuptools "
                                f"({exc.name} is missing): pip install 'vossim[compiled]'"
                                ) from None
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    target = (directory or build_dir()).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    sources = {m: digest(source_of(m)) for m in MODULES}
    work = Path(tempfile.mkdtemp(prefix=".compiling-", dir=target.parent))
    lib = work / "lib"
    here = Path.cwd()
    try:
        config = work / "mypy.ini"
        config.write_text(_MYPY_CONFIG)
        # mypyc names the modules by their paths from the working directory, and mypy reads
        # every module it finds there: a copy of the core alone, not the checkout or the
        # site-packages the package may be installed in.
        tree = work / "src"
        shutil.copytree(source_of("simulator.core.__init__").parent, tree / "simulator" / "core",
                        ignore=shutil.ignore_patterns("__pycache__"))
        (tree / "simulator" / "__init__.py").write_text("")
        os.chdir(tree)
        paths = [str(source_of(m).relative_to(PACKAGE_ROOT)) for m in MODULES]
        try:
            extensions = mypycify(["--config-file", str(config), *paths],
                                  target_dir=str(work / "c"))
            distribution = Distribution({"name": "vossim-compiled-core",
                                         "ext_modules": extensions})
            command = distribution.get_command_obj("build_ext")
            command.build_lib = str(lib)
            command.build_temp = str(work / "tmp")
            command.ensure_finalized()
            command.run()
        except SystemExit:  # mypy has printed why
            raise CompiledCoreError("mypyc could not compile the core (see above)") from None
        except (BaseError, CCompilerError) as exc:  # no C compiler, no Python headers, …
            raise CompiledCoreError(f"building the compiled core failed: {exc} (it needs gcc "
                                    "and the Python headers)") from None
        files = {path.relative_to(lib).as_posix()[:-len(suffix)].replace("/", "."):
                 path.relative_to(lib).as_posix() for path in sorted(lib.rglob(f"*{suffix}"))}
        missing = [m for m in MODULES if m not in files]
        if missing:
            raise CompiledCoreError(f"mypyc made no module for {missing[0]}")
        (lib / MANIFEST).write_text(json.dumps({"suffix": suffix, "sources": sources,
                                                "files": files}, indent=1, sort_keys=True)
                                    + "\n")
        old = target.with_name(target.name + ".old")
        shutil.rmtree(old, ignore_errors=True)  # left by a build that was stopped midway
        if target.exists():
            target.rename(old)
        lib.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        os.chdir(here)
        shutil.rmtree(work, ignore_errors=True)
    return target


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "build" or len(args) > 2:
        print("usage: python -m simulator._compiled build [DIR]", file=sys.stderr)
        return 2
    try:
        target = build(Path(args[1]) if len(args) == 2 else None)
    except CompiledCoreError as exc:
        print(f"vossim: {exc}", file=sys.stderr)
        return 1
    print(f"compiled core built in {target}; use it with VOSSIM_CORE=compiled")
    return 0


if __name__ == "__main__":
    sys.exit(main())
