"""The CDR of a finished core ``Call``: one function shared by every transport."""

from __future__ import annotations

import weakref
from collections.abc import Callable

from simulator.core._decisions import Verdict
from simulator.core._record import Cdr
from simulator.core._state import Call, Switch

_new = object.__new__
_ENDINGS_KEPT = 1024  # verdicts made per call (unnamed reject codes) must not grow the cache
_HOSTS_KEPT = 1024  # a live switch may meet any number of gateway addresses


class _SwitchFacts:
    """What every record of one switch shares. A load run builds a record per call, so these
    are looked up once per switch rather than once per record."""

    __slots__ = ("endings", "epoch", "hosts", "name", "ref", "round")

    def __init__(self, switch: Switch, ref: weakref.ref[Switch]) -> None:
        self.ref = ref
        self.epoch: float = switch.start_epoch
        # What the builtin round calls for a float, without its method lookup; an epoch that
        # is not a float (a hand-built config) may give an int instant, which round takes.
        self.round: Callable[[float], int] = \
            float.__round__ if isinstance(self.epoch, float) else round
        self.name: str = switch.config.name
        self.hosts: dict[str, str] = {}  # final_gateway_ip -> calleeip
        # protocol -> id(verdict) -> (verdict, ending fields). By identity: a Verdict hashes
        # its every field in Python, which costs more than the switch's own cache saves. The
        # verdict is kept with its fields, so its id cannot be reused while it is cached.
        self.endings: dict[str, dict[int, tuple[Verdict, tuple[int, int, str, str, str]]]] = {}


# id(switch) -> its facts; an entry goes when its switch does (the weak reference's callback).
_FACTS: dict[int, _SwitchFacts] = {}


def _facts_of(switch: Switch) -> _SwitchFacts:
    key = id(switch)

    def forget(ref: weakref.ref[Switch]) -> None:
        facts = _FACTS.get(key)
        if facts is not None and facts.ref is ref:
            del _FACTS[key]

    facts = _FACTS[key] = _SwitchFacts(switch, weakref.ref(switch, forget))
    return facts


def _ending(facts: _SwitchFacts, switch: Switch, verdict: Verdict,
            protocol: str) -> tuple[int, int, str, str, str]:
    by_id = facts.endings.get(protocol)
    if by_id is None:
        by_id = facts.endings[protocol] = {}
    fields = switch.ending_fields(verdict, protocol)
    if len(by_id) >= _ENDINGS_KEPT:
        by_id.clear()
    by_id[id(verdict)] = (verdict, fields)
    return fields


def _host(facts: _SwitchFacts, address: str) -> str:
    hosts = facts.hosts
    if len(hosts) >= _HOSTS_KEPT:
        hosts.clear()
    host = hosts[address] = host_of(address)
    return host


def cdr_from_call(call: Call, flowno: int | None, seed: int) -> Cdr:
    """The record of ``call`` (ended); ``flowno`` is None for a suppressed record."""
    switch = call.switch
    facts = _FACTS.get(id(switch))
    if facts is None or facts.ref() is not switch:
        facts = _facts_of(switch)
    # Switch.wall_ms, inlined (a load run converts three to five instants per record); an
    # instant the call shares with an earlier one is converted once.
    epoch = facts.epoch
    to_ms = facts.round
    invite_at = call.invite_at
    stop = to_ms((epoch + call.end_at) * 1000)
    answer_at = call.answer_at
    start = to_ms((epoch + answer_at) * 1000) if answer_at is not None else stop
    invite = to_ms((epoch + invite_at) * 1000)
    caller_pdd_at = call.caller_pdd_at
    caller_pdd_ms = to_ms((epoch + caller_pdd_at) * 1000) if caller_pdd_at is not None else 0
    caller_pdd = caller_pdd_ms - invite if caller_pdd_at is not None else 0
    callee_pdd_at = call.callee_pdd_at
    gateway_invite_at = call.gateway_invite_at
    if callee_pdd_at is not None and gateway_invite_at is not None:
        callee_pdd = (caller_pdd_ms if callee_pdd_at == caller_pdd_at
                      else to_ms((epoch + callee_pdd_at) * 1000)) - \
            (invite if gateway_invite_at == invite_at
             else to_ms((epoch + gateway_invite_at) * 1000))
    else:
        callee_pdd = 0
    verdict = call.verdict
    protocol = call.caller_protocol
    by_id = facts.endings.get(protocol)
    cached = by_id.get(id(verdict)) if by_id is not None else None
    if cached is not None and cached[0] is verdict:
        end_reason, end_direction, sip_header, reason_name, reason_category = cached[1]
    else:
        end_reason, end_direction, sip_header, reason_name, reason_category = \
            _ending(facts, switch, verdict, protocol)
    account = call.account
    rate = call.rate
    attempt = call.attempt
    gateway_name = call.gateway_name
    final_gateway = call.final_gateway
    address = call.final_gateway_ip
    callee_ip = facts.hosts.get(address)
    if callee_ip is None:
        callee_ip = _host(facts, address)
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
    cdr.calleegatewayid = final_gateway
    cdr.callerip = attempt.source_ip
    cdr.calleeip = callee_ip
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
    cdr.callerpdd = caller_pdd
    cdr.calleepdd = callee_pdd
    cdr.billingmode = 1 if call.billed else -1
    cdr.flowno = flowno if recorded else None
    cdr.softswitchname = facts.name
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
