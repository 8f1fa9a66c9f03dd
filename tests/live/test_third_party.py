"""Third-party SIP behaviour against `vossim live` (issue 23): SIPp scenarios written for the
project (tests/live/sipp/), each with the CDR it must leave, and where the scenario language can
express the same behaviour, the simulated CDR beside it.

Each test runs one SIPp caller (uac) and one SIPp gateway (uas) against a switch that serves for a
few seconds; timers are shrunk with --speed or scenario settings so that no test takes long. Once
the SIPp parties are done, the switch is stopped (SIGTERM, as at the end of --duration) rather
than left to serve out its --duration, which stays as the upper bound of each test.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

from simulator import load_scenario, run_scenario

SWITCH = """\
version: 1
name: third-party
seed: 1
switch: {{media_timeout: 0, SS_SIP_SESSION_TTL: {ttl}, SS_SIP_SESSION_UPDATE_SEGMENT: 1,
          SS_SIP_NO_TIMER_REINVITE_INTERVAL: 0, no_answer_timeout: {no_answer}}}
accounts:
  ACME: {{type: postpaid, rate_table: retail}}
rate_tables:
  retail: [{{prefix: "880", fee: 0.25, period: 60}}]
mapping_gateways:
  SIPP-UAC: {{account: ACME, ips: ["127.0.0.1:{uac}"], session_timer: false}}
routing_gateways:
  SIPP-UAS: {{ip: "127.0.0.1:{uas}", prefixes: ["880"]}}
