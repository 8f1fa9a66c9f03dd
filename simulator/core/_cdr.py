"""The CDR of a finished core ``Call``: one function shared by every transport."""

from __future__ import annotations

from simulator.core._record import Cdr
from simulator.core._state import Call


def cdr_from_call(call: Call, flowno: int | None, seed: int) -> Cdr:
    """The record of ``call`` (ended); ``flowno`` is None for a suppressed record."""
    switch = call.switch
    wall_ms = switch.wall_ms
    stop = wall_ms(call.end_at)
    answer_at = call.answer_at
    start = wall_ms(answer_at) if answer_at is not None else stop
    invite = wall_ms(call.invite_at)
    account = call.account
    rate = call.rate
    verdict = call.verdict
    attempt = call.attempt
    rated = rate is not None and verdict.rated
    named = account is not None and call.gateway_name
    caller_pdd = call.caller_pdd_at
    callee_pdd = call.callee_pdd_at
    gateway_invite = call.gateway_invite_at
    end_reason, end_direction, sip_header, reason_name, reason_category = \
        switch.ending_fields(verdict, call.caller_protocol)
    return Cdr(
        callere164=attempt.caller, calleee164=attempt.callee,
        starttime=start, stoptime=stop, holdtime=call.hold_time,
        endreason=end_reason, enddirection=end_direction,
        callergatewayid=call.gateway_name, calleegatewayid=call.final_gateway,
        callerip=attempt.source_ip, calleeip=host_of(call.final_gateway_ip),
        customeraccount=account.name if named else "",
        customername=account.config.name if named else "",
        feeprefix=rate.prefix if rated else "",
        feetime=call.fee_time, fee=call.fee,
        callerpdd=wall_ms(caller_pdd) - invite if caller_pdd is not None else 0,
        calleepdd=wall_ms(callee_pdd) - wall_ms(gateway_invite)
        if callee_pdd is not None and gateway_invite is not None else 0,
        billingmode=1 if call.billed else -1,
        calllevel=rate.call_level if rated else 0,
        flowno=flowno if call.recorded else None,
        softswitchname=switch.config.name, recordstarttime=invite,
        sipreasonheader=sip_header,
        end_reason_name=reason_name, end_reason_category=reason_category,
        recorded=call.recorded, call_id=attempt.call_id,
        seed_key=f"{seed}/{call.index}",
    )


def host_of(address: str) -> str:
    """``203.0.113.10:5060`` -> ``203.0.113.10`` (IPv6 addresses are left alone)."""
    return address.rsplit(":", 1)[0] if address.count(":") == 1 else address
