"""Flood a live switch with junk and report its Python memory after each round, as JSON.

Used by test_flood_memory:
``python tests/live/flood_probe.py SCENARIO OUT ROUNDS PER GAP IDLE [MAX_OPEN_INVITES]``.
With MAX_OPEN_INVITES the switch's limit is set that low and nothing is acknowledged, so the
refused INVITEs keep their transactions open and the limit is reached. The switch
(``run_live``, no agents, on a free port) runs in this process's main thread, as ``vossim
live`` does; a second thread sends the rounds, waits after each until the switch has handled
all of it (an OPTIONS is answered) and records ``sys.getallocatedblocks()`` (every Python
object alive, garbage not yet collected included) and VmRSS. Then it leaves the switch idle
for IDLE s, long enough for everything of the flood to expire; records the blocks still
allocated, runs a full collection itself, records how many objects it found dead and the
blocks left; and stops the switch with SIGINT, as Ctrl-C would.
"""

from __future__ import annotations

import gc
import json
import os
import re
import signal
import socket
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 4000 RTP/AVP 0\r\n")


def junk(n: int, me: int, port: int) -> bytes:
    """Half INVITEs from an address no gateway owns (refused 403), half malformed."""
    via = f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKflood{n}x{os.getpid()}\r\n"
    head = (f"From: <sip:flood@127.0.0.1:{me}>;tag=f{n}\r\nTo: <sip:8801711@127.0.0.1>\r\n"
            f"Call-ID: flood-{n}-{os.getpid()}@127.0.0.1\r\nMax-Forwards: 70\r\n")
    kind = n % 4
    if kind == 1:  # no CSeq: 400
        return (f"OPTIONS sip:x@127.0.0.1:{port} SIP/2.0\r\n{via}{head}"
                "Content-Length: 0\r\n\r\n").encode()
    if kind == 2:
        return b"\x00\x01 not SIP at all " * 8
    return (f"INVITE sip:8801711000{n % 1000:03d}@127.0.0.1:{port} SIP/2.0\r\n{via}{head}"
            f"CSeq: 1 INVITE\r\nContact: <sip:flood@127.0.0.1:{me}>\r\n"
            f"Content-Type: application/sdp\r\nContent-Length: {len(SDP)}\r\n\r\n{SDP}").encode()


def ack_for(response: bytes, port: int) -> bytes | None:
    """The ACK of a final non-2xx answer to an INVITE, so its transaction ends at once."""
    head = response.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    if not head[0].startswith(b"SIP/2.0 ") or head[0][8:9] in (b"1", b"2"):
        return None
    fields = {line.split(b":", 1)[0].lower(): line for line in head[1:] if b":" in line}
    cseq = fields.get(b"cseq", b"")
    if not cseq.endswith(b" INVITE") or b"via" not in fields:
        return None
    return (f"ACK sip:x@127.0.0.1:{port} SIP/2.0\r\n".encode()
            + b"\r\n".join([fields[b"via"], fields[b"from"], fields[b"to"], fields[b"call-id"],
                            cseq.replace(b"INVITE", b"ACK")])
            + b"\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n")


class Flood:
    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.me = self.sock.getsockname()[1]
        self.pings = 0
        self.acking = True
        self.shed = 0  # 503 answers

    def answer(self, data: bytes) -> None:
        if data.startswith(b"SIP/2.0 503 "):
            self.shed += 1
        ack = ack_for(data, self.port)
        if ack is not None and self.acking:
            self.sock.sendto(ack, ("127.0.0.1", self.port))

    def drain(self) -> None:
        self.sock.setblocking(False)
        try:
            while True:
                self.answer(self.sock.recv(65535))
        except BlockingIOError:
            pass

    def wait_until_handled(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pings += 1
            call_id = f"ping-{self.pings}-{os.getpid()}"
            self.drain()
            self.sock.sendto((
                f"OPTIONS sip:x@127.0.0.1:{self.port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:"
                f"{self.me};branch=z9hG4bKping{self.pings}x{os.getpid()}\r\nFrom: <sip:p@"
                f"127.0.0.1>;tag=p{self.pings}\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: {call_id}"
                "\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode(),
                ("127.0.0.1", self.port))
            sent = time.monotonic()
            self.sock.settimeout(0.2)
            while time.monotonic() - sent < 0.2:
                try:
                    data = self.sock.recv(65535)
                except TimeoutError:
                    break
                if call_id.encode() in data:
                    return
                self.answer(data)
        raise RuntimeError(f"the switch did not catch up within {timeout} s")


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    scenario_path, out, rounds, per_round, gap, idle = sys.argv[1:7]
    limit = int(sys.argv[7]) if len(sys.argv) > 7 else None
    sys.path.insert(0, str(ROOT))
    from simulator import load_scenario
    from simulator.run import RunStats
    from simulator.run._live import run_live
    from simulator.transports.live import _switch

    if limit is not None:
        _switch.MAX_OPEN_INVITES = limit

    ports: list[int] = []
    report: dict[str, object] = {"rounds": []}

    def echo(line: str) -> None:
        found = re.search(r"switch on 127\.0\.0\.1:(\d+)", line)
        if found:
            ports.append(int(found.group(1)))

    def flood() -> None:
        try:
            while not ports:
                time.sleep(0.05)
            sender = Flood(ports[0])
            sender.acking = limit is None
            sender.wait_until_handled()
            gc.collect()
            report["baseline"] = {"blocks": sys.getallocatedblocks(), "rss": rss_mb()}
            n = 0
            for _ in range(int(rounds)):
                for i in range(int(per_round)):
                    n += 1
                    sender.sock.sendto(junk(n, sender.me, sender.port),
                                       ("127.0.0.1", sender.port))
                    if i % 25 == 0:
                        sender.drain()
                        time.sleep(0.005)
                sender.wait_until_handled()
                report["rounds"].append({"blocks": sys.getallocatedblocks(),  # type: ignore
                                         "rss": rss_mb(), "t": time.monotonic()})
                time.sleep(float(gap))
            time.sleep(float(idle))
            sender.wait_until_handled()
            blocks = sys.getallocatedblocks()
            dead = gc.collect()
            report["idle"] = {"blocks": blocks, "dead_objects": dead,
                              "collected_blocks": sys.getallocatedblocks(), "rss": rss_mb()}
            report["shed_503"] = sender.shed
        except Exception as exc:  # reported to the test, which fails on it
            report["error"] = repr(exc)
        finally:
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=flood, daemon=True).start()
    stats = RunStats()
    result = run_live(load_scenario(scenario_path), stats=stats, port=0, agents=False,
                      out_dir=None, echo=echo)
    report["calls"] = stats.calls
    report["kept_cdrs"] = len(result.cdrs)
    Path(out).write_text(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
