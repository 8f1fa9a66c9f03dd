"""The CDR of a finished core ``Call``: one function shared by every transport."""

from __future__ import annotations

from simulator.core._record import Cdr
from simulator.core._state import Call

_new = object.__new__


def cdr_from_call(call: Call, flowno: int | None, seed: int) -> Cdr:
    """The record of ``call`` (ended); ``flowno`` is None for a suppressed record."""
    switch = call.switch
    epoch = switch.start_epoch  # Switch.wall_ms, inlined: three to five instants per record
    stop = round((epoch + call.end_at) * 1000)
    answer_at = call.answer_at
    start = round((epoch + answer_at) * 1000) if answer_at is not None else stop
    invite = round((epoch + call.invite_at) * 1000)
    caller_pdd_at = call.caller_pdd_at
    callee_pdd_at = call.callee_pdd_at
    gateway_invite_at = call.gateway_invite_at
    verdict = call.verdict
    end_reason, end_direction, sip_header, reason_name, reason_category = \
        switch.ending_fields(verdict, call.caller_protocol)
    account = call.account
    rate = call.rate
    attempt = call.attempt
    gateway_name = call.gateway_name
    recorded = call.recorded
    # Slot by slot rather than Cdr(**keywords): binding 29 keywords costs more than the stores.
    # tests/test_recording.py checks that every slot is set, so a new one cannot be forgotten.
    cdr = _new(Cdr)
    cdr.callere164 = attempt.caller
    cdr.calleee164 = attempt.callee
    cdr.starttime = start
    cdr.stoptime = stop
    cdr.holdtime = call.hold_time
    cdr.endreason = end_reason
    cdr.enddirection = end_direction
    cdr.callergatewayid = gateway_name
    cdr.calleegatewayid = call.final_gateway
    cdr.callerip = attempt.source_ip
    cdr.calleeip = host_of(call.final_gateway_ip)
    if account is not None and gateway_name:
        cdr.customeraccount = account.name
        cdr.customername = account.config.name
    else:
        cdr.customeraccount = cdr.customername = ""
    if rate is not None and verdict.rated:
        cdr.feeprefix = rate.prefix
        cdr.calllevel = rate.call_level
    else:
        cdr.feeprefix = ""
        cdr.calllevel = 0
    cdr.feetime = call.fee_time
    cdr.fee = call.fee
    cdr.callerpdd = round((epoch + caller_pdd_at) * 1000) - invite \
        if caller_pdd_at is not None else 0
    cdr.calleepdd = round((epoch + callee_pdd_at) * 1000) \
        - round((epoch + gateway_invite_at) * 1000) \
        if callee_pdd_at is not None and gateway_invite_at is not None else 0
    cdr.billingmode = 1 if call.billed else -1
    cdr.flowno = flowno if recorded else None
    cdr.softswitchname = switch.config.name
    cdr.recordstarttime = invite
    cdr.sipreasonheader = sip_header
    cdr.end_reason_name = reason_name
    cdr.end_reason_category = reason_category
    cdr.recorded = recorded
    cdr.call_id = attempt.call_id
    cdr.seed_key = f"{seed}/{call.index}"
    return cdr


def host_of(address: str) -> str:
    """``203.0.113.10:5060`` -> ``203.0.113.10`` (IPv6 addresses are left alone)."""
    return address.rsplit(":", 1)[0] if address.count(":") == 1 else address
