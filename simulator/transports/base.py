"""What a transport promises the run that drives it.

A transport plays a scenario's calls through the core (``simulator.core.Call``) on some clock:
simpy's simulated time (``transports._simulated``) or real SIP on loopback (``transports.live``).
It decides nothing itself: every ending comes from the core's decision table. What it hands
back is one CDR per finished call, and the run (``simulator.run``) owns what happens to them:
the sinks, the summary's statistics, the trace. A transport therefore never imports the run;
the run passes in what the transport reports to, typed by the protocols below.

    from simulator.run import RunStats             # the run's own tally
    from simulator.transports.live import run_live

    stats = RunStats()
    result = run_live(scenario, port=0, stats=stats)
    print(stats.calls, stats.asr)                  # every CDR the switch wrote, counted once
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from simulator.core._record import Cdr


class CallTally(Protocol):
    """Counts what a run's calls ended as: the summary's statistics (``run.RunStats``)."""

    def add(self, cdr: Cdr, fee: Decimal) -> None:
        """Count one finished call's record, with the fee it was charged."""