"""
CALLEE = "8801711000001"


def switch_yaml(kit, ttl: float = 0, no_answer: float = 60) -> Path:
    return kit.scenario(SWITCH.format(uac=kit.uac_port, uas=kit.uas_port, ttl=ttl,
                                      no_answer=no_answer))


def simulated(kit, call: str, ttl: float = 0, no_answer: float = 60) -> dict:
    """The CDR of the same behaviour simulated: the switch file plus one scripted call."""
    text = SWITCH.format(uac=kit.uac_port, uas=kit.uas_port, ttl=ttl, no_answer=no_answer)
    path = kit.scenario(text + "calls:\n  - {id: c, from: SIPP-UAC, caller: \"100\", "
                        f"callee: \"{CALLEE}\", {call}}}\n", "simulated.yaml")
    out = kit.tmp / "simulated"
    run_scenario(load_scenario(path), out, ("jsonl",))
    (record,) = [json.loads(line) for line in (out / "cdr.jsonl").read_text().splitlines()]
    return record


def only(cdrs: list[dict]) -> dict:
    assert len(cdrs) == 1, cdrs
    return cdrs[0]


def ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def uas_ok(proc: subprocess.Popen) -> None:
    """The SIPp gateway ran its scenario to the end (every expected message came, in order)."""
    try:
        output, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        raise AssertionError(f"the SIPp gateway did not finish:\n{output[-3000:]}") from None
    assert proc.returncode == 0, output[-3000:]


def same(live: dict, sim: dict, *fields: str) -> None:
    for name in ("enddirection", "endreason", "sipreasonheader", "billingmode",
                 "calleegatewayid", *fields):
        assert live[name] == sim[name], (name, live[name], sim[name])


# -- the gateway's side (uas) -------------------------------------------------------------------

def test_delayed_answer_pdd_and_no_answer_timer_start_at_the_180(kit):
    # 100 at once, 180 after 1.5 s, 200 1 s later. With a 2 s no-answer timer, a timer started
    # at the 100 would end the call at 2 s; started at the 180 it leaves room for the answer.
    switch = kit.switch(switch_yaml(kit, no_answer=2), 6)
    gateway = kit.uas("-sf", str(kit.xml("uas_delayed_answer.xml", ring_ms=1500,
                                         answer_ms=1000)), "-m", "1")
    ok(kit.uac("-sn", "uac", "-s", CALLEE, "-d", "1000"))
    uas_ok(gateway)
    cdr = only(switch.stop())
    assert (cdr["enddirection"], cdr["endreason"], cdr["holdtime"]) == (0, 11, 1)
    assert 1400 <= cdr["callerpdd"] <= 1800, cdr["callerpdd"]  # the 180, not the 100 (~0 ms)
    assert 1400 <= cdr["calleepdd"] <= 1800, cdr["calleepdd"]
    sim = simulated(kit, "callee_does: {ring_after: 1.5, answer_after: 2.5}, "
                         "caller_does: {hangup_after: 1}", no_answer=2)
    same(cdr, sim, "holdtime")
    assert abs(cdr["callerpdd"] - sim["callerpdd"]) <= 300


def test_early_media_183_with_sdp_reaches_the_caller(kit):
    switch = kit.switch(switch_yaml(kit), 5)
    gateway = kit.uas("-sf", str(kit.xml("uas_early_media.xml", answer_ms=800)), "-m", "1")
    ok(kit.uac("-sf", str(kit.xml("uac_early_media.xml", hold_ms=300)), "-s", CALLEE))
    uas_ok(gateway)
    cdr = only(switch.stop())
    assert (cdr["enddirection"], cdr["endreason"]) == (0, 11)
    assert cdr["callerpdd"] < 300  # the 183 came at once: it is the progress, not the 200


def test_481_to_a_refresh_ends_the_call_at_once(kit):
    # TTL 20 s at x10: the switch refreshes the gateway 2 s after answer and gets 481. The call
    # ends there on the session-refresh row (holdTime 20), not 32 s of timer B later (52).
    switch = kit.switch(switch_yaml(kit, ttl=20), 6, "--speed", "10")
    gateway = kit.uas("-sf", str(kit.xml("uas_refresh_481.xml")), "-m", "1")
    ok(kit.uac("-sf", str(kit.xml("uac_wait_bye.xml")), "-s", CALLEE))
    uas_ok(gateway)
    cdr = only(switch.stop())
    assert (cdr["enddirection"], cdr["endreason"]) == (2, 14)
    assert 19 <= cdr["holdtime"] <= 23, cdr["holdtime"]
    assert cdr["sipreasonheader"] == 'SIP;cause=408;text="Request Timeout"'


def test_302_is_that_gateways_failure_and_its_ack_goes_to_the_gateway(kit):
    # The Contact names a loopback port nobody serves: the ACK must still reach the gateway
    # (same address as the INVITE), or SIPp's uas would not finish its scenario.
    switch = kit.switch(switch_yaml(kit), 4)
    contact = f"moved@127.0.0.1:{kit.base + 7}"
    gateway = kit.uas("-sf", str(kit.xml("uas_redirect.xml", contact=contact)), "-m", "1")
    ok(kit.uac("-sf", str(kit.xml("uac_refused.xml", code=302)), "-s", CALLEE))
    uas_ok(gateway)
    cdr = only(switch.stop())
    assert (cdr["enddirection"], cdr["endreason"], cdr["holdtime"]) == (1, 23, 0)
    assert cdr["sipreasonheader"] == 'SIP;cause=302;text="Moved Temporarily"'
    same(cdr, simulated(kit, "callee_does: {reject: 302}"))


def test_491_keeps_its_rfc_phrase_like_the_simulation(kit):
    switch = kit.switch(switch_yaml(kit), 4)
    gateway = kit.uas("-sf", str(kit.xml("uas_reject.xml", code=491, phrase="Request Pending")),
                      "-m", "1")
    ok(kit.uac("-sf", str(kit.xml("uac_refused.xml", code=491)), "-s", CALLEE))
    uas_ok(gateway)
    cdr = only(switch.stop())
    assert cdr["sipreasonheader"] == 'SIP;cause=491;text="Request Pending"'
    same(cdr, simulated(kit, "callee_does: {reject: 491}"))


def test_malformed_400_is_a_failure_with_its_own_phrase(kit):
    switch = kit.switch(switch_yaml(kit), 4)
    gateway = kit.uas("-sf", str(kit.xml("uas_malformed_400.xml")), "-m", "1")
    ok(kit.uac("-sf", str(kit.xml("uac_refused.xml", code=400)), "-s", CALLEE))
    uas_ok(gateway)
    cdr = only(switch.stop())
    assert (cdr["enddirection"], cdr["endreason"]) == (1, 23)
    # the gateway's phrase, its quotes made safe for the RFC 3326 text
    assert cdr["sipreasonheader"] == \
        'SIP;cause=400;text="Bad Request - Missing   Header (x=1;  y )"'


def test_200_without_sdp_still_connects(kit):
    switch = kit.switch(switch_yaml(kit), 4)
    gateway = kit.uas("-sf", str(kit.xml("uas_200_no_sdp.xml")), "-m", "1")
    ok(kit.uac("-sn", "uac", "-s", CALLEE, "-d", "500"))
    uas_ok(gateway)
    cdr = only(switch.stop())
    assert (cdr["enddirection"], cdr["endreason"]) == (0, 11)


# -- the caller's side (uac) --------------------------------------------------------------------

def test_late_offer(kit):
    switch = kit.switch(switch_yaml(kit), 4)
    kit.uas("-sn", "uas")
    ok(kit.uac("-sf", str(kit.xml("uac_late_offer.xml", hold_ms=1000)), "-s", CALLEE))
    cdr = only(switch.stop())
    assert (cdr["enddirection"], cdr["endreason"], cdr["holdtime"]) == (0, 11, 1)
    same(cdr, simulated(kit, "callee_does: {answer_after: 0}, caller_does: {hangup_after: 1}"),
         "holdtime")


def test_hold_resume_and_info_are_relayed_end_to_end(kit):
    switch = kit.switch(switch_yaml(kit), 5)
    gateway = kit.uas("-sf", str(kit.xml("uas_midcall.xml")), "-m", "1")
    ok(kit.uac("-sf", str(kit.xml("uac_midcall.xml")), "-s", CALLEE))
    uas_ok(gateway)  # checks the relayed SDP (sendonly, sendrecv), P-Asserted-Identity, DTMF
    cdr = only(switch.stop())
    assert (cdr["enddirection"], cdr["endreason"]) == (0, 11)


def test_offerless_reinvite_gets_the_gateways_offer_and_the_acks_answer(kit):
    # RFC 6337 §5.3, both ways in one call. The caller's re-INVITE reaches the gateway without
    # SDP, the gateway's 200 brings the offer to the caller (its o= line as written), and the
    # caller's ACK brings the answer to the gateway's ACK; then the gateway sends one to the
    # caller the same way. Both SIPp scenarios fail on any other way (a hold offer made up by
    # the switch, a 200 without SDP, an ACK without the answer, a header lost).
    switch = kit.switch(switch_yaml(kit), 3)
    gateway = kit.uas("-sf", str(kit.xml("uas_offerless_reinvite.xml")), "-m", "1")
    ok(kit.uac("-sf", str(kit.xml("uac_offerless_reinvite.xml", hold_ms=1000)), "-s", CALLEE))
    uas_ok(gateway)
    cdr = only(switch.stop())
    assert (cdr["enddirection"], cdr["endreason"], cdr["holdtime"]) == (0, 11, 1)


def test_refused_offerless_reinvite_keeps_the_call_and_what_each_leg_knows(kit):
    # The gateway refuses the offerless re-INVITE (488): the refusal reaches the caller and the
    # call goes on. The gateway then refreshes with its unchanged SDP, which the switch answers
    # itself with the last SDP it sent on that leg, the caller's (sippy forgets that SDP when a
    # re-INVITE is refused and would answer the refresh without SDP).
    switch = kit.switch(switch_yaml(kit), 3)
    gateway = kit.uas("-sf", str(kit.xml("uas_offerless_refused.xml")), "-m", "1")
    ok(kit.uac("-sf", str(kit.xml("uac_offerless_refused.xml", hold_ms=1000)), "-s", CALLEE))
    uas_ok(gateway)
    cdr = only(switch.stop())
    assert (cdr["enddirection"], cdr["endreason"], cdr["holdtime"]) == (0, 11, 1)


def test_offer_never_answered_the_gateway_is_acked_before_its_bye(kit):
    # The caller hangs up instead of ACKing the gateway's offer: the gateway's held ACK goes
    # out first (with the last SDP the switch sent on that leg), then its BYE.
    switch = kit.switch(switch_yaml(kit), 3)
    gateway = kit.uas("-sf", str(kit.xml("uas_offerless_no_ack.xml")), "-m", "1")
    ok(kit.uac("-sf", str(kit.xml("uac_offerless_no_ack.xml")), "-s", CALLEE))
    uas_ok(gateway)
    cdr = only(switch.stop())
    assert (cdr["enddirection"], cdr["endreason"]) == (0, 11)


def test_unacked_200_is_a_server_session_timeout(kit):
    # x8: timer H (32 s) runs out after 4 s; the switch BYEs both legs itself.
    switch = kit.switch(switch_yaml(kit), 6, "--speed", "8")
    kit.uas("-sn", "uas")
    ok(kit.uac("-sf", str(kit.xml("uac_no_ack.xml")), "-s", CALLEE))
    cdr = only(switch.stop())
    assert (cdr["enddirection"], cdr["endreason"]) == (2, 14)
    assert 31 <= cdr["holdtime"] <= 34, cdr["holdtime"]
    assert cdr["sipreasonheader"] == 'SIP;cause=408;text="Request Timeout"'


def unacked_reinvite_ends_as_a_session_timeout(kit, uac_xml: str, uas_xml: str) -> None:
    """One side sends a re-INVITE 0.5 s after the answer (4 s of scenario time at x8), gets the
    200 and neither ACKs it nor hangs up. At x8 timer H (32 s) runs out 4 s later: the switch
    BYEs both legs and books what it books for an unACKed first 200. Without the switch's own
    timer H, sippy's (32 s real) would outlast this switch's --duration (shutdown release) or,
    at x1, end the call as that side's hangup."""
    switch = kit.switch(switch_yaml(kit), 8, "--speed", "8")
    gateway = kit.uas("-sf", str(kit.xml(uas_xml, pause_ms=500)), "-m", "1")
    ok(kit.uac("-sf", str(kit.xml(uac_xml, pause_ms=500)), "-s", CALLEE))
    uas_ok(gateway)  # it got the BYE (after the ACK of its own 200, if held)
    cdr = only(switch.stop())
    assert (cdr["enddirection"], cdr["endreason"]) == (2, 14)  # as for the first 200
    assert cdr["sipreasonheader"] == 'SIP;cause=408;text="Request Timeout"'
    assert 35 <= cdr["holdtime"] <= 39, cdr["holdtime"]  # 4 s talking + timer H
    assert cdr["feetime"] == 60 and cdr["fee"] == 0.25, cdr  # one 60 s period billed
    assert "1 calls in progress at shutdown released" not in switch.output


