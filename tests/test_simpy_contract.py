"""The simpy internals the simulated transport relies on, checked on the installed simpy.

``simulator/transports/_simulated.py`` drives a realtime run on simpy: to save an ``Event`` and
a closure per wake-up it reads ``Environment._now``, sets ``Event._ok``/``_value``, schedules its
own reusable objects (``_Wakeup``: just ``callbacks`` and ``_ok``) with ``Environment.schedule``,
and for a warm-up steps a ``RealtimeEnvironment`` by hand and moves ``env_start`` before
``sync()``. A batch run uses the core's ``Calendar``, which must pop in simpy's order: the two
are run side by side here. None of that is simpy's public API, so pyproject pins simpy to the
range tested here (``simpy>=4.1,<4.2``); a simpy outside it, or one where these no longer behave,
fails here first, not as wrong CDRs.
"""

from __future__ import annotations

import time
from importlib.metadata import version
from pathlib import Path

import simpy

from simulator.core import Calendar, Script
from simulator.transports._simulated import _RealtimeClock, _Wakeup

ROOT = Path(__file__).resolve().parent.parent


def test_the_installed_simpy_is_in_the_pinned_range() -> None:
    pinned = next(line for line in (ROOT / "pyproject.toml").read_text().splitlines()
                  if line.strip().startswith('"simpy'))
    assert ">=4.1,<4.2" in pinned
    major, minor = (int(part) for part in version("simpy").split(".")[:2])
    assert (major, minor) == (4, 1)


def test_now_and_bare_events_run_in_time_then_insertion_order() -> None:
    clock = _RealtimeClock(speed=1000.0)  # the 2 simulated seconds take 2 ms
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
    clock = _RealtimeClock(speed=100.0)  # 100 simulated seconds a wall second
    seen: list[float] = []
    for at in (0.0, 50.0, 100.0, 101.0):
        clock.call_at(at, seen.append, at)
    began = time.monotonic()
    clock.run(unpaced_until=100.0)
    elapsed = time.monotonic() - began
    assert seen == [0.0, 50.0, 100.0, 101.0]
    # the first 100 s are not paced (1 s of wall time if they were); 100 -> 101 takes 10 ms
    assert 0.005 <= elapsed < 0.5


def _order_on_simpy(arrivals: list[float], plan: dict[str, list[float]]) -> list[tuple]:
    """What simpy pops: each arrival is scheduled when the previous one is taken (before it is
    handled), as the realtime transport does; each popped name schedules its ``plan``."""
    env = simpy.Environment()
    seen: list[tuple[float, str]] = []
    pending = iter(enumerate(arrivals))

    class Bare:
        _ok = True

        def __init__(self, name: str, run) -> None:
            self.name = name
            self.callbacks = [run]

    def handle(name: str) -> None:
        seen.append((env._now, name))
        for n, delay in enumerate(plan.get(name, ())):
            env.schedule(Bare(f"{name}.{n}", lambda e: handle(e.name)),  # type: ignore[arg-type]
                         simpy.events.NORMAL, delay)

    def next_arrival() -> None:
        taken = next(pending, None)
        if taken is not None:
            index, at = taken
            delay = at - env._now
            env.schedule(Bare(f"a{index}", arrive), simpy.events.NORMAL,  # type: ignore[arg-type]
                         delay if delay > 0 else 0)

    def arrive(event: Bare) -> None:
        next_arrival()
        handle(event.name)

    next_arrival()
    env.run()
    return seen


def _order_on_calendar(arrivals: list[float], plan: dict[str, list[float]]) -> list[tuple]:
    calendar = Calendar()
    seen: list[tuple[float, str]] = []

    class Bare:
        def __init__(self, name: str) -> None:
            self.name = name
            self.callbacks = [lambda e: handle(e.name)]

    def handle(name: str) -> None:
        seen.append((calendar.now, name))
        for n, delay in enumerate(plan.get(name, ())):
            calendar.schedule(Bare(f"{name}.{n}"), 1, delay)

    # explicit calls' scripts (not generated): each arrival goes to the start callback
    scripts = (Script(f"a{i}", at, "192.0.2.1", "1", "2", None) for i, at in enumerate(arrivals))
    calendar.run(scripts, None, False, lambda script, index: handle(script.call_id))
    assert calendar.arrived == len(arrivals)
    return seen


def test_the_calendar_pops_in_simpys_order() -> None:
    """The batch clock (``core.Calendar``) and simpy pop the same entries in the same order at
    the same float instants: ties at one instant, entries inserted into the second being run,
    bucket boundaries, zero delays, far-off and sub-second times, arrivals among them."""
    import random

    rng = random.Random(7)
    delays = [0.0, 0.0, 0.5, 1.0, 0.999999, 1e-9, 2.0, 2.5, 3.25, 7.0, 59.0, 1e7]
    for _ in range(30):
        arrivals = sorted(rng.choice([0.0, 0.5, 1.0, 1.5, 2.0, 2.0, 3.7, 10.0])
                          + rng.random() * rng.choice([0, 1, 5]) for _ in range(40))
        plan: dict[str, list[float]] = {}
        for index in range(len(arrivals)):
            name = f"a{index}"
            plan[name] = [rng.choice(delays) for _ in range(rng.randint(0, 3))]
            for n in range(len(plan[name])):
                plan[f"{name}.{n}"] = [rng.choice(delays) for _ in range(rng.randint(0, 2))]
        expected = _order_on_simpy(arrivals, plan)
        assert len(expected) > 40
        assert _order_on_calendar(arrivals, plan) == expected


def test_calendar_timers_run_in_order_with_their_argument() -> None:
    calendar = Calendar()
    seen: list[tuple[float, str]] = []
    for at, name in ((2.0, "b"), (1.0, "a"), (2.0, "c"), (0.0, "zero"), (1e16, "far")):
        calendar.call_at(at, lambda arg: seen.append((calendar.now, arg)), name)
    calendar.run(None, None, False, lambda script, index: None)
    assert seen == [(0.0, "zero"), (1.0, "a"), (2.0, "b"), (2.0, "c"), (1e16, "far")]
