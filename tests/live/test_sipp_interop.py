"""SIPp uac -> `vossim live` -> SIPp uas on loopback, CDRs checked (issue 4)."""

from __future__ import annotations

SCENARIO = """\
version: 1
name: sipp-interop
switch: {{max_call_duration: {max_duration}, media_timeout: 0, SS_SIP_SESSION_TTL: {ttl},
          SS_SIP_SESSION_UPDATE_SEGMENT: 1, SS_SIP_NO_TIMER_REINVITE_INTERVAL: 0}}
accounts:
  ACME: {{type: postpaid, rate_table: retail}}
rate_tables:
  retail: [{{prefix: "880", fee: 0.25, period: 60}}, {{prefix: "49", fee: 0.1, period: 60}}]
mapping_gateways:
  SIPP-UAC: {{account: ACME, ips: ["127.0.0.1:{uac}"], session_timer: false}}
routing_gateways:
  SIPP-UAS: {{ip: "127.0.0.1:{uas}", prefixes: ["880"]}}
"""


def scenario(kit, max_duration: float = 0, ttl: float = 0):
    return kit.scenario(SCENARIO.format(uac=kit.uac_port, uas=kit.uas_port,
                                        max_duration=max_duration, ttl=ttl))


def only(cdrs):
    assert len(cdrs) == 1, cdrs
    return cdrs[0]


def check_sipp(result):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_caller_bye(kit):
    switch = kit.switch(scenario(kit), duration=6)
    kit.uas("-sn", "uas")
    check_sipp(kit.uac("-sn", "uac", "-s", "8801711000001", "-d", "1200"))
    cdr = only(switch.finish())
    assert (cdr["enddirection"], cdr["endreason"]) == (0, 11)
    assert cdr["calleegatewayid"] == "SIPP-UAS" and cdr["callergatewayid"] == "SIPP-UAC"
    assert cdr["holdtime"] in (1, 2) and cdr["feeprefix"] == "880" and cdr["billingmode"] == 1


def test_callee_bye(kit):
    switch = kit.switch(scenario(kit), duration=6)
    kit.uas("-sf", str(kit.xml("uas_callee_bye.xml", hold_ms=1500)))
    check_sipp(kit.uac("-sf", str(kit.xml("uac_wait_bye.xml")), "-s", "8801711000002"))
    cdr = only(switch.finish())
    assert (cdr["enddirection"], cdr["endreason"]) == (1, 12)
    assert cdr["holdtime"] in (1, 2) and cdr["calleegatewayid"] == "SIPP-UAS"


def test_busy(kit):
    switch = kit.switch(scenario(kit), duration=4)
    kit.uas("-sf", str(kit.xml("uas_reject.xml", code=486, phrase="Refused")))
    check_sipp(kit.uac("-sf", str(kit.xml("uac_refused.xml", code=486)), "-s", "8801711000003"))
    cdr = only(switch.finish())
    assert (cdr["enddirection"], cdr["endreason"], cdr["holdtime"]) == (1, 2, 0)
    # the gateway's own reason phrase is kept (uas_reject.xml says "Refused")
    assert cdr["sipreasonheader"] == 'SIP;cause=486;text="Refused"'
    assert cdr["calleegatewayid"] == "SIPP-UAS"


def test_switch_ends_at_max_duration(kit):
    pcap = kit.tmp / "max.pcap"
    switch = kit.switch(scenario(kit, max_duration=2), 7, "--pcap", str(pcap))
    kit.uas("-sn", "uas")  # the built-in uas waits for a BYE: the switch must send it
    check_sipp(kit.uac("-sf", str(kit.xml("uac_wait_bye.xml")), "-s", "8801711000004"))
    cdr = only(switch.finish())
    assert (cdr["enddirection"], cdr["endreason"], cdr["holdtime"]) == (2, 1, 2)
    # Both BYEs on the wire name the server's reason; the CDR keeps the contract's value.
    byes = [line for line in pcap.read_bytes().split(b"\r\n\r\n") if b"BYE sip:" in line]
    assert len(byes) == 2, byes
    assert all(b'Reason: Q.850;cause=16;text="Normal Clearing"' in bye for bye in byes), byes
    assert cdr["sipreasonheader"] == 'SIP;cause=200;text="OK"'


def test_refused_no_route(kit):
    switch = kit.switch(scenario(kit), duration=3)
    check_sipp(kit.uac("-sf", str(kit.xml("uac_refused.xml", code=404)), "-s", "4915100000"))
    cdr = only(switch.finish())
    assert (cdr["enddirection"], cdr["endreason"], cdr["billingmode"]) == (2, 6, -1)
    assert cdr["calleegatewayid"] == "" and cdr["feeprefix"] == ""


def test_unknown_source_ip_refused_403(kit):
    switch = kit.switch(kit.scenario(SCENARIO.format(uac=kit.uac_port + 5, uas=kit.uas_port,
                                                     max_duration=0, ttl=0)), duration=3)
    check_sipp(kit.uac("-sf", str(kit.xml("uac_refused.xml", code=403)), "-s", "8801711"))
    cdr = only(switch.finish())
    assert (cdr["enddirection"], cdr["endreason"]) == (2, 17)


def test_session_refresh_unanswered_server_bye(kit):
    # TTL 40 s, one refresh per TTL, at x10: the re-INVITE goes out 4 s after answer, timer B
    # (32 s of scenario time = 3.2 s) runs out, the switch BYEs both legs: (2, 14).
    switch = kit.switch(scenario(kit, ttl=40), 14, "--speed", "10")
    kit.uas("-sf", str(kit.xml("uas_ignore_refresh.xml")))
    check_sipp(kit.uac("-sf", str(kit.xml("uac_wait_bye.xml")), "-s", "8801711000005"))
    cdr = only(switch.finish())
    assert (cdr["enddirection"], cdr["endreason"]) == (2, 14)
    assert cdr["sipreasonheader"].startswith("SIP;cause=408")
    assert 70 <= cdr["holdtime"] <= 76  # 40 s + 32 s of scenario time


def test_serves_until_interrupted_then_writes_cdrs(kit):
    import signal
    import subprocess
    import sys

    out = kit.tmp / "served"
    proc = kit.procs.start([sys.executable, "-m", "simulator.cli", "live", str(scenario(kit)),
                            "--port", str(kit.switch_port), "-o", str(out), "--format", "pipe"])
    kit.wait_for_switch()
    kit.uas("-sn", "uas")
    check_sipp(kit.uac("-sn", "uac", "-s", "8801711000007", "-d", "300", calls=3, timeout=20))
    proc.send_signal(signal.SIGINT)  # Ctrl-C: stop serving, write what ended
    try:
        output, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("vossim live ignored Ctrl-C") from None
    assert proc.returncode == 0, output
    lines = [line for p in (out / "cdr").glob("*.txt") for line in p.read_text().splitlines()]
    assert len(lines) == 3, output
    assert all(line.split("|")[6] == "0" for line in lines), lines  # endDirection: caller