def test_unacked_200_to_a_reinvite_is_a_server_session_timeout(kit):
    unacked_reinvite_ends_as_a_session_timeout(kit, "uac_reinvite_no_ack.xml",
                                               "uas_reinvite_then_bye.xml")


def test_unacked_200_to_an_offerless_reinvite_is_a_server_session_timeout(kit):
    unacked_reinvite_ends_as_a_session_timeout(kit, "uac_offerless_reinvite_no_ack.xml",
                                               "uas_offerless_no_ack.xml")


def test_unacked_200_to_a_reinvite_of_the_gateway_is_a_server_session_timeout(kit):
    unacked_reinvite_ends_as_a_session_timeout(kit, "uac_answer_reinvite.xml",
                                               "uas_reinvite_no_ack.xml")


def test_cancel_before_the_200(kit):
    switch = kit.switch(switch_yaml(kit), 4)
    gateway = kit.uas("-sf", str(kit.xml("uas_cancelled.xml")), "-m", "1")
    ok(kit.uac("-sf", str(kit.xml("uac_cancel.xml", cancel_ms=300)), "-s", CALLEE))
    uas_ok(gateway)
    cdr = only(switch.stop())
    assert (cdr["enddirection"], cdr["endreason"], cdr["holdtime"]) == (0, 11, 0)
    same(cdr, simulated(kit, "callee_does: {no_answer: true, ring_after: 0}, "
                             "caller_does: {cancel_after: 0.3}"))


