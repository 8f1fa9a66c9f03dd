"""A stop asked by a signal (SIGTERM, Ctrl-C), kept until the run takes it.

The signal handler raises its exception at once, in whatever code is running. That code may lose
it: a C extension may clear it (numpy's random module does, when the handler lands in its
lazy import while the first traffic block is drawn), and a finalizer only reports it. So the
request is also kept here, and a run raises it again after its next CDR, where it is always
taken: the run then stops and cleans up as if the first raise had reached it.
"""

from __future__ import annotations

# One list, tested once per CDR: empty is the whole cost of the check.
requests: list[KeyboardInterrupt] = []


def request(stop: KeyboardInterrupt) -> KeyboardInterrupt:
    """Keep ``stop`` until it is taken; returns it, for the handler to raise."""
    requests.append(stop)
    return stop


def taken() -> None:
    """The stop reached the code that handles it: nothing is left to raise again."""
    requests.clear()


def raise_requested() -> None:
    """Raise the stop a signal asked for, if one is waiting."""
    if requests:
        stop = requests[-1]
        raise type(stop)(*stop.args)
