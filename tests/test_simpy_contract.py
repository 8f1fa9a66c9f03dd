"""The simpy internals the simulated transport relies on, checked on the installed simpy.

``simulator/transports/_simulated.py`` is the hot loop of every run: to save an ``Event`` and a
closure per wake-up it reads ``Environment._now``, sets ``Event._ok``/``_value``, schedules its
own reusable objects (``_Wakeup``: just ``callbacks`` and ``_ok``) with ``Environment.schedule``,
and for a warm-up steps a ``RealtimeEnvironment`` by hand and moves ``env_start`` before
``sync()``. None of that is simpy's public API, so pyproject pins simpy to the range tested here
(``simpy>=4.1,<4.2``); a simpy outside it, or one where these no longer behave, fails here
first, not as wrong CDRs.
"""

from __future__ import annotations

import time
from importlib.metadata import version
from pathlib import Path

import simpy

from simulator.transports._simulated import _SimpyClock, _Wakeup

ROOT = Path(__file__).resolve().parent.parent


def test_the_installed_simpy_is_in_the_pinned_range() -> None:
    pinned = next(line for line in (ROOT / "pyproject.toml").read_text().splitlines()
                  if line.strip().startswith('"simpy'))
    assert ">=4.1,<4.2" in pinned
    major, minor = (int(part) for part in version("simpy").split(".")[:2])
    assert (major, minor) == (4, 1)


def test_now_and_bare_events_run_in_time_then_insertion_order() -> None:
    clock = _SimpyClock()
    seen: list[tuple[float, str]] = []
    for at, name in ((2.0, "b"), (1.0, "a"), (2.0, "c"), (0.0, "zero")):
        clock.call_at(at, lambda arg: seen.append((clock.now, arg)), name)
    clock.run()
    assert seen == [(0.0, "zero"), (1.0, "a"), (2.0, "b"), (2.0, "c")]
    assert clock.env._now == clock.env.now == 2.0


def test_a_reused_object_with_only_callbacks_and_ok_is_popped_like_an_event() -> None:
    env = simpy.Environment()
    woken: list[float] = []

    class Call:  # what _Wakeup.call holds, for the test
        pass

    wakeup = _Wakeup(Call(), eager=False)  # type: ignore[arg-type]

    def again(_: object) -> None:
        woken.append(env._now)
        if len(woken) < 3:
            wakeup.callbacks = [again]
            env.schedule(wakeup, simpy.events.NORMAL, 1.5)  # type: ignore[arg-type]

    wakeup.callbacks = [again]
    env.schedule(wakeup, simpy.events.NORMAL, 1.0)  # type: ignore[arg-type]
    env.run()
    assert woken == [1.0, 2.5, 4.0]
    assert wakeup.callbacks is None  # simpy took them, as it does from an Event


def test_a_realtime_clock_runs_a_warm_up_unpaced_then_paces_from_there() -> None:
    clock = _SimpyClock(speed=100.0)  # 100 simulated seconds a wall second
    seen: list[float] = []
    for at in (0.0, 50.0, 100.0, 101.0):
        clock.call_at(at, seen.append, at)
    began = time.monotonic()
    clock.run(unpaced_until=100.0)
    elapsed = time.monotonic() - began
    assert seen == [0.0, 50.0, 100.0, 101.0]
    # the first 100 s are not paced (1 s of wall time if they were); 100 -> 101 takes 10 ms
    assert 0.005 <= elapsed < 0.5


def test_the_queue_holds_time_priority_insertion_number_and_event() -> None:
    """``Simulation._arrive_inline`` reserves an insertion number with ``next(env._eid)``,
    compares ``(time, NORMAL, number)`` with the head of ``env._queue``, pushes its own entry
    there and moves ``env._now``: exactly what ``schedule`` and ``step`` do with them."""
    import heapq

    env = simpy.Environment()
    seen: list[tuple[float, str]] = []

    class Bare:
        _ok = True

        def __init__(self, name: str) -> None:
            self.callbacks = [lambda _: seen.append((env._now, name))]

    env.schedule(Bare("scheduled"), simpy.events.NORMAL, 2.0)  # type: ignore[arg-type]
    head = env._queue[0]
    assert head[:2] == (2.0, simpy.events.NORMAL) and isinstance(head[2], int)
    reserved = next(env._eid)
    assert reserved > head[2]
    assert (2.0, simpy.events.NORMAL, reserved) > head[:3]  # a tie goes to the earlier one
    heapq.heappush(env._queue, (2.0, simpy.events.NORMAL, reserved, Bare("pushed")))
    env.schedule(Bare("later"), simpy.events.NORMAL, 2.0)  # type: ignore[arg-type]
    env.run()
    assert seen == [(2.0, "scheduled"), (2.0, "pushed"), (2.0, "later")]
    env._now = 5.0
    assert env.now == 5.0
