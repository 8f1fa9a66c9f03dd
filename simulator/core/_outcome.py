"""A finished call's outcome, typed: its record, the row that ended it, the recording switch that
suppressed it and its bill, each as the code that decides it decided it.

A consumer that explains or checks a call (explain, audit, the trace writer) asks for the outcome
instead of working these out again from the record's columns: the recording rule is
``_decisions.suppressed_by``, the bill's lines are ``Rate.charges``, the pulses are the ones
``Call._pay_pulse`` reserved, priced by ``Rate.pulse``.

Outcomes are built on demand, never on a run's hot path: a plain ``vossim run`` builds none.
``outcome_of`` reads a finished ``Call`` (a run in memory keeps the calls it was asked to keep);
``outcome_from_events`` reads the same facts back from the call's core events (a trace file, a
live run's trace), so both give the same ``Outcome``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from simulator.core import _decisions as table
from simulator.core import _events as ev
from simulator.core._decisions import Verdict
from simulator.core._rating import ZERO, Charge, Rate, RateTable, round_money
from simulator.core._record import Cdr

if TYPE_CHECKING:
    from simulator.core._decisions import RecordingSettings
    from simulator.core._state import Call


@dataclass(frozen=True, slots=True)
class VendorBilling:
    """What the vendor of the gateway the call ended on charges (the record's ``agent*``
    columns) and the lines of that bill."""

    account: str
    name: str
    rate: Rate | None  # the vendor's rate for the callee (None: its table has none)
    charges: tuple[Charge, ...]
    fee_time: int  # agentfeetime
    fee: Decimal  # agentfee


@dataclass(frozen=True, slots=True)
class Billing:
    """The customer's bill of a call: the rate, its lines, the prepaid money it moved.

    ``rated_fee`` is what the rate makes of the holdTime (rounded half up, as the switch rounds);
    ``fee`` is the record's fee; ``charged`` what the account really paid: ``fee`` when the record
    is written (a prepaid charge capped at the account's floor makes it less than ``rated_fee``),
    nothing when it is suppressed. ``reserved`` is what the ``pulses`` prepaid pulses held;
    ``released`` the reservation given back when the call was settled (all of it: the charge is
    taken separately).
    """

    rate: Rate | None  # None: never rated (refused at setup)
    hold_time: int
    charges: tuple[Charge, ...]  # sections reached, then the periods (Rate.charges)
    fee_time: int
    rated_fee: Decimal
    fee: Decimal
    charged: Decimal
    pulses: int
    reserved: Decimal
    released: Decimal
    vendor: VendorBilling | None = None

    @property
    def prepaid(self) -> bool:
        return self.pulses > 0


@dataclass(frozen=True, slots=True)
class Outcome:
    """One finished call as the core decided it."""

    record: Cdr
    verdict: Verdict  # the decision-table row that ended the call
    suppressing: tuple[tuple[str, str], ...]  # (switch, why) of each switch at 0 that applies
    billing: Billing

    @property
    def row(self) -> int:
        return self.verdict.row

    @property
    def recorded(self) -> bool:
        return not self.suppressing

    @property
    def suppressed_by(self) -> str | None:
        """The recording switch (``SERVER_BILLING_RECORD_*``) that suppressed the record, the
        first in the table's order when several did; None: it was written."""
        return self.suppressing[0][0] if self.suppressing else None


def outcome_of(call: Call, record: Cdr) -> Outcome:
    """The outcome of ``call``, ended, whose record is ``record`` (``cdr_from_call``'s)."""
    switch = call.switch
    verdict = call.verdict
    if verdict is None:
        raise ValueError(f"call {call.attempt.call_id!r} has not ended")
    suppressing = table.suppressed_by(switch.config, verdict, call.hold_time)
    rate = call.rate if verdict.rated else None
    rated_fee = switch.bill(rate, call.hold_time)[1] if rate is not None else ZERO
    charges = rate.charges(call.hold_time) if rate is not None else ()
    pulses = call.pulses
    reserved = call.rate.pulses_reserved(pulses) if pulses and call.rate is not None else ZERO
    charged = call.fee if call.recorded and call.account is not None else ZERO
    vendor = None
    if record.vendor is not None:
        vendor_account = switch.accounts[record.vendor.agentaccount]
        vendor = _vendor(record, vendor_account.rates)
    billing = Billing(rate=rate, hold_time=call.hold_time, charges=charges,
                      fee_time=call.fee_time, rated_fee=rated_fee, fee=call.fee,
                      charged=charged, pulses=pulses, reserved=reserved, released=reserved,
                      vendor=vendor)
    return Outcome(record, verdict, suppressing, billing)


def outcome_from_events(record: Cdr, events: Iterable[ev.Event], settings: RecordingSettings,
                        places: int, rates: RateTable | None = None,
                        vendor_rates: RateTable | None = None) -> Outcome:
    """The outcome of a call read back from its core events (a trace) and its record.

    ``settings`` are the switch's recording switches, ``places`` its fee precision, ``rates``
    the customer account's rate table and ``vendor_rates`` the vendor account's (when the record
    names one). The row is the trace's ``ending``, the recording rule the core's own, the pulses
    and the settlement the trace's ``pulse`` and ``settled`` events.
    """
    ending: ev.Ending | None = None
    pulses, reserved, released, charged = 0, ZERO, ZERO, ZERO
    for event in events:
        if isinstance(event, ev.Ending):
            ending = event
        elif isinstance(event, ev.Pulse) and not isinstance(event, ev.PulseUnpaid):
            pulses += 1
            reserved += event.cost
        elif isinstance(event, ev.Settled):
            released, charged = event.released, event.charged
    if ending is None:
        raise ValueError(f"the trace of call {record.call_id!r} has no ending event")
    verdict = table.verdict_of_row(ending.row, ending.situation)
    hold = record.holdtime
    suppressing = table.suppressed_by(settings, verdict, hold)
    rate = rates.lookup(record.calleee164) if rates is not None and verdict.rated else None
    rated_fee = round_money(rate.bill(hold)[1], places) if rate is not None else ZERO
    vendor = None
    if record.vendor is not None and vendor_rates is not None:
        vendor = _vendor(record, vendor_rates)
    billing = Billing(rate=rate, hold_time=hold,
                      charges=rate.charges(hold) if rate is not None else (),
                      fee_time=record.feetime, rated_fee=rated_fee, fee=record.fee,
                      charged=charged, pulses=pulses, reserved=reserved, released=released,
                      vendor=vendor)
    return Outcome(record, verdict, suppressing, billing)


def _vendor(record: Cdr, rates: RateTable) -> VendorBilling:
    """The vendor's bill: its rate for the callee (``vendor_side``'s lookup) and that rate's
    lines for the holdTime (none for a call never answered, whose holdTime is 0)."""
    side = record.vendor
    assert side is not None
    rate = rates.lookup(record.calleee164)
    charges = rate.charges(record.holdtime) if rate is not None else ()
    return VendorBilling(side.agentaccount, side.agentname, rate, charges, side.agentfeetime,
                         side.agentfee)