def test_200_crossing_the_cancel_is_acked_then_byed(kit):
    trace = kit.tmp / "trace.jsonl"
    switch = kit.switch(switch_yaml(kit), 4, "--trace", str(trace))
    gateway = kit.uas("-sf", str(kit.xml("uas_cancel_crosses_200.xml")), "-m", "1")
    ok(kit.uac("-sf", str(kit.xml("uac_cancel.xml", cancel_ms=300)), "-s", CALLEE))
    uas_ok(gateway)  # its ACK came before its BYE
    cdr = only(switch.stop())
    assert (cdr["enddirection"], cdr["endreason"], cdr["holdtime"]) == (0, 11, 0)
    # the trace holds what went over the wire, beside the core's events: the gateway's 200
    # after the CANCEL, then the switch's ACK and BYE, and the caller's 487 and its ACK
    wire = [(w["wire"], w["leg"], w["sip"].split(" (")[0].split(" sip:")[0])
            for w in map(json.loads, trace.read_text().splitlines()) if "wire" in w]
    gateway_side = [m for m in wire if m[1] == "SIPP-UAS"]
    assert ("sent", "SIPP-UAS", "CANCEL") in gateway_side, wire
    after = gateway_side[gateway_side.index(("received", "SIPP-UAS", "SIP/2.0 200 OK")):]
    sent = [m[2] for m in after if m[0] == "sent"]
    assert sent[:2] == ["ACK", "BYE"], wire
    assert ("sent", "caller", "SIP/2.0 487 Request Terminated") in wire, wire
    assert ("received", "caller", "ACK") in wire, wire
    assert cdr["callercallid"] == cdr["callId"]  # the caller's own Call-ID, from the wire


