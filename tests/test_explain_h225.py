"""`vossim explain --pcap` on H.323 legs: H.225.0 call signalling that tshark decodes.

Every scenario of the library with an H.323 gateway is explained and written as a pcap, and
tshark (the real one) reads each capture back: Q.931 message types, Q.850 causes, the H.225
layer and its releaseCompleteReason, one TCP connection to port 1720 per leg, no malformed
packet and no expert warning or error, and the SIP and H.225 messages in the ladder's order.
Load scenarios are explained on their first call attempts (as `vossim run --calls N` plays
them), one call per distinct H.323 ladder.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from scenario_support import ROOT, cli
from simulator.explain._build import explain_call, explain_trace
from simulator.explain._h225 import MESSAGES, RELEASE_REASONS
from simulator.explain._html import page_data
from simulator.explain._model import Explanation
from simulator.explain._pcap import SWITCH_ADDRESS, write_pcap
from simulator.scenario._loader import load_scenario
from simulator.scenario._schema import Scenario
from simulator.transports._simulated import Simulation

LOAD_CALLS = 1200
EXPERT_WARNING = 0x00600000  # _ws.expert.severity: chat 0x00200000, note 0x00400000, warning,
# error 0x00800000  # first call attempts of a load scenario
FIELDS = ("frame.time_epoch", "frame.protocols", "ip.src", "ip.dst", "tcp.stream",
          "tcp.srcport", "tcp.dstport", "tcp.flags.syn", "tcp.flags.fin", "q931.message_type",
          "q931.cause_value", "h225.h323_message_body", "h225.reason", "sip.Method",
          "sip.Status-Code")
# H323-UU-PDU body alternatives and ReleaseCompleteReason root alternatives, by their index as
# Wireshark prints them (H.225.0's ASN.1 order)
BODY_INDEX = {"setup": "0", "callProceeding": "1", "connect": "2", "alerting": "3",
              "releaseComplete": "5"}
REASON_INDEX = {name: str(index) for index, name in enumerate((
    "noBandwidth", "gatekeeperResources", "unreachableDestination", "destinationRejection",
    "invalidRevision", "noPermission", "unreachableGatekeeper", "gatewayResources",
    "badFormatAddress", "adaptiveBusy", "inConf", "undefinedReason"))}


def h323_scenarios() -> list[Path]:
    return sorted(path for path in (ROOT / "scenarios").rglob("*.yaml")
                  if "protocol: h323" in path.read_text())


def _has_h323_leg(ex: Explanation) -> bool:
    return any(ex.protocols.get(lane) == "h323" for lane in ex.lanes)


class _Lines:
    def __init__(self) -> None:
        self.by_call: dict[str, list[str]] = defaultdict(list)

    def write(self, line: str) -> int:
        self.by_call[json.loads(line)["call"]].append(line)
        return len(line)


def _discard(_: Any) -> None:
    return None


def explanations(path: Path) -> list[Explanation]:
    """The explanation of every call with an H.323 leg (a load scenario: one per ladder)."""
    scenario = load_scenario(path)
    if scenario.calls:
        out = [explain_call(scenario, call.id) for call in scenario.calls]
        return [ex for ex in out if _has_h323_leg(ex)]
    return _load_explanations(scenario)


def _load_explanations(scenario: Scenario) -> list[Explanation]:
    h323 = {name for name, gw in {**scenario.mapping_gateways,
                                  **scenario.routing_gateways}.items()
            if gw.protocol == "h323"}
    lines = _Lines()
    Simulation(scenario, _discard, trace=lines, calls=LOAD_CALLS).run()  # type: ignore[arg-type]
    chosen: dict[tuple[str, ...], str] = {}
    for call, call_lines in lines.by_call.items():
        messages = [d for d in map(json.loads, call_lines) if "message" in d]
        caller_h323 = any(d["message"] == "Setup" and d["to"] == "switch" for d in messages)
        # one call per H.225 ladder, and whether a SIP leg takes part: the SIP side is
        # tests/test_explain_pcap.py's
        lanes = [(d["from"].split()[0], d["to"].split()[0], d["message"]) for d in messages]
        ladder = tuple(f"{src}>{dst}:{message}" for src, dst, message in lanes
                       if src in h323 or dst in h323
                       or (caller_h323 and "caller" in (src, dst)))
        ladder += ("sip",) * (len(ladder) < len(lanes))
        if any(name != "sip" for name in ladder):
            chosen.setdefault(ladder, call)
    lines = _Lines()
    simulation = Simulation(scenario, _discard, trace=lines,  # type: ignore[arg-type]
                            keep=set(chosen.values()), calls=LOAD_CALLS)
    simulation.run()
    out = []
    for call in sorted(chosen.values()):
        ex = explain_trace(scenario, [json.loads(line) for line in lines.by_call[call]],
                           simulation.kept[call])
        assert _has_h323_leg(ex), call
        out.append(ex)
    return out


def tshark_rows(pcap: Path) -> list[dict[str, str]]:
    """One dict per packet: each field's first value; ``severities`` every expert item's."""
    binary = shutil.which("tshark")
    assert binary, "tshark is not installed (make system-deps)"
    done = subprocess.run([binary, "-r", str(pcap), "-T", "fields", "-E", "occurrence=a",
                           "-E", "aggregator=,", *(x for f in FIELDS for x in ("-e", f)),
                           "-e", "_ws.expert.severity"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    rows = []
    for line in done.stdout.splitlines():
        *values, severities = line.split("\t")
        row = {name: value.split(",")[0] for name, value in zip(FIELDS, values, strict=True)}
        row["severities"] = severities
        rows.append(row)
    return rows


def flagged(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Packets tshark finds malformed, or flags at warning or error severity (a malformed
    packet is also an expert error)."""
    return [row for row in rows if "_ws.malformed" in row["frame.protocols"]
            or any(int(s) >= EXPERT_WARNING for s in row["severities"].split(",") if s)]


