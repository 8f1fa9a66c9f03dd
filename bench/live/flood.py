"""An INVITE flood against `vossim live` while SIPp places real calls (issue 24, `make bench-live`).

    python bench/live/flood.py [--invites 10000] [--spread 2.6] [--cps 20] [--after 60]
                               [--warmup 45]

The switch runs as `vossim live --no-agents` in its own process; a SIPp uas is its gateway. SIPp's
uac calls at --cps (2 s calls); --warmup s in, a flood sender allowed by a mapping gateway sends
--invites INVITEs (with SDP) in --spread seconds and never ACKs, never answers a BYE; like any
UAC it retransmits an INVITE that got no response at all (T1 doubling, up to timer B). SIPp's
first run goes on 27 s after the flood began; then a second one calls for 10 s: none of its
calls may fail. --after seconds after the flood's last INVITE the switch's RSS is read and
compared with its RSS just before the flood; then the switch is stopped (SIGINT) and its CDRs
read.

Why a warm-up: the RSS of a Python process keeps its high-water mark, and SIPp's own calls
leave state behind for a while (sippy keeps a finished dialog 32 s and its answers for
retransmissions 32-64 s), so under a steady 20 CPS the switch's RSS climbs for about 40 s
before it levels off. Measured without any flood, from 3 s into SIPp's run to 63 s later: 58 MB
to 79 MB (+37 %). A baseline taken that early measures SIPp's ramp-up, not the flood.

Checks (exit 1 when one fails): every flood INVITE has exactly one CDR (refused or timed out);
every SIPp call of the first run either completed or has a refusal CDR; no call of the second run
failed; RSS within 20 % of its start; the switch wrote at most a few console lines.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = """\
version: 1
name: flood
switch: {{media_timeout: 0, SS_SIP_SESSION_TTL: 0}}
accounts:
  ACME: {{type: postpaid, rate_table: retail}}
rate_tables:
  retail: [{{prefix: "880", fee: 0.25, period: 60}}]
mapping_gateways:
  SIPP-UAC: {{account: ACME, ips: ["127.0.0.1:{uac}"], session_timer: false}}
  FLOOD: {{account: ACME, ips: ["127.0.0.1:{flood}"], session_timer: false}}
routing_gateways:
  SIPP-UAS: {{ip: "127.0.0.1:{uas}", prefixes: ["880"]}}
