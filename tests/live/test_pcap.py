"""`vossim live --pcap FILE` records the real datagrams; tshark decodes them as SIP."""

from __future__ import annotations

import shutil
import subprocess


def test_pcap_decodes_as_sip_in_tshark(kit) -> None:
    pcap = kit.tmp / "live.pcap"
    scenario = kit.sipp_pair_scenario("pcap")
    switch = kit.switch(scenario, 6, "--pcap", str(pcap))
    kit.uas("-sn", "uas")
    result = kit.uac("-sn", "uac", "-s", "8801711000001", "-d", "500")
    assert result.returncode == 0, result.stdout[-2000:]
    cdrs = switch.finish()
    assert len(cdrs) == 1 and cdrs[0]["enddirection"] == 0
    assert pcap.exists() and pcap.stat().st_size > 0, switch.output
    tshark = shutil.which("tshark")
    assert tshark, "tshark is not installed (make system-deps)"
    decoded = subprocess.run(
        [tshark, "-r", str(pcap), "-Y", "sip", "-T", "fields", "-e", "udp.srcport",
         "-e", "udp.dstport", "-e", "sip.Method", "-e", "sip.Status-Code"],
        capture_output=True, text=True, timeout=60)
    assert decoded.returncode == 0, decoded.stderr
    rows = [line.split("\t") for line in decoded.stdout.splitlines()]
    methods = [(int(src), int(dst), method) for src, dst, method, _ in rows if method]
    statuses = [(int(src), int(dst), code) for src, dst, _, code in rows if code]
    sw, uac, uas = kit.switch_port, kit.uac_port, kit.uas_port
    # the whole call on the wire, on both legs, each datagram once
    for leg in ((uac, sw), (sw, uas)):
        assert (*leg, "INVITE") in methods, rows
        assert (*leg, "ACK") in methods, rows
        assert (*leg, "BYE") in methods, rows
        assert (leg[1], leg[0], "200") in statuses, rows
    assert methods.count((uac, sw, "INVITE")) == 1, rows