def expected_wire(ex: Explanation) -> list[tuple[str, ...]]:
    """The ladder's messages as tshark should read them, in order."""
    address = {lane: ip.split(":")[0] for lane, ip in ex.lane_addresses.items()}
    address["switch"] = SWITCH_ADDRESS.split(":")[0]
    out = []
    for entry in ex.messages:
        if entry.message.startswith("408 (local"):
            continue
        far = entry.dst if entry.src == "switch" else entry.src
        src, dst = address[entry.src], address[entry.dst]
        if ex.protocols.get(far) == "h323":
            name, _, rest = entry.message.partition(" (cause ")
            out.append((src, dst, "h225", f"0x{MESSAGES[name][0]:02x}", rest.rstrip(")")))
        else:
            base = entry.message.split(" (")[0]
            out.append((src, dst, "sip", "INVITE" if base == "re-INVITE" else base))
    return out


def read_wire(rows: list[dict[str, str]]) -> list[tuple[str, ...]]:
    out = []
    for row in rows:
        if row["q931.message_type"]:
            out.append((row["ip.src"], row["ip.dst"], "h225", row["q931.message_type"],
                        row["q931.cause_value"]))
        elif ":sip" in row["frame.protocols"]:
            out.append((row["ip.src"], row["ip.dst"], "sip",
                        row["sip.Method"] or row["sip.Status-Code"]))
    return out


Capture = tuple[str, Explanation, list[dict[str, str]]]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> list[Capture]:
    """(scenario path, explanation, tshark's reading of its pcap) of every H.323 call."""
    out = []
    folder = tmp_path_factory.mktemp("h323")
    for path in h323_scenarios():
        scenario = load_scenario(path)
        for ex in explanations(path):
            pcap = folder / f"{path.stem}--{ex.call_id}.pcap"
            write_pcap(ex, scenario, pcap)
            out.append((str(path.relative_to(ROOT)), ex, tshark_rows(pcap)))
    return out


def test_every_h323_scenario_of_the_library_is_covered(library: list[Capture]) -> None:
    paths = {path for path, _, _ in library}
    assert {str(p.relative_to(ROOT)) for p in h323_scenarios()} == paths
    assert "scenarios/training/9-h323-vendor.yaml" in paths
    # all five H.225 messages appear, and causes from several decision-table rows
    seen = {row["q931.message_type"] for _, _, rows in library for row in rows}
    assert {f"0x{code:02x}" for code, _ in MESSAGES.values()} <= seen
    causes = {ex.ending["q850"] for _, ex, _ in library}
    assert {16, 17, 41} <= causes and len(causes) >= 5, causes


