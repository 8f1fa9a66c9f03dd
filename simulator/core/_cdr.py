"""The CDR of a finished core ``Call``: one function shared by every transport."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from simulator.core._decisions import Party, Verdict
from simulator.core._rating import ZERO
from simulator.core._record import Cdr, VendorSide, VosColumns
from simulator.core._state import Call, Recorder, whole_ms

_new: Final = Cdr.__new__  # object's, or the compiled class's own
NO_HEADERS: Final = ("", "")


def cdr_from_call(call: Call, flowno: int | None, seed: int, *,
                  reason_headers: tuple[str, str] = NO_HEADERS,
                  caller_call_id: str = "") -> Cdr:
    """The record of ``call`` (ended); ``flowno`` is None for a suppressed record.

    The vos3000 profile also reads what only the transport saw: ``reason_headers``, the Reason
    header (caller's, callee's) each party sent with its BYE, CANCEL or final response, and
    ``caller_call_id``, the Call-ID the caller sent ("": one in the caller's style is made).
    """
    switch = call.switch
    epoch = switch.start_epoch  # Switch.wall_ms, inlined: one to three more instants
    stop = call.stop_ms  # as billed (Call._bill)
    start = call.start_ms
    invite = whole_ms(epoch + call.invite_at)
    caller_pdd_at = call.caller_pdd_at
    callee_pdd_at = call.callee_pdd_at
    gateway_invite_at = call.gateway_invite_at
    verdict: Verdict = call.verdict  # type: ignore[assignment]  # the call has ended
    end_reason, end_direction, sip_header, reason_name, reason_category = \
        switch.ending_fields(verdict, call.caller_protocol) if not switch.observed \
        else switch.observed_fields(verdict, call.caller_protocol,
                                    switch.callee_protocol(call.final_gateway))
    account = call.account
    rate = call.rate
    attempt = call.attempt
    gateway_name = call.gateway_name
    recorded = call.recorded
    # Slot by slot rather than Cdr(**keywords): binding 29 keywords costs more than the stores.
    # tests/test_cdr_path.py checks that every slot is set, so a new one cannot be forgotten.
    cdr: Cdr = _new(Cdr)
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
    cdr.callerpdd = whole_ms(epoch + caller_pdd_at) - invite \
        if caller_pdd_at is not None else 0
    cdr.calleepdd = whole_ms(epoch + callee_pdd_at) \
        - whole_ms(epoch + gateway_invite_at) \
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
    cdr.vendor = vendor_side(call) if switch.vendors and call.final_gateway else None
    cdr.wire_call_ids = None
    if switch.vos3000:
        _vos3000(cdr, call, reason_headers, caller_call_id)
    else:
        cdr.vos = None
    return cdr


class Records(Recorder):
    """A run's records, made as its calls are released (``Switch.recorder``): each CDR numbered
    in release order (the flowno of a recorded call), then handed to ``on_block`` in blocks of
    ``size`` (a batch run), or one by one to ``on_cdr``.

    Calls that end before ``feed_from`` (a warm-up) shape the switch but give no record; they are
    counted in ``warmup_calls``. ``reason_headers`` (vos3000 profile: the Reason headers the
    parties sent) and ``also`` (the transport's own use of a record: kept calls, the trace) are
    the transport's hooks, called only when given. Compiled with the core, a batch run's record
    path never enters the interpreter between the call's end and its block.
    """

    def __init__(self, seed: int, *, on_cdr: Callable[[Cdr], None] | None = None,
                 on_block: Callable[[list[Cdr]], None] | None = None, size: int = 1024,
                 feed_from: float = 0.0,
                 reason_headers: Callable[[Call], tuple[str, str]] | None = None,
                 also: Callable[[Call, Cdr], None] | None = None) -> None:
        if (on_cdr is None) == (on_block is None):
            raise ValueError("records go to on_cdr or to on_block: exactly one")
        self.seed = seed
        self.on_cdr = on_cdr
        self.on_block = on_block
        self.size = size
        self.feed_from = feed_from
        self.reason_headers = reason_headers
        self.also = also
        self.block: list[Cdr] = []
        self.flowno = 0  # of the last recorded call
        self.last_end = 0.0  # when the last call released so far ended
        self.warmup_calls = 0

    def released(self, call: Call) -> None:
        end_at: float = call.end_at  # type: ignore[assignment]  # released: it has ended
        if end_at < self.feed_from:
            self.warmup_calls += 1
            return
        if call.recorded:
            self.flowno += 1
        headers = self.reason_headers
        cdr = cdr_from_call(call, self.flowno, self.seed,
                            reason_headers=NO_HEADERS if headers is None else headers(call))
        if end_at > self.last_end:
            self.last_end = end_at
        also = self.also
        if also is not None:
            also(call, cdr)
        on_block = self.on_block
        if on_block is None:
            self.on_cdr(cdr)  # type: ignore[misc]  # one of the two is set
            return
        block = self.block
        block.append(cdr)
        if len(block) >= self.size:
            self.block = []
            on_block(block)

    def hand_over(self) -> None:
        """The records gathered so far, to ``on_block`` (the end of a batch run)."""
        block = self.block
        if block and self.on_block is not None:
            self.block = []
            self.on_block(block)


def vendor_side(call: Call) -> VendorSide | None:
    """What the vendor of the gateway the call ended on charges for it (None: no account)."""
    switch = call.switch
    account_name = switch.gateways[call.final_gateway].config.account
    if not account_name:
        return None
    account = switch.accounts[account_name]
    rate = account.rates.lookup(call.attempt.callee)
    fee_time, fee = 0, ZERO
    if rate is not None and call.answer_at is not None:
        fee_time, fee = switch.bill(rate, call.hold_time)
    return VendorSide(account_name, account.config.name, fee_time, fee)


def _vos3000(cdr: Cdr, call: Call, reason_headers: tuple[str, str],
             caller_call_id: str) -> None:
    """The columns the vos3000 profile writes as real rows show them (docs/cdr-formats.md)."""
    switch = call.switch
    attempt = call.attempt
    epoch = switch.start_epoch
    account = call.account
    rate = call.rate
    if rate is None and account is not None:  # refused before rating: the rate still applies
        rate = account.rates.lookup(attempt.callee)
    cdr.calllevel = rate.call_level if rate is not None else 0
    cdr.billingmode = 1 if account is not None and call.gateway_name else -1
    invite = whole_ms(epoch + call.invite_at)
    answered_at = call.caller_pdd_at if call.caller_pdd_at is not None else call.end_at
    cdr.callerpdd = whole_ms(epoch + answered_at) - invite
    if call.callee_pdd_at is None:
        cdr.calleepdd = -1
    cdr.recordstarttime = 0
    direction = call.verdict.end_direction
    cdr.sipreasonheader = reason_headers[0] if direction == Party.CALLER \
        else reason_headers[1] if direction == Party.CALLEE else ""
    mapping = switch.gateway_by_ip.get(attempt.source_ip)
    caller_gateway = mapping[1] if mapping is not None else None
    media = call.callee_pdd_at is not None  # the callee's SDP came back: codecs were agreed
    reached = call.final_gateway
    callee_gateway = switch.gateways[reached].config if reached else None
    vendor = cdr.vendor
    vendor_rate = None
    if vendor is not None:
        vendor_rate = switch.accounts[vendor.agentaccount].rates.lookup(attempt.callee)
    caller_id = caller_call_id or cdr.leg_call_id("caller", cdr.callerip or "0.0.0.0")
    vos = VosColumns(
        flowno=call.index + 1,
        callerrtpip=(caller_gateway.rtp_ip if caller_gateway is not None else "")
        or cdr.callerip,
        callercodec=caller_gateway.codec if media and caller_gateway is not None else "",
        callerproductid=caller_gateway.user_agent if caller_gateway is not None else "",
        callerareacode=rate.area_code if rate is not None else "",
        callercallid=caller_id, calleroriginalcallid=caller_id,
        rtpforward=1 if call.attempts else 0,
    )
    if callee_gateway is not None:
        vos.calleetype = 1
        vos.calleeproductid = callee_gateway.user_agent
        vos.calleecallid = cdr.leg_call_id("callee", switch.config.address)
        area_rate = vendor_rate if vendor_rate is not None else rate
        vos.calleeareacode = area_rate.area_code if area_rate is not None else ""
        if media:
            vos.calleecodec = callee_gateway.codec
            vos.calleertpip = callee_gateway.rtp_ip or host_of(callee_gateway.ip)
    cdr.vos = vos


def host_of(address: str) -> str:
    """``203.0.113.10:5060`` -> ``203.0.113.10`` (IPv6 addresses are left alone)."""
    return address.rsplit(":", 1)[0] if address.count(":") == 1 else address
