"""The CDR of a finished core ``Call``, shared by every transport.

NOTE for the core/engine owners: ``Simulation.build_cdr`` in ``_engine.py`` holds the same logic;
live mode (``simulator.live``) uses this function so that it does not have to copy it.
``Simulation.build_cdr`` can become ``return cdr_from_call(call, flowno, seed)`` once that file is
free to edit.
"""

from __future__ import annotations

from cdr_writer import Cdr
from simulator._state import Call, Switch


def cdr_from_call(call: Call, flowno: int | None, seed: int) -> Cdr:
    """The record of ``call`` (ended); ``flowno`` is None for a suppressed record."""
    switch = call.switch
    stop = switch.wall_ms(call.end_at)
    start = switch.wall_ms(call.answer_at) if call.answer_at is not None else stop
    account = call.account
    rate = call.rate
    verdict = call.verdict
    rated = rate is not None and verdict.rated
    return Cdr(
        callere164=call.attempt.caller, calleee164=call.attempt.callee,
        starttime=start, stoptime=stop, holdtime=call.hold_time,
        endreason=call.end_reason, enddirection=int(verdict.end_direction),
        callergatewayid=call.gateway_name, calleegatewayid=call.final_gateway,
        callerip=call.attempt.source_ip, calleeip=host_of(call.final_gateway_ip),
        customeraccount=account.name if account and call.gateway_name else "",
        customername=account.config.name if account and call.gateway_name else "",
        feeprefix=rate.prefix if rated else "",
        feetime=call.fee_time, fee=call.fee,
        callerpdd=ms_between(switch, call.invite_at, call.caller_pdd_at),
        calleepdd=ms_between(switch, call.gateway_invite_at, call.callee_pdd_at),
        billingmode=1 if call.billed else -1,
        calllevel=rate.call_level if rated else 0,
        flowno=flowno if call.recorded else None,
        softswitchname=switch.config.name, recordstarttime=switch.wall_ms(call.invite_at),
        sipreasonheader=call.sip_reason_header,
        end_reason_name=verdict.reason.title, end_reason_category=verdict.reason.category,
        recorded=call.recorded, call_id=call.attempt.call_id,
        seed_key=f"{seed}/{call.index}",
    )


def host_of(address: str) -> str:
    """``203.0.113.10:5060`` -> ``203.0.113.10`` (IPv6 addresses are left alone)."""
    return address.rsplit(":", 1)[0] if address.count(":") == 1 else address


def ms_between(switch: Switch, start: float | None, end: float | None) -> int:
    if start is None or end is None:
        return 0
    return switch.wall_ms(end) - switch.wall_ms(start)
