"""The regenerated row beside the original, field by field: equal, different (with the likeliest
reason) or not determinable from a scenario."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from simulator.core import CDR_FIELDS, E_CDR_NAMES, Cdr, Outcome
from simulator.scenario import Scenario

from ._infer import Plan
from ._rows import Row, number_of

EQUAL, DIFFERENT, UNKNOWN = "equal", "different", "not determinable"

# Made by the switch for each call (ids, call ids, write order): no scenario decides them.
NOT_DETERMINABLE: dict[str, str] = {
    **dict.fromkeys(("id", "flowno", "flownofirst", "agentcdr_id"),
                    "a counter of the switch that wrote the row"),
    **dict.fromkeys(("softswitchcallid", "callercallid", "calleroriginalcallid", "calleecallid",
                     "calleroriginalinfo", "transactionid"),
                    "an id made by the parties or the switch for this one call"),
    **dict.fromkeys(("additional", "dynamicvalue"), "free-form data of the switch"),
}
TIMES = ("starttime", "stoptime")
MONEY = frozenset(("fee", "agentfee", "tax", "suitefee", "incomefee", "incometax", "agenttax",
                   "agentsuitefee"))
NUMBERS = frozenset(("callere164", "calleraccesse164", "calleee164", "calleeaccesse164",
                     "callertogatewaye164", "calleetogatewaye164"))
# What audit re-decides and re-rates (reproduce shows every column).
AUDITED = ("enddirection", "endreason", "holdtime", "feetime", "fee", "stoptime",
           "calleegatewayid", "customeraccount", "agentfee", "agentfeetime")
CAUSES = {"fee": "fee", "agentfee": "fee", "feetime": "feetime", "agentfeetime": "feetime",
          "holdtime": "holdtime", "endreason": "end reason", "enddirection": "direction",
          "calleegatewayid": "gateway", "stoptime": "times", "customeraccount": "account"}


@dataclass
class FieldVerdict:
    name: str
    original: Any
    simulated: Any
    status: str
    reason: str = ""
    cause: str = ""


def regenerated(cdr: Cdr) -> dict[str, Any]:
    """The e_cdr row a replayed call writes, by lower-case column name."""
    return {name.lower(): value for name, value in zip(E_CDR_NAMES, cdr.e_cdr_row(),
                                                      strict=True)}


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        return None


_SLOTS = frozenset(CDR_FIELDS)


def _same(name: str, original: Any, simulated: Any, places: int) -> bool:
    if original == simulated or str(original).strip() == str(simulated):
        return True
    if name in MONEY:
        a, b = _decimal(original), _decimal(simulated)
        if a is None or b is None:
            return (a or 0) == (b or 0)
        return abs(a - b) < Decimal(1).scaleb(-places) / 2 or a == b
    a, b = _decimal(original), _decimal(simulated)
    if a is not None and b is not None and name not in NUMBERS:
        return a == b
    return str(original if original is not None else "").strip() == \
        str(simulated if simulated is not None else "").strip()


def compare_row(row: Row, plan: Plan, outcome: Outcome | None, scenario: Scenario,
                names: tuple[str, ...] | None = None) -> list[FieldVerdict]:
    """Every field of ``row`` (or only ``names``) beside the replay's, whose outcome (record,
    row, bill) is ``outcome`` (None: the replay wrote no record for the call)."""
    cdr = outcome.record if outcome is not None else None
    if cdr is None:
        simulated: dict[str, Any] = {}
    elif names is not None and all(name in _SLOTS for name in names):
        simulated = {name: getattr(cdr, name) for name in names}  # audit: no whole row needed
    else:
        simulated = regenerated(cdr)
    places = scenario.switch.SERVER_BILLING_FEE_PRECISTION
    verdicts = []
    for name in names or tuple(row.fields):
        original = row.fields.get(name)
        if name in NOT_DETERMINABLE:
            verdicts.append(FieldVerdict(name, original, simulated.get(name), UNKNOWN,
                                         NOT_DETERMINABLE[name]))
            continue
        if cdr is None:
            verdicts.append(FieldVerdict(name, original, None, DIFFERENT,
                                         "the replay wrote no record for this call", "record"))
            continue
        if name not in simulated:
            verdicts.append(FieldVerdict(name, original, None, UNKNOWN,
                                         "vossim does not write this column"))
            continue
        value = simulated[name]
        if name in NUMBERS and number_of(str(original or ""))[1]:
            verdicts.append(FieldVerdict(name, original, value, UNKNOWN,
                                         "the row's number was mangled by a spreadsheet "
                                         "(digits lost)"))
            continue
        if name in TIMES:
            delta = int(value) - _int(original)
            status = EQUAL if abs(delta) < 1000 else DIFFERENT
            reason = "" if delta == 0 else f"{delta:+d} ms"
            if status == DIFFERENT:
                reason = f"{delta:+d} ms: " + _time_reason(name, row, plan)
            verdicts.append(FieldVerdict(name, original, value, status, reason,
                                         "times" if status == DIFFERENT else ""))
            continue
        if _same(name, original, value, places):
            verdicts.append(FieldVerdict(name, original, value, EQUAL))
            continue
        reason = _reason(name, row, plan, outcome, scenario, simulated)
        cause = "holdtime rounding" if reason.startswith("holdtime rounding") else \
            CAUSES.get(name, "other")
        verdicts.append(FieldVerdict(name, original, value, DIFFERENT, reason, cause))
    return verdicts


def _int(value: Any) -> int:
    try:
        return int(Decimal(str(value).strip()))
    except (InvalidOperation, ValueError):
        return 0


def _time_reason(name: str, row: Row, plan: Plan) -> str:
    return (f"the replay's call ended as decision-table row "
            f"{plan.verdict.row if plan.verdict else '?'} ends it, at another time")


def _rate_table(scenario: Scenario, account: str) -> str:
    holder = scenario.accounts.get(account)
    return holder.rate_table if holder is not None else ""


def _reason(name: str, row: Row, plan: Plan, outcome: Outcome, scenario: Scenario,
            simulated: dict[str, Any]) -> str:
    held_ms = row.stoptime - row.starttime
    cdr = outcome.record
    if name in ("fee", "feetime"):
        rate, table = outcome.billing.rate, _rate_table(scenario, cdr.customeraccount)
        if rate is None:
            return (f"the replay found no rate for {cdr.calleee164} in account "
                    f"{cdr.customeraccount!r}'s rate table {table!r}" if table else
                    "the replay billed no account")
        billed = ""
        if row.feetime > 0 and row.fee:
            billed = f"; the row was billed {format(row.fee * 60 / row.feetime, '.6g')} per 60 s"
        return (f"rate table {table!r} says {format(rate.fee, 'f')} per {rate.period} s for "
                f"prefix {rate.prefix}: {cdr.holdtime} s bill {cdr.feetime} s for "
                f"{format(cdr.fee, 'f')}{billed} (feetime {row.feetime} s, fee "
                f"{format(row.fee, 'f')})")
    if name in ("agentfee", "agentfeetime"):
        vendor = outcome.billing.vendor
        billed = ""
        if vendor is not None and vendor.rate is not None:
            billed = (f": {vendor.account}'s rate for prefix {vendor.rate.prefix} is "
                      f"{format(vendor.rate.fee, 'f')} per {vendor.rate.period} s, "
                      f"{cdr.holdtime} s bill {vendor.fee_time} s for {format(vendor.fee, 'f')}")
        return ("the vendor's rate (the routing gateway's account) bills another amount"
                f"{billed}; the row says agentfee {format(row.agentfee, 'f')} for "
                f"{row.agentfeetime} s")
    if name == "holdtime":
        precision = scenario.switch.hold_time_precision
        if row.answered and row.holdtime in (held_ms // 1000, math.ceil(held_ms / 1000)):
            return (f"holdtime rounding: stoptime - starttime is {held_ms} ms; the switch rounds "
                    f"a remainder of {precision} ms or more up "
                    "(SERVER_BILLING_HOLD_TIME_PRECISION)")
        return (f"the row's holdtime is not its stoptime - starttime ({held_ms} ms), which the "
                f"replay bills as {cdr.holdtime} s")
    if name in ("endreason", "enddirection"):
        wrote = f"endDirection {cdr.enddirection}, endReason {cdr.endreason}"
        return (f"the replay ended it as {cdr.end_reason_name or 'its ending'} ({wrote}); the row "
                f"reads as {plan.situation}")
    if name == "calleegatewayid":
        return (f"the configuration routes {cdr.calleee164} to "
                f"{cdr.calleegatewayid or 'no gateway'}")
    if name in ("customeraccount", "customername", "callergatewayid"):
        return (f"source address {row.callerip or '(none)'} is on mapping gateway "
                f"{cdr.callergatewayid or '(none)'}, account {cdr.customeraccount or '(none)'}")
    if name in ("calleetogatewaye164", "callertogatewaye164", "calleeaccesse164",
                "calleraccesse164"):
        return ("the switch rewrote the number on its way (a number-transform rule of the "
                "gateway, which scenarios do not describe)")
    if name in ("callerpdd", "calleepdd"):
        return "the scenario's parties answer on their own timing (ring_after, answer_after)"
    return f"vossim writes {simulated.get(name)!r} for this call"
