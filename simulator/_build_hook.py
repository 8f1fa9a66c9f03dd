"""The install step that compiles the core: ``pip install .`` builds it, as black and mypy ship.

setuptools runs ``BuildPyWithCompiledCore`` in place of its ``build_py`` (``pyproject.toml``,
``[tool.setuptools.cmdclass]``). After copying the package it compiles ``simulator/core`` with
mypyc (``simulator._compiled``) into the package itself, ``simulator/_compiled_core/``, which a
run then picks up by default (``simulator._core_choice``). An editable install
(``pip install -e .``, what ``make`` does) compiles into the checkout's ``build/compiled``
instead, where a run looks too; once a source of the core is edited that build is stale and the
pure core runs until ``make compiled``.

Nothing here can fail an install: without a C compiler (or with ``CC=false``), without the
Python headers or without mypy, one warning line says the pure-Python core will run, and the
install goes on. ``VOSSIM_NO_COMPILE=1`` skips the step on purpose.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py

INSTALLED_DIR = "_compiled_core"  # inside the ``simulator`` package
NOT_BUILT = "NOT_BUILT"  # in its place when the install could not compile it: why not


def c_compiler_works() -> str | None:
    """None when the C compiler a build would use compiles a file, else why not (quickly, so
    that a machine without one is told at once instead of after mypy's pass)."""
    compiler = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    include = sysconfig.get_paths()["include"]
    with tempfile.TemporaryDirectory(prefix="vossim-cc-") as work:
        source = Path(work, "probe.c")
        source.write_text("#include <Python.h>\nint probe(void) { return 0; }\n")
        try:
            done = subprocess.run([*compiler.split(), "-I", include, "-c", str(source), "-o",
                                   str(Path(work, "probe.o"))], capture_output=True, text=True,
                                  timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"the C compiler {compiler!r} cannot run ({exc})"
        if done.returncode != 0:
            why = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return f"the C compiler {compiler!r} failed ({why})"
    return None


def compile_core(target: Path) -> str | None:
    """Build the compiled core into ``target``; None when it was built, else why not."""
    if os.environ.get("VOSSIM_NO_COMPILE"):
        return "VOSSIM_NO_COMPILE is set"
    problem = c_compiler_works()
    if problem:
        return problem
    from simulator._compiled import build
    from simulator._core_choice import CompiledCoreError

    try:
        build(target)
    except CompiledCoreError as exc:
        return str(exc)
    return None


def warn(why: str) -> None:
    sys.stderr.write(f"vossim: WARNING: the compiled core was not built ({why}); the "
                     "pure-Python core will run. Install gcc and the Python headers, then "
                     "reinstall, or run `make compiled` in a checkout.\n")


class BuildPyWithCompiledCore(build_py):
    """``build_py``, then the compiled core into the built package (or the checkout's build)."""

    def run(self) -> None:
        super().run()
        root = Path(__file__).resolve().parent.parent
        os.environ["VOSSIM_CORE"] = "python"  # the build imports the package: never a build
        if sys.path[0] != str(root):  # the package being built, not an installed copy
            sys.path.insert(0, str(root))
        if getattr(self, "editable_mode", False):
            from simulator._core_choice import DEFAULT_DIR

            target = DEFAULT_DIR
        else:
            target = Path(self.build_lib) / "simulator" / INSTALLED_DIR
            shutil.rmtree(target, ignore_errors=True)
        why = compile_core(target)
        if why is not None:
            warn(why)
            if not getattr(self, "editable_mode", False):  # kept for `vossim --version`
                target.mkdir(parents=True, exist_ok=True)
                (target / NOT_BUILT).write_text(why + "\n", encoding="utf-8")


class BdistWheelForThisPython(bdist_wheel):
    """The wheel carries extension modules for this interpreter: tag it so (cp311-…), not
    py3-none-any, whether or not this machine could compile them."""

    def finalize_options(self) -> None:
        # as a distribution with extension modules: platform tags, the package at the root
        self.distribution.has_ext_modules = lambda: True  # type: ignore[method-assign]
        super().finalize_options()
