"""`vossim explain --pcap`: real SIP over UDP that tshark decodes, in the ladder's order."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from scenario_support import ROOT, cli

CASES = [
    ("prepaid-cutoff.yaml", "disputed"),
    ("decision-table/18-failover.yaml", "walks"),
    ("decision-table/02-authentication-failed.yaml", "wrong-password"),
    ("decision-table/20-caller-cancel.yaml", "impatient"),
    ("decision-table/27-refresh-failed.yaml", "nat"),
    ("decision-table/19-ring-timeout.yaml", "rings-for-ever"),
    ("decision-table/08-rate-not-found.yaml", "no-rate"),
]
FIELDS = ("frame.time_epoch", "ip.src", "ip.dst", "udp.srcport", "udp.dstport", "sip.Method",
          "sip.Status-Code", "sip.Call-ID", "sip.CSeq.method", "sip.Reason", "sip.Content-Length",
          "frame.protocols")


def tshark(pcap: Path, *args: str) -> list[list[str]]:
    binary = shutil.which("tshark")
    assert binary, "tshark is not installed (make system-deps)"
    done = subprocess.run([binary, "-r", str(pcap), "-T", "fields", "-E", "occurrence=f",
                           *(x for f in FIELDS for x in ("-e", f)), *args],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [line.split("\t") for line in done.stdout.splitlines()]


@pytest.mark.parametrize(("path", "call"), CASES)
def test_pcap_decodes_as_sip_and_follows_the_ladder(path: str, call: str, tmp_path: Path) -> None:
    pcap = tmp_path / "call.pcap"
    done = cli("explain", str(ROOT / "scenarios" / path), "--call", call, "--pcap", str(pcap),
               "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    rows = tshark(pcap)
    assert rows, "empty pcap"
    # every packet is SIP, none malformed or flagged by the dissector
    assert all(row[-1].startswith("ip:udp:sip") for row in rows), [r[-1] for r in rows]
    flagged = subprocess.run(["tshark", "-r", str(pcap), "-Y",
                              "not sip or _ws.malformed or _ws.expert.severity >= warning"],
                             capture_output=True, text=True, timeout=60)
    assert flagged.stdout.strip() == "", flagged.stdout
    times = [float(row[0]) for row in rows]
    assert all(a < b for a, b in itertools.pairwise(times))
    address = {lane: ip.split(":")[0] for lane, ip in doc["lane_addresses"].items()}
    address["switch"] = "192.0.2.1"
    ladder = [(address[e["src"]], address[e["dst"]], e["message"].split(" (")[0])
              for e in doc["entries"] if e["src"] and not e["message"].startswith("408 (local")]
    ladder = [(s, d, "INVITE" if m == "re-INVITE" else m) for s, d, m in ladder]
    wire = [(row[1], row[2], row[5] or row[6]) for row in rows]
    assert wire == ladder
    # one Call-ID per leg: the caller leg's is the CDR's callercallid
    caller_leg = {row[7] for row in rows if doc["lane_addresses"]["caller"] in (row[1], row[2])}
    assert caller_leg == {doc["header"]["caller_call_id"]}
    # SDP exactly on INVITEs and 200s to INVITEs
    for row in rows:
        has_sdp = row[-1].endswith(":sdp")
        assert has_sdp == (row[5] == "INVITE" or (row[6] == "200" and row[8] == "INVITE")), row


def test_server_bye_names_the_server_reason(tmp_path: Path) -> None:
    pcap = tmp_path / "cut.pcap"
    done = cli("explain", str(ROOT / "scenarios" / "prepaid-cutoff.yaml"), "--call", "disputed",
               "--pcap", str(pcap))
    assert done.returncode == 0, done.stderr
    byes = [row for row in tshark(pcap, "-Y", 'sip.Method == "BYE"')]
    assert len(byes) == 2
    raw = pcap.read_bytes()
    assert raw.count(b'Reason: Q.850;cause=16;text="Prepaid Duration Exceeded"\r\n') == 2
    # the CDR keeps the contract's value
    doc = json.loads(cli("explain", str(ROOT / "scenarios" / "prepaid-cutoff.yaml"), "--call",
                         "disputed", "--json").stdout)
    assert {f["name"]: f["value"] for f in doc["cdr"]}["sipreasonheader"] == \
        'SIP;cause=200;text="OK"'


def test_refusal_carries_the_cdr_reason(tmp_path: Path) -> None:
    pcap = tmp_path / "refused.pcap"
    done = cli("explain", str(ROOT / "scenarios" / "decision-table" / "08-rate-not-found.yaml"),
               "--call", "no-rate", "--pcap", str(pcap))
    assert done.returncode == 0, done.stderr
    assert b'SIP/2.0 404 Not Found\r\n' in pcap.read_bytes()
    assert b'Reason: SIP;cause=404;text="Not Found"\r\n' in pcap.read_bytes()


def test_rtp_shows_the_stream_stopping_before_a_media_timeout(tmp_path: Path) -> None:
    pcap = tmp_path / "media.pcap"
    done = cli("explain", str(ROOT / "scenarios" / "decision-table" / "28-media-timeout.yaml"),
               "--call", "silent", "--pcap", str(pcap), "--rtp", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    answer = next(e["t"] for e in doc["entries"] if e["src"] == "switch"
                  and e["dst"] == "caller" and e["message"] == "200")
    stopped = next(e["t"] for e in doc["entries"] if e["message"] == "rtp_stopped")
    ended = doc["ending"]["t"]
    flagged = subprocess.run(["tshark", "-r", str(pcap), "-Y", "not (sip or rtp) or _ws.malformed"
                              " or _ws.expert.severity >= warning"],
                             capture_output=True, text=True, timeout=60)
    assert flagged.stdout.strip() == "", flagged.stdout[:2000]
    streams = subprocess.run(["tshark", "-r", str(pcap), "-Y", "rtp", "-T", "fields", "-e",
                              "rtp.ssrc", "-e", "ip.src", "-e", "frame.time_epoch", "-e",
                              "rtp.p_type"], capture_output=True, text=True, timeout=60)
    spans: dict[tuple[str, str], list[float]] = {}
    for line in streams.stdout.splitlines():
        ssrc, src, at, payload = line.split("\t")
        assert payload == "0"  # PCMU
        spans.setdefault((ssrc, src), []).append(float(at))
    start = 1795168800.0  # the scenario's start, 2026-11-20T10:00:00Z
    assert len(spans) == 4
    ends = sorted(round(max(times) - start) for times in spans.values())
    # the caller's stream and its relay stop at media_stops_after; the callee's run to the BYE
    assert ends == [round(stopped), round(stopped), round(ended), round(ended)]
    assert all(abs(min(times) - start - answer) < 0.02 for times in spans.values())
    # 50 packets a second on every stream
    for times in spans.values():
        assert abs(len(times) / (max(times) - min(times)) - 50) < 0.5
