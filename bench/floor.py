"""The floor of ``make bench``: what a run costs before the switch decides anything.

Every call of the standard profile comes from the real traffic generator (``all_calls``), gets
two bare simpy events (its arrival and its scripted end, the least any call needs on a simpy
clock) and one real ``Cdr`` written by the real hourly ``PipeSink``. There are no setup checks,
no agenda, no routing, no billing: the end reason is a constant. Whatever the engine does per
call comes on top of this, so a speed target above the floor cannot be met by making the call
logic faster, only by leaving CPython or simpy's per-event queue.
"""

from __future__ import annotations

import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import simpy

from cdr_writer import Cdr
from cdr_writer._sinks import PipeSink
from simulator._engine import expected_arrivals
from simulator._loader import load_scenario
from simulator._run import scale_traffic
from simulator._traffic import ANSWER, Script, all_calls

FEE = Decimal("0.1200")


def run_floor(scenario_path: Path, calls: int) -> dict[str, float]:
    """Run the floor model over ``calls`` call attempts; returns counts and CDR/s."""
    scenario = load_scenario(scenario_path)
    scenario = scale_traffic(scenario, calls / expected_arrivals(scenario))
    start_ms = scenario.start.timestamp() * 1000
    env = simpy.Environment()
    schedule = env.schedule
    arrivals = all_calls(scenario)
    written = 0

    def at(when: float, callback: Any, script: Script) -> None:
        event = simpy.Event(env)
        event._ok = True
        event._value = script
        event.callbacks.append(callback)
        schedule(event, simpy.events.NORMAL, max(when - env._now, 0.0))

    with tempfile.TemporaryDirectory(prefix="vossim-floor-") as out:
        sink = PipeSink(Path(out), 4)

        def arrive(event: simpy.Event) -> None:
            script: Script = event._value
            following = next(arrivals, None)
            if following is not None:
                at(following.at, arrive, following)
            callee = script.callee
            if callee is not None and callee.kind == ANSWER:
                talk = script.caller_hangup if script.caller_hangup is not None \
                    else callee.hangup_after or 0.0
                ends = script.at + callee.answer_after + talk
            else:
                ends = script.at + (callee.reply_after or callee.ring_after if callee else 0.0)
            at(ends, release, script)

        def release(event: simpy.Event) -> None:
            nonlocal written
            script: Script = event._value
            written += 1
            stop = round(start_ms + env._now * 1000)
            sink.write(Cdr(
                callere164=script.caller_number, calleee164=script.callee_number,
                starttime=round(start_ms + script.at * 1000), stoptime=stop, holdtime=0,
                endreason=1, enddirection=0, callergatewayid="floor", calleegatewayid="floor",
                callerip=script.source_ip, calleeip="198.51.100.1", customeraccount="floor",
                feeprefix="1", feetime=0, fee=FEE, callerpdd=0, billingmode=1, flowno=written))

        first = next(arrivals)
        began = time.perf_counter()
        at(first.at, arrive, first)
        env.run()
        sink.close()
        elapsed = time.perf_counter() - began
    return {"calls": written, "seconds": elapsed, "cdr_per_s": written / elapsed}