def test_cancel_just_after_the_200_is_too_late(kit):
    switch = kit.switch(switch_yaml(kit), 4)
    kit.uas("-sn", "uas")
    ok(kit.uac("-sf", str(kit.xml("uac_cancel_after_200.xml", hold_ms=1000)), "-s", CALLEE))
    cdr = only(switch.stop())
    assert (cdr["enddirection"], cdr["endreason"], cdr["holdtime"]) == (0, 11, 1)


def test_call_up_at_the_end_of_duration_is_released_and_recorded(kit):
    switch = kit.switch(switch_yaml(kit), 3)
    kit.uas("-sn", "uas")  # waits for a BYE: the switch must send it
    ok(kit.uac("-sf", str(kit.xml("uac_wait_bye.xml")), "-s", CALLEE, timeout=15))
    cdr = only(switch.finish())
    assert (cdr["enddirection"], cdr["endreason"]) == (2, 13)
    assert cdr["holdtime"] >= 2 and cdr["sipreasonheader"] == 'SIP;cause=200;text="OK"'
    assert "1 calls in progress at shutdown released" in switch.output
    # the wire's Call-IDs, not seed-derived ones
    assert cdr["callercallid"].endswith(("@127.0.0.1", "127.0.0.1")) or "-" in \
        cdr["callercallid"]
    assert cdr["calleecallid"] and cdr["calleecallid"] != cdr["callercallid"]


def test_sigterm_releases_ringing_and_answered_calls(kit):
    import sys

    out = kit.tmp / "term"
    proc = kit.procs.start([sys.executable, "-m", "simulator.cli", "live", str(switch_yaml(kit)),
                            "--port", str(kit.switch_port), "-o", str(out), "--format", "jsonl",
                            "--no-agents"])
    kit.wait_for_switch()
    kit.uas("-sn", "uas")
    caller = kit.procs.start(["sipp", "-nostdin", "-i", "127.0.0.1", "-p", str(kit.uac_port),
                              f"127.0.0.1:{kit.switch_port}", "-m", "1", "-s", CALLEE,
                              "-sf", str(kit.xml("uac_wait_bye.xml"))])
    import time

    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0, output
    assert caller.wait(timeout=10) == 0  # it got the switch's BYE
    (cdr,) = [json.loads(x) for x in (out / "cdr.jsonl").read_text().splitlines()]
    assert (cdr["enddirection"], cdr["endreason"]) == (2, 13)


def test_unparseable_400_is_discarded_and_timer_b_decides(kit):
    # x10: the core's timer B (32 s) runs out after 3.2 s; no other gateway: row 18, (2, 21).
    switch = kit.switch(switch_yaml(kit), 5, "--speed", "10")
    kit.uas("-sf", str(kit.xml("uas_400_no_from.xml")), "-m", "1")
    ok(kit.uac("-sf", str(kit.xml("uac_refused.xml", code=503)), "-s", CALLEE))
    cdr = only(switch.stop())
    assert (cdr["enddirection"], cdr["endreason"]) == (2, 21)
    same(cdr, simulated(kit, "callee_does: {unreachable: true}"))


