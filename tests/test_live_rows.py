"""The core's endings that only live mode reaches (issue 23): shutdown, an unACKed 200, a refresh
refused, an INVITE shed under overload; the full RFC phrase table; a redirect as a rejection.
Driven through the core's own Call, without any network."""

from __future__ import annotations

from simulator import parse_scenario
from simulator.core import _decisions as table
from simulator.core._cdr import cdr_from_call
from simulator.core._reasons import sip_phrase
from simulator.core._state import CallAttempt, Kind, Leg, Phase, Switch
from simulator.scenario._core import core_config

SCENARIO = """\
version: 1
switch: {SS_SIP_SESSION_TTL: 60, SS_SIP_SESSION_UPDATE_SEGMENT: 2}
accounts: {A: {rate_table: r}}
rate_tables: {r: [{prefix: "1", fee: 0.6, period: 60}]}
mapping_gateways: {IN: {account: A, ips: ["203.0.113.10"]}}
routing_gateways: {OUT: {ip: "198.51.100.20", prefixes: ["1"]}}
"""


class Port:
    def __init__(self) -> None:
        self.ended = []

    def invite_gateway(self, call, gateway) -> None: ...
    def answered(self, call) -> None: ...
    def send_refresh(self, call, leg) -> None: ...

    def released(self, call) -> None:
        self.ended.append(call)


def new_call(port: Port, trace: bool = False):
    switch = Switch(core_config(parse_scenario(SCENARIO, "rows.yaml")), port, trace=trace)
    call = switch.new_call(CallAttempt("c", 0.0, "203.0.113.10", "100", "1555"), 0)
    call.start()
    return call


def ending(call) -> tuple[int, int]:
    cdr = cdr_from_call(call, 1, 1)
    return cdr.enddirection, cdr.endreason


def test_shutdown_releases_an_answered_call_as_a_server_release():
    port = Port()
    call = new_call(port)
    call.deliver(1.0, Kind.GATEWAY_ANSWER, 1)
    call.deliver(11.0, Kind.SHUTDOWN)
    assert call.verdict is table.SHUTDOWN_RELEASE and call.verdict.row == 23
    assert ending(call) == (2, 13) and call.hold_time == 10 and port.ended == [call]


def test_shutdown_before_answer_is_a_server_release_with_503():
    call = new_call(Port(), trace=True)
    call.deliver(0.5, Kind.GATEWAY_RINGING, 1)
    call.deliver(2.0, Kind.SHUTDOWN)
    assert call.verdict is table.SHUTDOWN_BEFORE_ANSWER and call.verdict.sip_code == 503
    assert ending(call) == (2, 13) and call.final_gateway == "OUT"
    messages = [m[3] for m in call.trace if m[1] != "*"]
    assert "CANCEL" in messages and "503" in messages


def test_an_unacked_200_is_a_session_timeout_never_a_caller_hangup():
    call = new_call(Port())
    call.deliver(1.0, Kind.GATEWAY_ANSWER, 1)
    call.deliver(33.0, Kind.ACK_TIMEOUT)
    assert call.verdict is table.ACK_TIMEOUT and call.verdict.row == 27
    assert ending(call) == (2, 14) and call.hold_time == 32
    assert cdr_from_call(call, 1, 1).sipreasonheader == 'SIP;cause=408;text="Request Timeout"'


def test_a_refused_refresh_ends_the_call_at_once_on_the_refresh_row():
    call = new_call(Port())
    call.deliver(1.0, Kind.GATEWAY_ANSWER, 1)
    call.advance(31.0)  # TTL 60 / 2: the switch refreshes both legs at 31 s
    number = call.pending_refresh(Leg.CALLEE)
    call.deliver(31.2, Kind.REFRESH_TIMEOUT, (Leg.CALLEE, number, 481))
    assert call.phase is Phase.ENDED and call.verdict is table.REFRESH_FAILED
    assert call.end_at == 31.2  # not 32 s of timer B later


def test_an_overloaded_switch_records_the_invite_it_sheds():
    port = Port()
    switch = Switch(core_config(parse_scenario(SCENARIO, "rows.yaml")), port)
    call = switch.new_call(CallAttempt("shed", 4.0, "203.0.113.10", "100", "1555"), 0)
    call.refuse_overloaded()
    cdr = cdr_from_call(call, 1, 1)
    assert (cdr.enddirection, cdr.endreason, cdr.billingmode) == (2, 18, -1)
    assert cdr.callergatewayid == "IN" and cdr.customeraccount == "A"
    assert cdr.sipreasonheader == 'SIP;cause=503;text="Service Unavailable"'


def test_every_rfc_code_has_its_phrase_and_unknown_codes_their_class():
    assert [sip_phrase(c) for c in (400, 405, 415, 420, 422, 482, 483, 491, 501, 580)] == [
        "Bad Request", "Method Not Allowed", "Unsupported Media Type", "Bad Extension",
        "Session Interval Too Small", "Loop Detected", "Too Many Hops", "Request Pending",
        "Not Implemented", "Precondition Failure"]
    assert sip_phrase(302) == "Moved Temporarily"
    assert sip_phrase(499) == "Request Failure" and sip_phrase(599) == "Server Failure"


def test_a_redirect_is_that_gateways_refusal():
    verdict = table.callee_rejection(302)
    assert (verdict.row, verdict.end_direction, verdict.sip_code, verdict.q850) == (
        16, table.Party.CALLEE, 302, 22)
    scenario = parse_scenario(SCENARIO + 'calls:\n  - {id: r, from: IN, caller: "1", '
                              'callee: "1555", callee_does: {reject: 302}}\n', "r.yaml")
    assert scenario.calls[0].callee_does.reject == 302
