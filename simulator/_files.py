"""Input files are regular files: what a command is given to read is looked at before it is opened.

Opening a named pipe (FIFO) that no one writes to blocks until someone does, for ever; a
character device such as /dev/zero never ends; a socket cannot be opened at all. So every
command that reads a scenario or a CDR file refuses anything else first, in one line naming the
file and what it is. Standard library only: the scenario loader and the CDR readers both use it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def special_kind(path: str | Path) -> str | None:
    """What ``path`` is when it exists and is not a regular file ("a named pipe (FIFO)", "a
    directory" ...); None for a regular file, or for nothing there (the opener says so).
    Symbolic links are followed: a link to a regular file is one."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):  # no such file, a name too long, a NUL byte: not ours to say
        return None
    return None if stat.S_ISREG(mode) else _kind(mode)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def exists(path: str | Path) -> bool:
    """Something is at ``path`` (a file of any kind), without raising for text that cannot be a
    path (a CDR row given on the command line can be longer than a file name may be)."""
    try:
        os.stat(path)
    except (OSError, ValueError):
        return False
    return True


def read_regular(path: str | Path) -> bytes:
    """The bytes of a regular file. ``NotRegularFile`` for anything else, without blocking: the
    file is opened non-blocking and looked at through its descriptor, so a FIFO put in its place
    after a check is refused all the same."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        mode = os.fstat(descriptor).st_mode
    except OSError:
        os.close(descriptor)
        raise
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        raise NotRegularFile(_kind(mode))
    with os.fdopen(descriptor, "rb") as handle:
        return handle.read()


class NotRegularFile(OSError):
    """``read_regular`` was given something other than a regular file; the message says what."""