def test_an_invite_cancelled_before_it_was_forwarded_is_never_forwarded(kit):
    # INVITE and CANCEL in one burst: both are read before the switch forwards anything, and
    # the INVITE must not reach the gateway (a plain socket here, which records what comes).
    import socket
    import time

    switch = kit.switch(switch_yaml(kit), 3)
    gateway = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    gateway.bind(("127.0.0.1", kit.uas_port))
    caller = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    caller.bind(("127.0.0.1", kit.uac_port))
    try:
        head = (f"Via: SIP/2.0/UDP 127.0.0.1:{kit.uac_port};branch=z9hG4bKburst1\r\n"
                f"From: <sip:100@127.0.0.1:{kit.uac_port}>;tag=b1\r\n"
                f"To: <sip:{CALLEE}@127.0.0.1>\r\nCall-ID: burst-1@127.0.0.1\r\n"
                "Max-Forwards: 70\r\n")
        sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" \
              "m=audio 4000 RTP/AVP 0\r\n"
        uri = f"sip:{CALLEE}@127.0.0.1:{kit.switch_port}"
        invite = (f"INVITE {uri} SIP/2.0\r\n{head}CSeq: 1 INVITE\r\n"
                  f"Contact: <sip:100@127.0.0.1:{kit.uac_port}>\r\n"
                  f"Content-Type: application/sdp\r\nContent-Length: {len(sdp)}\r\n\r\n{sdp}")
        cancel = f"CANCEL {uri} SIP/2.0\r\n{head}CSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n"
        caller.sendto(invite.encode(), ("127.0.0.1", kit.switch_port))
        caller.sendto(cancel.encode(), ("127.0.0.1", kit.switch_port))
        caller.settimeout(3)
        answers = []
        while not any(a.startswith(b"SIP/2.0 487") for a in answers):
            answers.append(caller.recv(65535))
        ack = (f"ACK {uri} SIP/2.0\r\n{head.replace('To: <', 'To: <', 1)}CSeq: 1 ACK\r\n"
               "Content-Length: 0\r\n\r\n")
        caller.sendto(ack.encode(), ("127.0.0.1", kit.switch_port))
        gateway.settimeout(1.0)
        got = []
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                got.append(gateway.recv(65535))
            except TimeoutError:
                break
        assert got == [], got  # nothing at all reached the gateway: no INVITE, so no CANCEL
    finally:
        gateway.close()
        caller.close()
    cdr = only(switch.stop())
    assert (cdr["enddirection"], cdr["endreason"], cdr["holdtime"]) == (0, 11, 0)


def test_bye_before_the_ack_is_the_callers_hangup(kit):
    # The caller hangs up right after the answer, before it ever ACKed the 200 (RFC 3261
    # allows the BYE once the 2xx came). That BYE is the caller's hangup, decided like any
    # caller BYE, not the switch's timer H (a session timeout, (2, 14), after 32 s of the
    # switch's 200 retransmissions). At x1, so that the few milliseconds between the 200 and
    # the BYE on a loaded machine stay well under half a second of call time (at x8 they made
    # holdTime 1); the switch's timer H (32 s) is far off when the test ends.
    switch = kit.switch(switch_yaml(kit), 6)
    gateway = kit.uas("-sn", "uas", "-m", "1")  # it is ACKed, then gets the relayed BYE
    ok(kit.uac("-sf", str(kit.xml("uac_bye_before_ack.xml")), "-s", CALLEE))
    uas_ok(gateway)
    cdr = only(switch.stop())
    assert (cdr["enddirection"], cdr["endreason"], cdr["holdtime"]) == (0, 11, 0), cdr
    assert (cdr["feetime"], cdr["fee"]) == (0, 0.0), cdr
    # billed as the simulated transport bills a caller hanging up 0 s after the answer
    same(cdr, simulated(kit, "callee_does: {answer_after: 0}, caller_does: {hangup_after: 0}"),
         "holdtime", "feetime", "fee")