def test_tshark_decodes_h225_as_the_ladder_says(library: list[Capture]) -> None:
    for path, ex, rows in library:
        where = f"{path} {ex.call_id}"
        assert flagged(rows) == [], where
        # the expert info is really read: every handshake's SYN is a chat item
        assert any(row["severities"] for row in rows), where
        times = [float(row["frame.time_epoch"]) for row in rows]
        assert all(a < b for a, b in itertools.pairwise(times)), where
        # SIP and H.225 interleaved exactly as in the ladder
        assert read_wire(rows) == expected_wire(ex), where
        for row in rows:
            if not row["q931.message_type"]:
                continue
            # the H.225 layer rides in every Q.931 message, its body the Q.931 message's
            assert row["frame.protocols"].endswith(":q931:h225"), (where, row)
            assert "1720" in (row["tcp.srcport"], row["tcp.dstport"]), where
            name = next(n for n, (code, _) in MESSAGES.items()
                        if f"0x{code:02x}" == row["q931.message_type"])
            assert row["h225.h323_message_body"] == BODY_INDEX[MESSAGES[name][1]], (where, row)
            if name == "Release Complete":
                cause = int(row["q931.cause_value"])
                assert row["h225.reason"] == REASON_INDEX[RELEASE_REASONS[cause]], (where, row)
            else:
                assert row["q931.cause_value"] == "" and row["h225.reason"] == "", where
        # one TCP connection per H.323 leg: SYN first, FINs both ways after the Release Complete
        streams: dict[str, list[dict[str, str]]] = defaultdict(list)
        for row in rows:
            if row["tcp.stream"]:
                streams[row["tcp.stream"]].append(row)
        for stream in streams.values():
            assert stream[0]["tcp.flags.syn"] == "1" and stream[1]["tcp.flags.syn"] == "1"
            assert [r["tcp.flags.fin"] for r in stream[-3:]] == ["1", "1", "0"], where
            messages = [r["q931.message_type"] for r in stream if r["q931.message_type"]]
            assert messages[0] == "0x05" and messages[-1] == "0x5a", (where, messages)


def test_release_complete_carries_the_decision_tables_cause(library: list[Capture]) -> None:
    for path, ex, rows in library:
        ending = ex.ending
        releases = [row for row in rows if row["q931.message_type"] == "0x5a"]
        assert releases, f"{path} {ex.call_id}"
        # the leg that ends the call releases with the row's Q.850 cause (16 when a party hangs
        # up; a failing gateway's own cause first, when another gateway takes the call after)
        expected = ending["q850"] if ending["endDirection"] != 0 else 16
        assert int(releases[-1]["q931.cause_value"]) == expected, (path, ex.call_id)


def test_busy_vendor_on_h323(tmp_path: Path) -> None:
    """The training lesson: busy is Q.850 cause 17 (inConf) from the vendor, 486 to the caller;
    the media timeout ends the answered call with cause 41 on the H.323 leg."""
    path = ROOT / "scenarios" / "training" / "9-h323-vendor.yaml"
    scenario = load_scenario(path)
    busy = explain_call(scenario, "busy")
    write_pcap(busy, scenario, tmp_path / "busy.pcap")
    rows = [row for row in tshark_rows(tmp_path / "busy.pcap") if row["q931.message_type"]]
    assert [(r["ip.src"], r["q931.message_type"], r["q931.cause_value"], r["h225.reason"])
            for r in rows] == [("192.0.2.1", "0x05", "", ""),
                               ("198.51.100.40", "0x5a", "17", REASON_INDEX["inConf"])]
    assert busy.ending["endDirection"] == 1
    silent = explain_call(scenario, "silent")
    write_pcap(silent, scenario, tmp_path / "silent.pcap")
    rows = tshark_rows(tmp_path / "silent.pcap")
    last = [row for row in rows if row["q931.message_type"]][-1]
    assert (last["ip.src"], last["ip.dst"], last["q931.cause_value"]) == \
        ("192.0.2.1", "198.51.100.40", "41")
    assert silent.ending["endDirection"] == 2
    # the switch's BYE to the SIP caller comes first, in the same instant
    order = read_wire(rows)
    assert order[-3:] == [("192.0.2.1", "203.0.113.10", "sip", "BYE"),
                          ("203.0.113.10", "192.0.2.1", "sip", "200"),
                          ("192.0.2.1", "198.51.100.40", "h225", "0x5a", "41")]


def test_an_h323_only_call_is_written_not_refused(tmp_path: Path) -> None:
    pcap = tmp_path / "h323.pcap"
    done = cli("explain", str(ROOT / "scenarios" / "billing" / "h323-protocol-codes.yaml"),
               "--call", "h323-busy", "--pcap", str(pcap))
    assert done.returncode == 0, done.stderr
    rows = tshark_rows(pcap)
    assert [r["q931.message_type"] for r in rows if r["q931.message_type"]] == \
        ["0x05", "0x02", "0x05", "0x5a", "0x5a"]
    assert all(":sip" not in r["frame.protocols"] for r in rows)


def test_the_html_page_shows_the_h225_of_the_pcap() -> None:
    scenario = load_scenario(ROOT / "scenarios" / "training" / "9-h323-vendor.yaml")
    data = page_data(explain_call(scenario, "busy"))
    release = next(e for e in data["entries"] if e["message"] == "Release Complete (cause 17)")
    assert "Cause IE: Q.850 cause 17; releaseCompleteReason inConf" in release["full"]
    assert "reason inConf : NULL" in release["full"]  # the UUIE pycrate encoded, read back
    invite = next(e for e in data["entries"] if e["message"] == "INVITE")
    assert invite["full"].startswith("INVITE sip:")
