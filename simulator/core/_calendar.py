"""The batch clock: a calendar of entries popped in simpy's order, with the hot loop in the core.

Theory of operation
-------------------
A batch run (no ``--realtime``) needs nothing of a discrete-event library but its queue: entries
``(time, priority, insertion number, target)`` popped smallest first, ``now`` set to the popped
entry's time. simpy's ``Environment`` keeps exactly such a heap, but its loop (``step``), the
``schedule`` it is fed through and the callbacks it calls are interpreted Python, one round trip
per clock event; on a load run that was a fifth of the time. ``Calendar`` keeps the same heap
with the same keys, so it pops entries in the very order simpy would (``tests/test_simpy_contract
.py`` runs both side by side), and compiles with the rest of the core.

Three kinds of target sit on it:

* a ``PlannedCall`` (generated traffic, see ``_plan``): woken in the loop itself, ``wake(now)``,
  and put back at the instant it returns, with no callback in between;
* the next call attempt, held aside rather than pushed (``pending``): its key is reserved when
  the previous attempt arrives, as pushing it then would, so it is taken when its key is the
  smallest. A planned script becomes a ``PlannedCall`` here; any other goes to ``arrive``;
* anything else with ``callbacks`` (simpy's protocol: a list of functions of the target), such as
  a full ``Call``'s wake-up or ``call_at``'s timers.

Every key is computed as simpy computes it (``now + delay``, ``delay`` clamped at 0), so a float
time lands on the same bits either way and the CDRs stay byte-identical. A realtime run keeps
simpy's ``RealtimeEnvironment``, which paces the same order against the wall clock.
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Callable, Iterator
from heapq import heappop, heappush
from typing import Any, Final

from simulator.core._plan import PlannedCall, Script
from simulator.core._state import Switch

NORMAL: Final = 1  # simpy's priority of an ordinary event: keys compare with simpy's own
_FAR: Final = 1e15  # seconds: times beyond it (never, in practice) share one bucket at each end
_FAR_BUCKET: Final = 10**15


class _Timer:
    """A function to call with ``arg`` at a time (``Calendar.call_at``)."""

    __slots__ = ("arg", "function")

    def __init__(self, function: Callable[[Any], None], arg: Any) -> None:
        self.function = function
        self.arg = arg


class Calendar:
    """The queue of a batch run (see the module's docstring); ``_now`` and
    ``schedule(target, priority, delay)`` are named as simpy's ``Environment`` names them.

    The entries are kept in one-second buckets: the current one a sorted list read from
    ``_pos`` on (an entry due within it is inserted in place), the later ones unsorted lists
    sorted once when the clock reaches them. A call in progress makes about one entry, so a
    heap's sift over every call in progress costs more than sorting a second's entries.
    """

    def __init__(self) -> None:
        self._now = 0.0
        self._current: list[Any] = []  # the current bucket's entries, sorted; read from _pos
        self._pos = 0
        self._bucket = 0  # the current bucket's number: int(time)
        self._later: dict[int, list[Any]] = {}  # later buckets' entries, unsorted
        self._buckets: list[int] = []  # a heap of the later buckets' numbers
        self._eid = 0
        self.popped = 0  # clock events taken, arrivals included (what a run's cost is counted in)
        self.arrived = 0  # call attempts taken
        self._arrivals: Iterator[Script] | None = None
        self._pending: Script | None = None
        self._pending_at = 0.0
        self._pending_eid = 0

    @property
    def now(self) -> float:
        return self._now

    def reserve(self) -> int:
        """The next insertion number, as ``schedule`` would take it."""
        eid = self._eid
        self._eid = eid + 1
        return eid

    def schedule(self, target: Any, priority: int = NORMAL, delay: float = 0.0) -> None:
        eid = self._eid
        self._eid = eid + 1
        self._push((self._now + delay, priority, eid, target))

    def _push(self, entry: tuple[float, int, int, Any]) -> None:
        at = entry[0]
        bucket = int(at) if -_FAR < at < _FAR else (_FAR_BUCKET if at > 0 else -_FAR_BUCKET)
        if bucket <= self._bucket:
            insort(self._current, entry, self._pos)
            return
        later = self._later.get(bucket)
        if later is None:
            self._later[bucket] = [entry]
            heappush(self._buckets, bucket)
        else:
            later.append(entry)

    def _head(self) -> tuple[float, int, int, Any] | None:
        """The next entry, left in place (None: the queue is empty)."""
        while self._pos >= len(self._current):
            if not self._buckets:
                return None
            bucket = heappop(self._buckets)
            entries = self._later.pop(bucket)
            entries.sort()
            self._bucket = bucket
            self._current = entries
            self._pos = 0
        head: tuple[float, int, int, Any] = self._current[self._pos]
        return head

    def call_at(self, at: float, function: Callable[[Any], None], arg: Any) -> None:
        delay = at - self._now
        self.schedule(_Timer(function, arg), NORMAL, delay if delay > 0 else 0.0)

    def _next_arrival(self) -> None:
        script = next(self._arrivals, None) if self._arrivals is not None else None
        self._pending = script
        if script is not None:
            delay: float = script.at - self._now
            self._pending_at = self._now + (delay if delay > 0 else 0.0)
            self._pending_eid = self.reserve()

    def run(self, arrivals: Iterator[Script] | None, switch: Switch | None, planned: bool,
            arrive: Callable[[Script, int], None]) -> None:
        """Run until nothing is left: the call attempts of ``arrivals`` (in time order) as they
        come, and every entry on the queue. ``planned``: generated scripts run as
        ``PlannedCall``s on ``switch``; every other attempt goes to ``arrive(script, index)``."""
        self._arrivals = arrivals
        self._next_arrival()
        while True:
            head = self._head()
            script = self._pending
            if script is not None:
                at = self._pending_at
                if head is None:
                    first = True
                else:
                    head_at = head[0]
                    first = at < head_at or (at == head_at and (
                        head[1] > NORMAL or (head[1] == NORMAL
                                             and self._pending_eid < head[2])))
                if first:
                    self._now = at
                    self.popped += 1
                    self._take(script, switch, planned, arrive)
                    continue
            elif head is None:
                return
            assert head is not None
            self._current[self._pos] = None  # nothing read before _pos: let it go
            self._pos += 1
            now = head[0]
            self._now = now
            self.popped += 1
            target = head[3]
            if isinstance(target, PlannedCall):
                wake = target.wake(now)
                if wake is not None:
                    delay = wake - now
                    eid = self._eid
                    self._eid = eid + 1
                    self._push((now + (delay if delay > 0 else 0.0), NORMAL, eid, target))
            elif isinstance(target, _Timer):
                target.function(target.arg)
            else:
                callbacks = target.callbacks
                target.callbacks = None
                for callback in callbacks:
                    callback(target)

    def _take(self, script: Script, switch: Switch | None, planned: bool,
              arrive: Callable[[Script, int], None]) -> None:
        """A call attempt arrives: the next one is reserved first, as the transport did."""
        self._next_arrival()
        index = self.arrived
        self.arrived = index + 1
        if planned and script.generated and switch is not None:
            call = PlannedCall(switch, script, index)
            wake = call.begin()
            if wake is not None:
                delay = wake - self._now
                self.schedule(call, NORMAL, delay if delay > 0 else 0.0)
        else:
            arrive(script, index)
