"""The naive reference model of ``make bench``: what a first simpy simulation of calls looks like.

One simpy process per call doing four timeouts (setup, ring, talk, release) with a random draw
each, Poisson arrivals at the standard profile's rate, no decisions and no output. The engine is
measured against it in the same run.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import simpy


def run_naive(calls: int, cps: float = 200.0, seed: int = 1) -> float:
    """Simulate ``calls`` calls; returns calls per wall-clock second."""
    env = simpy.Environment()
    rng = random.Random(seed)
    finished = 0

    def call() -> Iterator[simpy.Event]:
        nonlocal finished
        yield env.timeout(rng.uniform(0.05, 0.3))     # setup
        yield env.timeout(rng.uniform(0.5, 15.0))     # ring
        yield env.timeout(rng.expovariate(1 / 95.0))  # talk
        yield env.timeout(rng.uniform(0.01, 0.05))    # release
        finished += 1

    def arrivals() -> Iterator[simpy.Event]:
        for _ in range(calls):
            yield env.timeout(rng.expovariate(cps))
            env.process(call())

    env.process(arrivals())
    began = time.perf_counter()
    env.run()
    elapsed = time.perf_counter() - began
    assert finished == calls
    return calls / elapsed
