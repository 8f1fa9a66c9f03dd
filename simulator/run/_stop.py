"""A stop asked by a signal (SIGTERM, Ctrl-C), kept until the run takes it.

The signal handler raises its exception at once, in whatever code is running. That code may lose
it: a C extension may clear it (numpy's random module does, when the handler lands in its
lazy import while the first traffic block is drawn), and a finalizer only reports it. So the
request is also kept here, and a run raises it again after its next CDR, where it is always
taken: the run then stops and cleans up as if the first raise had reached it.

A realtime run writes its files in place and reports how many records they hold when stopped,
so a stop must not land between a record's writes and its count: while it writes one
(``hold`` … ``release``) the handler only keeps the stop, and ``release`` raises it.
"""

from __future__ import annotations

# One list, tested once per CDR: empty is the whole cost of the check.
requests: list[KeyboardInterrupt] = []
_held: list[bool] = []


def signalled(stop: KeyboardInterrupt) -> None:
    """What a signal handler does: keep ``stop``, and raise it unless a record is going out."""
    requests.append(stop)
    if not _held:
        raise stop


def taken() -> None:
    """The stop reached the code that handles it: nothing is left to raise again."""
    requests.clear()


def raise_requested() -> None:
    """Raise the stop a signal asked for, if one is waiting."""
    if requests:
        stop = requests[-1]
        raise type(stop)(*stop.args)


def hold() -> None:
    """A record is going out: a stop that comes now waits for ``release``."""
    _held.append(True)


def release() -> None:
    """The record is out (and counted): raise a stop that came meanwhile."""
    _held.pop()
    if requests and not _held:
        raise_requested()
