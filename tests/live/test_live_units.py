"""Live-mode pieces without the network: address mapping, the 400 for unparsable requests, and
the agents a scenario needs (or why it cannot be played live)."""

from __future__ import annotations

import re

import pytest

from simulator import parse_scenario
from simulator.transports.live._addresses import AddressPlan, SourceIndex
from simulator.transports.live._capacity import agent_needs, peak
from simulator.transports.live._switch import LiveError, bad_request_response

SCENARIO = """\
version: 1
accounts: {A: {rate_table: r}, B: {rate_table: r}}
rate_tables: {r: [{prefix: "1", fee: 0.1}]}
mapping_gateways:
  PUBLIC: {account: A, ips: ["203.0.113.10", "203.0.113.11"]}
  LOCAL: {account: B, ips: ["127.0.0.1:5161"]}
routing_gateways:
  V1: {ip: "198.51.100.20", prefixes: ["1"]}
  V2: {ip: "198.51.100.21:5070", prefixes: ["1"]}
  V3: {ip: "127.0.0.1:5162", prefixes: ["1"]}
"""


def plan_and_index():
    scenario = parse_scenario(SCENARIO, "units.yaml")
    plan = AddressPlan.for_scenario(scenario, default_port=6000)
    return plan, SourceIndex.build(scenario, plan)


def test_public_addresses_map_onto_distinct_loopback_hosts_and_keep_ports():
    plan, _ = plan_and_index()
    assert plan.local("203.0.113.10") == ("127.0.0.10", 6000)
    assert plan.local("203.0.113.11") == ("127.0.0.11", 6000)
    assert plan.local("198.51.100.20") == ("127.0.0.12", 6000)
    assert plan.local("198.51.100.21:5070") == ("127.0.0.13", 5070)
    assert plan.local("127.0.0.1:5162") == ("127.0.0.1", 5162)  # loopback stays as it is
    assert "203.0.113.10 -> 127.0.0.10" in plan.describe()
    assert all(not local.startswith("203.") for _, local in plan.mapped())


def test_invite_sources_are_recognised_by_host_or_host_and_port():
    _, index = plan_and_index()
    assert index.scenario_address("127.0.0.10", 40000) == "203.0.113.10"
    assert index.scenario_address("127.0.0.1", 5161) == "127.0.0.1:5161"
    assert index.scenario_address("127.0.0.1", 5999) == "127.0.0.1"   # unknown: row 1
    assert index.scenario_address("127.0.0.12", 1) == "198.51.100.20"  # not a mapping gateway


def test_400_copies_the_headers_a_response_needs():
    request = (b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nv: SIP/2.0/UDP 127.0.0.1:5;branch=z9hG4bK1\r\n"
               b"From: <sip:a@b>;tag=1\r\nTo: <sip:x@y>\r\nCSeq: one OPTIONS\r\n\r\n")
    response = bad_request_response(request).decode()
    assert response.startswith("SIP/2.0 400 Bad Request\r\n")
    assert "v: SIP/2.0/UDP 127.0.0.1:5;branch=z9hG4bK1\r\n" in response
    assert "CSeq: one OPTIONS\r\n" in response and "Content-Length: 0" in response


def test_no_400_where_it_could_not_be_delivered_or_must_not_be_sent():
    no_via = b"OPTIONS sip:x@y SIP/2.0\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\n\r\n"
    ack = b"ACK sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n"
    response = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n"
    assert bad_request_response(no_via) is None
    assert bad_request_response(ack) is None
    assert bad_request_response(response) is None
    assert bad_request_response(b"\x00\x01garbage") is None


FIXED_PORT = """\
version: 1
accounts: {A: {rate_table: r}}
rate_tables: {r: [{prefix: "1", fee: 0.1}]}
mapping_gateways:
  PBX: {account: A, ips: ["127.0.0.1:5161"]}
routing_gateways:
  V1: {ip: "198.51.100.20", prefixes: ["1"]}
calls:
"""


def _calls(count: int, spacing: float, hold: float) -> str:
    return "".join(f"  - {{id: c{n}, at: {n * spacing}, from: PBX, caller: '100', callee: '1{n}',"
                   f" caller_does: {{hangup_after: {hold}}}}}\n" for n in range(count))


def test_peak_counts_spans_that_overlap_within_the_margin():
    spans = [(0.0, 10.0, "a"), (1.0, 2.0, "b"), (2.5, 3.0, "c"), (20.0, 21.0, "d")]
    assert peak(spans, margin=0.0).legs == 2
    busiest = peak(spans, margin=1.0)  # b is still holding its slot when c starts
    assert (busiest.legs, busiest.at, busiest.calls) == (3, 2.5, ["a", "b", "c"])


