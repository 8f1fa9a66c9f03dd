"""The floor of ``make bench``: what a run costs before the switch decides anything.

Every call of the standard profile comes from the real traffic generator (``all_calls``), gets
two timers on the engine's batch clock (the core's ``Calendar``: its arrival and its scripted
end, the least any call needs) and one real ``Cdr`` written by the real hourly ``PipeSink``.
There are no setup checks, no agenda, no routing, no billing: the end reason is a constant.
Whatever the engine does per call comes on top of this, except that the engine's planned calls
and arrivals skip the Python callbacks these timers go through.
"""

from __future__ import annotations

import tempfile
import time
from decimal import Decimal
from pathlib import Path

from cdr_writer import Cdr, SinkContext
from cdr_writer._sinks import PipeSink
from simulator.core import Calendar
from simulator.run._options import scale_traffic
from simulator.scenario._loader import load_scenario
from simulator.traffic._generator import ANSWER, Script, all_calls
from simulator.transports._simulated import expected_arrivals

FEE = Decimal("0.1200")


def run_floor(scenario_path: Path, calls: int) -> dict[str, float]:
    """Run the floor model over ``calls`` call attempts; returns counts and CDR/s."""
    scenario = load_scenario(scenario_path)
    scenario = scale_traffic(scenario, calls / expected_arrivals(scenario) * 1.02)
    start_ms = scenario.start.timestamp() * 1000
    clock = Calendar()  # the engine's batch clock: one timer per callback
    at = clock.call_at
    arrivals = all_calls(scenario, limit=calls)  # exactly the engine's call attempts
    written = 0

    with tempfile.TemporaryDirectory(prefix="vossim-floor-") as out:
        sink = PipeSink(SinkContext(Path(out), 4))

        def arrive(script: Script) -> None:
            following = next(arrivals, None)
            if following is not None:
                at(following.at, arrive, following)
            at(script.at + _scripted_length(script), release, script)

        def release(script: Script) -> None:
            nonlocal written
            written += 1
            stop = round(start_ms + clock.now * 1000)
            sink.write(Cdr(
                callere164=script.caller, calleee164=script.callee,
                starttime=round(start_ms + script.at * 1000), stoptime=stop, holdtime=0,
                endreason=1, enddirection=0, callergatewayid="floor", calleegatewayid="floor",
                callerip=script.source_ip, calleeip="198.51.100.1", customeraccount="floor",
                feeprefix="1", feetime=0, fee=FEE, callerpdd=0, billingmode=1, flowno=written))

        first = next(arrivals)
        began = time.perf_counter()
        at(first.at, arrive, first)
        clock.run(None, None, False, lambda script, index: None)
        sink.close()
        elapsed = time.perf_counter() - began
    return {"calls": written, "seconds": elapsed, "cdr_per_s": written / elapsed}


def _scripted_length(script: Script) -> float:
    """How long the parties' script alone keeps the call (no switch timers or limits)."""
    callee = script.callee_does
    if callee is None:
        return 0.0
    if callee.kind != ANSWER:
        return callee.reply_after or callee.ring_after
    talk = script.caller_hangup if script.caller_hangup is not None else callee.hangup_after
    return callee.answer_after + (talk or 0.0)
