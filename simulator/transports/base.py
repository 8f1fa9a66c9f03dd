"""What a transport is, and what it promises the run that drives it.

A transport plays a scenario's calls through the core (``simulator.core.Call``) on some clock:
simpy's simulated time (``transports._simulated.Simulation``) or real SIP on loopback
(``transports.live.LiveSwitch``). It decides nothing itself: every ending comes from the core's
decision table, every CDR from ``core.cdr_from_call``. What it hands back is the record of each
finished call, through the one callable it was built with. Everything a run does with those
records (the sinks and their commit or abort, the summary's statistics, the trace file, the UDP
feed, progress) belongs to the run's outputs (``simulator.run.RunOutputs``), and signals to the
run, never to a transport; a transport imports neither the run nor its consumers
(``tests/test_layering.py``). What a consumer needs beyond the record (the row, the suppressing
switch, the bill) it asks the core for (``core.outcome_of``), for the calls it keeps.

The contract, for a new transport:

- it is built from a ``Scenario`` and an ``OnCdr`` callable, and ``run()`` plays the calls;
- ``on_cdr`` is called exactly once for every call that reached the switch, in the order the
  calls ended, with the record the core built (a suppressed one too: ``cdr.recorded`` says which);
- it drives ``Call`` only through its public steps (``start``, ``schedule``/``deliver``,
  ``advance``) and implements ``core.Signalling`` for what the core asks of the wire.

A run drives it like this (``simulator.run.run`` does exactly this)::

    from simulator.run import RunOutputs
    from simulator.transports import Simulation

    outputs = RunOutputs(2, out_dir="out", formats=("pipe",))
    try:
        Simulation(scenario, outputs.on_cdr()).run()
        files = outputs.commit()
    except BaseException as exc:
        raise outputs.abort(exc)
    finally:
        outputs.close()
    print(outputs.stats.calls, f"{outputs.stats.asr:.1%}", files)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from simulator.core import Cdr

OnCdr = Callable[[Cdr], None]


@runtime_checkable
class Transport(Protocol):
    """Plays every call of the scenario it was built with; ``on_cdr`` receives their records."""

    def run(self) -> object:
        """Play the calls to their end (simulated) or until stopped (live)."""
        ...