def test_a_gateway_gets_one_agent_per_four_calls_up_at_once():
    scenario = parse_scenario(FIXED_PORT.replace('"127.0.0.1:5161"', '"127.0.0.1"')
                              + _calls(9, 0.5, 30), "nine.yaml")
    needs = agent_needs(scenario, speed=1.0)
    assert needs.gateway_peaks["V1"].legs == 9
    assert needs.gateway_agents == {"V1": 3}


def test_more_calls_at_once_than_one_fixed_source_port_holds_is_refused_up_front():
    scenario = parse_scenario(FIXED_PORT + _calls(5, 1.0, 30), "fixed.yaml")
    with pytest.raises(LiveError) as refused:
        agent_needs(scenario, speed=1.0)
    message = str(refused.value)
    assert "5 calls come from 127.0.0.1:5161, one fixed source port" in message
    assert "5 of them are up at once at t=4 s (c0, c1, c2, c3, c4)" in message
    # the same calls one after another fit in the one process
    assert agent_needs(parse_scenario(FIXED_PORT + _calls(5, 40.0, 30), "ok.yaml"), 1.0)


def test_h323_legs_and_outages_are_refused_up_front():
    h323 = parse_scenario(FIXED_PORT.replace('prefixes: ["1"]}', 'prefixes: ["1"], '
                                             'protocol: h323}') + _calls(1, 1, 5), "h.yaml")
    with pytest.raises(LiveError, match=re.escape("routing gateway V1: live mode has no H.323")) \
            as refused:
        agent_needs(h323, speed=1.0)
    assert "docs/h323.md" in str(refused.value)  # says why, and where H.225 is shown instead
    outage = parse_scenario(FIXED_PORT.replace('prefixes: ["1"]}', 'prefixes: ["1"], outages: '
                                               '[{at: 10, until: 20, status: down}]}')
                            + _calls(1, 1, 5), "o.yaml")
    with pytest.raises(LiveError, match="routing gateway V1: outages are not played live"):
        agent_needs(outage, speed=1.0)


def test_a_reason_header_is_kept_as_the_peer_wrote_it():
    """The vos3000 profile copies a peer's Reason header verbatim into sipreasonheader."""
    from sippy.CCEvents import CCEventDisconnect, CCEventFail
    from sippy.SipReason import SipReason

    from simulator.transports.live._switch import _reason_text

    written = 'SIP; cause=487; text="ORIGINATOR_CANCEL"'
    event = CCEventDisconnect()
    event.reason_rfc3326 = SipReason(written)
    assert _reason_text(event) == written
    made = CCEventFail((503, "Service Unavailable"))
    made.reason_rfc3326 = SipReason(protocol="Q.850", cause=34)
    assert _reason_text(made) == "Q.850; cause=34"
    assert _reason_text(CCEventDisconnect()) == ""


def test_an_exception_inside_the_sip_stack_is_counted_and_logged_once_per_interval(capsys):
    from simulator.transports.live._switch import StackErrors, _dump_exception, stack_errors

    errors = StackErrors()
    for _ in range(3):
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            errors.exception("EventDispatcher2: unhandled exception when processing timeout")
    assert errors.count == 3 and errors.unreported == 2
    logged = capsys.readouterr().err
    assert logged.count("exception inside the SIP stack") == 1 and "RuntimeError: boom" in logged
    assert "3 exceptions inside the SIP stack" in errors.summary()
    assert "RuntimeError: boom" in errors.summary()
    # sippy's own reports: a parse failure is bad input, anything else a counted exception
    before, unparseable = stack_errors.count, stack_errors.unparseable
    _dump_exception("can't parse SIP response from 127.0.0.1:5")
    assert (stack_errors.count, stack_errors.unparseable) == (before, unparseable + 1)
    try:
        raise KeyError("x")
    except KeyError:
        _dump_exception("Signal: unhandled exception in signal callback")
    assert stack_errors.count == before + 1
    stack_errors.count = before  # the module's counter is the run's: leave it as found


class _RecordingTransactions:
    """What sippy's UA asks of its transaction manager, kept instead of sent: the responses,
    and the requests of new transactions (a BYE)."""

    def __init__(self) -> None:
        self.responses: list[tuple[int, str]] = []
        self.requests: list[str] = []
        self.sent: list = []  # (request, the callback its responses go to)

    def sendResponse(self, resp, t=None, retrans=False, ack_cb=None, lossemul=0):
        self.responses.append(resp.getSCode())

    def newTransaction(self, msg, resp_cb=None, *args, **kwargs):
        self.requests.append(msg.getMethod())
        self.sent.append((msg, resp_cb))
        return _ServerTransaction()  # sippy notes things on it

    def regConsumer(self, *args, **kwargs):
        pass

    def unregConsumer(self, *args, **kwargs):
        pass