"""
SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 4000 RTP/AVP 0\r\n")
TIMER_B = 32.0


def free_base() -> int:
    """Five consecutive free UDP ports below the ephemeral range."""
    for base in range(27000 + os.getpid() % 500 * 10, 32000, 10):
        try:
            for port in range(base, base + 5):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                    probe.bind(("0.0.0.0", port))
            return base
        except OSError:
            continue
    raise SystemExit("no free UDP ports")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def wait_for_switch(port: int, timeout: float = 20) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.2)
        me = sock.getsockname()[1]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sock.sendto((f"OPTIONS sip:x@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP "
                         f"127.0.0.1:{me};branch=z9hG4bKp{time.monotonic_ns()}\r\nFrom: "
                         f"<sip:p@127.0.0.1>;tag=p\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: "
                         f"p{time.monotonic_ns()}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0"
                         "\r\n\r\n").encode(), ("127.0.0.1", port))
            try:
                if sock.recv(65535).startswith(b"SIP/2.0"):
                    return
            except TimeoutError:
                continue
    raise SystemExit("the switch did not answer")


class Flood:
    """INVITEs that are never ACKed, from an allowed address, retransmitted while unanswered."""

    def __init__(self, port: int, switch_port: int, count: int, spread: float) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(("127.0.0.1", port))
        self.port, self.switch, self.count, self.spread = port, switch_port, count, spread
        self.answered: dict[int, int] = {}  # flood number -> first response code
        self.sent_at: dict[int, float] = {}
        self.retransmissions = 0
        self.finished_at = 0.0
        self.lock = threading.Lock()

    def invite(self, n: int) -> bytes:
        return (f"INVITE sip:8801711{n:06d}@127.0.0.1:{self.switch} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch=z9hG4bKflood{n}\r\n"
                f"From: <sip:100{n}@127.0.0.1:{self.port}>;tag=f{n}\r\n"
                f"To: <sip:8801711{n:06d}@127.0.0.1>\r\nCall-ID: flood-{n}@127.0.0.1\r\n"
                f"CSeq: 1 INVITE\r\nContact: <sip:flood@127.0.0.1:{self.port}>\r\n"
                "Max-Forwards: 70\r\nContent-Type: application/sdp\r\n"
                f"Content-Length: {len(SDP)}\r\n\r\n{SDP}").encode()

    def receive(self, stop: threading.Event) -> None:
        self.sock.settimeout(0.2)
        pattern = re.compile(rb"Call-ID: flood-(\d+)@", re.IGNORECASE)
        while not stop.is_set():
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                continue
            if not data.startswith(b"SIP/2.0 "):
                continue  # the switch's BYE after its ACK timeout: never answered
            found = pattern.search(data)
            if found:
                with self.lock:
                    self.answered.setdefault(int(found.group(1)), int(data[8:11]))

    def send(self) -> None:
        started = time.monotonic()
        gap = self.spread / self.count
        for n in range(self.count):
            due = started + n * gap
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.sock.sendto(self.invite(n), ("127.0.0.1", self.switch))
            self.sent_at[n] = time.monotonic()
        self.finished_at = time.monotonic()

    def retransmit(self, stop: threading.Event) -> None:
        """Timer A: resend an INVITE that got no response at all, 0.5 s, 1 s, 2 s, 4 s … later,
        until timer B."""
        interval: dict[int, float] = {}
        while not stop.is_set():
            time.sleep(0.1)
            now = time.monotonic()
            with self.lock:
                waiting = [n for n in list(self.sent_at) if n not in self.answered]
            for n in waiting:
                first = self.sent_at[n]
                step = interval.get(n, 0.5)
                if now - first > TIMER_B or now < first + step:
                    continue
                self.sock.sendto(self.invite(n), ("127.0.0.1", self.switch))
                self.retransmissions += 1
                interval[n] = min(step * 2 + 0.5, step + 4.0)


def sipp(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["sipp", "-nostdin", "-i", "127.0.0.1", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def failed_calls(result: subprocess.CompletedProcess) -> tuple[int, int]:
    """(successful, failed) from SIPp's closing statistics screen."""
    ok = re.findall(r"Successful call\s*\|\s*\d+\s*\|\s*(\d+)", result.stdout)
    bad = re.findall(r"Failed call\s*\|\s*\d+\s*\|\s*(\d+)", result.stdout)
    return (int(ok[-1]) if ok else -1), (int(bad[-1]) if bad else -1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invites", type=int, default=10_000)
    parser.add_argument("--spread", type=float, default=2.6)
    parser.add_argument("--cps", type=int, default=20)
    parser.add_argument("--after", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=45.0,
                        help="s of SIPp calls before the flood (RSS levels off after ~40 s)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "live" / "flood-results.json"))
    args = parser.parse_args()

    base = free_base()
    switch_port, uac, uas, flood_port = base, base + 1, base + 2, base + 3
    tmp = Path(tempfile.mkdtemp(prefix="vossim-flood-"))
    scenario = tmp / "flood.yaml"
    scenario.write_text(SCENARIO.format(uac=uac, uas=uas, flood=flood_port))
    out = tmp / "out"
    log = (tmp / "switch.log").open("w")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    switch = subprocess.Popen([sys.executable, "-m", "simulator.cli", "live", str(scenario),
                               "--port", str(switch_port), "--no-agents", "-o", str(out),
                               "--format", "jsonl"], stdout=log, stderr=subprocess.STDOUT,
                              cwd=ROOT, env=env)
    gateway = None
    try:
        wait_for_switch(switch_port)
        gateway = subprocess.Popen(["sipp", "-nostdin", "-i", "127.0.0.1", "-p", str(uas),
                                    "-sn", "uas"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, cwd=tmp)
        time.sleep(0.5)
        samples: list[tuple[float, float]] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                samples.append((time.monotonic(), rss_mb(switch.pid)))
                time.sleep(0.5)

        threading.Thread(target=sample, daemon=True).start()
        calls_a = round(args.cps * (args.warmup + 27))
        sipp_a: list[subprocess.CompletedProcess] = []
        runner = threading.Thread(target=lambda: sipp_a.append(sipp(
            ["-p", str(uac), f"127.0.0.1:{switch_port}", "-sn", "uac", "-s", "8801900000",
             "-d", "2000", "-r", str(args.cps), "-m", str(calls_a), "-timeout", "120s"], tmp)))
        runner.start()
        time.sleep(args.warmup)
        flood = Flood(flood_port, switch_port, args.invites, args.spread)
        rss_before = rss_mb(switch.pid)
        flood_started = time.monotonic()
        threading.Thread(target=flood.receive, args=(stop,), daemon=True).start()
        threading.Thread(target=flood.retransmit, args=(stop,), daemon=True).start()
        flood.send()
        runner.join()
        sipp_b = sipp(["-p", str(uac), f"127.0.0.1:{switch_port}", "-sn", "uac", "-s",
                       "8801900000", "-d", "500", "-r", str(args.cps), "-m",
                       str(args.cps * 10), "-timeout", "60s"], tmp)
        wait = flood.finished_at + args.after - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        rss_after = rss_mb(switch.pid)
        stop.set()
        switch.send_signal(signal.SIGINT)
        switch.wait(timeout=60)
    finally:
        if switch.poll() is None:
            switch.kill()
        if gateway is not None:
            gateway.kill()
        log.close()

    records = [json.loads(line) for line in (out / "cdr.jsonl").read_text().splitlines()]
    flood_ids = Counter(r["callId"] for r in records if r["callId"].startswith("flood-"))
    flood_endings = Counter(f"{r['enddirection']}/{r['endreason']} {r['endReasonName']}"
                            for r in records if r["callId"].startswith("flood-"))
    sipp_records = [r for r in records if r["callergatewayid"] == "SIPP-UAC"]
    sipp_endings = Counter(f"{r['enddirection']}/{r['endreason']} {r['endReasonName']}"
                           for r in sipp_records)
    ok_a, failed_a = failed_calls(sipp_a[0])
    ok_b, failed_b = failed_calls(sipp_b)
    console = (tmp / "switch.log").read_text().splitlines()
    peak = max((rss for _, rss in samples), default=0.0)
    report = {
        "invites": args.invites, "spread_s": args.spread, "warmup_s": args.warmup,
        "flood_answered": len(flood.answered),
        "flood_first_responses": dict(Counter(flood.answered.values())),
        "flood_retransmissions": flood.retransmissions,
        "flood_cdrs": sum(flood_ids.values()), "flood_ids_with_cdr": len(flood_ids),
        "flood_ids_with_two_cdrs": sum(1 for n in flood_ids.values() if n > 1),
        "flood_endings": dict(flood_endings),
        "sipp_during": {"calls": calls_a, "successful": ok_a, "failed": failed_a},
        "sipp_after": {"calls": args.cps * 10, "successful": ok_b, "failed": failed_b},
        "sipp_cdrs": len(sipp_records), "sipp_endings": dict(sipp_endings),
        "rss_mb": {"before_flood": round(rss_before, 1), "peak": round(peak, 1),
                   f"{args.after:g}_s_after_flood": round(rss_after, 1)},
        "console_lines": len(console),
        "rss_timeline_mb": [(round(t - flood_started), round(rss, 1))
                            for t, rss in samples[::10]],
        "flood_duration_s": round(flood.finished_at - flood_started, 2),
    }
    checks = {
        "every flood INVITE has exactly one CDR": len(flood_ids) == args.invites
        and report["flood_ids_with_two_cdrs"] == 0,
        "every SIPp call during the flood completed or has a refusal CDR":
            ok_a + failed_a == calls_a and len(sipp_records) >= calls_a,
        "no SIPp call failed after the flood": failed_b == 0,
        "RSS within 20 % of its start": rss_after <= 1.2 * rss_before,
        "no console spam (under 60 lines)": len(console) < 60,
    }
    report["checks"] = checks
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"switch log: {tmp / 'switch.log'}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
