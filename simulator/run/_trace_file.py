"""Where ``--trace`` goes: a file written whole or not at all, a stream, or standard output.

A regular file (or a name that does not exist yet) is staged beside its final place under a
pid-marked hidden name and renamed over it when the run succeeds; a symlink is written through
(its target is replaced, the link stays). Anything that is not a regular file (``/dev/stdout``,
``/dev/null``, a fifo) is written in place and never replaced, and ``-`` is standard output.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from pathlib import Path
from typing import IO

from cdr_writer import remove_stale_staging, staged_name


def is_stdout(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is ``-`` or names the very file standard output writes to."""
    if str(path) == "-":
        return True
    try:
        return os.path.samestat(os.stat(path), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError, AttributeError):
        return False


class TraceFile:
    """One run's trace output; ``commit()`` once the run succeeded, else ``abort()``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.staged: Path | None = None
        self.target: Path | None = None
        self.owned = True
        if is_stdout(path):
            self.handle: IO[str] = sys.stdout
            self.owned = False
            return
        try:
            mode = os.stat(self.path).st_mode
        except FileNotFoundError:
            mode = None
        if mode is not None and stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "it is a directory", str(path))
        if mode is not None and not stat.S_ISREG(mode):
            self.handle = self.path.open("w", encoding="utf-8")  # a device or fifo: a stream
            return
        self.target = Path(os.path.realpath(self.path)) if self.path.is_symlink() else self.path
        remove_stale_staging(self.target.parent)
        self.staged = self.target.parent / staged_name(self.target.name)
        try:
            self.handle = self.staged.open("w", encoding="utf-8")
        except OSError as exc:  # name the file the user asked for, not the staging name
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        except BaseException:  # a stop as the file was made: it was made for nothing
            self.staged.unlink(missing_ok=True)
            raise

    @staticmethod
    def discard_staged(path: str | os.PathLike[str]) -> None:
        """Remove this process's staged trace for ``path`` (its ``TraceFile`` was never made:
        a stop came as it was)."""
        with contextlib.suppress(OSError, ValueError):
            target = Path(path)
            target = Path(os.path.realpath(target)) if target.is_symlink() else target
            (target.parent / staged_name(target.name)).unlink(missing_ok=True)

    def commit(self) -> Path | None:
        """Put the trace in place; the path to list as written (None for standard output)."""
        if not self.owned:
            self.handle.flush()
            return None
        self.handle.close()
        if self.staged is not None and self.target is not None:
            os.replace(self.staged, self.target)
        return self.path

    def abort(self) -> None:
        if not self.owned:
            self.handle.flush()
            return
        self.handle.close()
        if self.staged is not None:
            self.staged.unlink(missing_ok=True)