class _ServerTransaction:
    """A transaction, for what sippy's UA writes on it."""

    compact = False


def _caller_request(method: str, cseq: int):
    from sippy.SipRequest import SipRequest
    from sippy.Time.MonoTime import MonoTime

    to_tag = ";tag=switch" if method != "INVITE" else ""
    request = SipRequest(
        f"{method} sip:8801@127.0.0.1:5060 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5161;branch=z9hG4bKunit" f"{cseq}\r\n"
        "From: <sip:100@127.0.0.1:5161>;tag=caller\r\n"
        f"To: <sip:8801@127.0.0.1:5060>{to_tag}\r\nCall-ID: unit-timer-h@127.0.0.1\r\n"
        f"CSeq: {cseq} {method}\r\nContact: <sip:100@127.0.0.1:5161>\r\n"
        "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
    request.rtime = MonoTime()
    return request


def _answered_caller_leg(tm: _RecordingTransactions):
    """The caller's leg as the switch keeps it (its UA class), answered with a 200 that waits
    for its ACK; with the INVITE transaction's no-ACK callback (what timer H calls)."""
    from sippy.CCEvents import CCEventPreConnect

    from simulator.transports.live._switch import _LegUA

    events: list = []
    leg = _LegUA({"_sip_tm": tm}, event_cb=lambda event, ua: events.append(event))
    _, _, no_ack = leg.recvRequest(_caller_request("INVITE", 1), _ServerTransaction())
    leg.recvEvent(CCEventPreConnect((200, "OK", None)))
    assert leg.isConnected() and tm.responses[-1] == (200, "OK")
    events.clear()
    return leg, no_ack, events


def test_a_bye_before_the_ack_is_told_apart_from_timer_h():
    """The live switch books the caller leg's disconnect while its 200 is unACKed as timer H
    (server session timeout) or as the caller's BYE by the event sippy makes of it."""
    from sippy.CCEvents import CCEventDisconnect

    from simulator.transports.live._switch import _timer_h_ended

    tm = _RecordingTransactions()
    leg, _, events = _answered_caller_leg(tm)
    leg.recvRequest(_caller_request("BYE", 2), _ServerTransaction())
    (bye,) = events
    assert isinstance(bye, CCEventDisconnect) and tm.responses[-1] == (200, "OK")
    assert not _timer_h_ended(bye)  # the caller hung up

    tm = _RecordingTransactions()
    leg, no_ack, events = _answered_caller_leg(tm)
    no_ack()  # timer H ran out on the 200
    (timeout,) = events
    assert isinstance(timeout, CCEventDisconnect) and tm.requests == ["BYE"]
    assert _timer_h_ended(timeout)


def _gateway_leg_sent_invite():
    """The gateway's leg as the switch keeps it (its UA class), its INVITE just sent."""
    from sippy.CCEvents import CCEventTry
    from sippy.SipCallId import SipCallId

    from simulator.transports.live._switch import _LegUA

    tm = _RecordingTransactions()
    events: list = []
    leg = _LegUA({"_sip_tm": tm}, event_cb=lambda event, ua: events.append(event),
                 nh_address=("127.0.0.1", 5062))
    leg.recvEvent(CCEventTry((SipCallId(), "100", "8801", None, None, "100")))
    ((invite, to_leg),) = tm.sent
    assert invite.getMethod() == "INVITE"
    return leg, invite, to_leg, events


def test_sippys_own_timer_b_408_is_told_apart_from_a_gateways_408():
    """An INVITE nobody answers: sippy's timer B (32 s real, whatever --speed) gives the leg a
    408 it made itself. The live switch leaves that call to the core's timer B, at the
    scenario's speed (row 18: the next gateway, or (2, 21) and 503); a 408 the gateway sent is
    that gateway's refusal. sippy makes the same event of both, origin included."""
    from types import SimpleNamespace

    from sippy.CCEvents import CCEventFail
    from sippy.Time.MonoTime import MonoTime

    leg, invite, to_leg, events = _gateway_leg_sent_invite()
    local = invite.genResponse(408, "Request Timeout")  # what sippy's timerB() hands over
    local.rtime = MonoTime()
    to_leg(local, None)
    (timed_out,) = events
    assert isinstance(timed_out, CCEventFail) and timed_out.getData()[0] == 408
    assert leg.timed_out

    leg, invite, to_leg, events = _gateway_leg_sent_invite()
    sent = invite.genResponse(408, "Request Timeout")
    sent.rtime = MonoTime()
    sent.setSource(SimpleNamespace(address=("127.0.0.1", 5062), transport="udp"))  # received
    to_leg(sent, None)
    (refused,) = events
    assert isinstance(refused, CCEventFail) and refused.getData()[0] == 408
    assert not leg.timed_out
    assert refused.origin == timed_out.origin  # why the switch looks at the response itself
