"""`vossim live` start-up: a port it cannot have is a clear error with nothing written, and
`--port 0` reports the port the kernel actually gave."""

from __future__ import annotations

import os
import re
import select
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "scenarios" / "demo.yaml"


def live(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simulator.cli", "live", str(DEMO), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_a_port_out_of_range_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for port in ("70000", "-1", "5o60"):
        done = live(f"--port={port}", "-o", str(out), "--no-agents", "--duration", "1")
        assert done.returncode == 2, done.stdout + done.stderr
        assert f"argument --port: expected a UDP port 0-65535, found '{port}'" in done.stderr
        assert "Traceback" not in done.stderr + done.stdout
    assert not out.exists()


def test_a_port_in_use_is_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        done = live("--port", str(port), "-o", str(out), "--no-agents", "--duration", "1")
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert not out.exists() or not any(out.iterdir()), list(out.iterdir())


def test_port_0_prints_the_port_actually_bound(procs, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = procs.start([sys.executable, "-m", "simulator.cli", "live", str(DEMO), "--port", "0",
                        "-o", str(tmp_path / "out"), "--no-agents", "--duration", "6",
                        "--format", "jsonl"], env=env)
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    assert ready, "vossim live printed nothing within 30 s"
    first = proc.stdout.readline()
    found = re.search(r"switch on 127\.0\.0\.1:(\d+) ", first)
    assert found, first
    port = int(found.group(1))
    assert port != 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(10)
        me = sock.getsockname()[1]
        sock.sendto((f"OPTIONS sip:ping@127.0.0.1:{port} SIP/2.0\r\n"
                     f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKport0\r\n"
                     f"From: <sip:probe@127.0.0.1:{me}>;tag=p0\r\nTo: <sip:ping@127.0.0.1>\r\n"
                     f"Call-ID: port0-{me}@127.0.0.1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
                     "Content-Length: 0\r\n\r\n").encode(), ("127.0.0.1", port))
        answer = sock.recv(65535).decode()
    assert answer.startswith("SIP/2.0 200"), answer
    assert proc.wait(timeout=60) == 0


def test_a_scenario_live_mode_cannot_play_is_refused_before_anything_starts(
        tmp_path: Path) -> None:
    calls = "".join(f"  - {{id: c{n}, at: {n}, from: PBX, caller: '100', callee: '880{n}', "
                    "caller_does: {hangup_after: 30}}\n" for n in range(6))
    scenario = tmp_path / "fixed-port.yaml"
    scenario.write_text(f"""\
version: 1
accounts: {{A: {{rate_table: r}}}}
rate_tables: {{r: [{{prefix: "880", fee: 0.1}}]}}
mapping_gateways: {{PBX: {{account: A, ips: ["127.0.0.1:5161"]}}}}
routing_gateways: {{V1: {{ip: "198.51.100.20", prefixes: ["880"]}}}}
calls:
{calls}""")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "live", str(scenario),
                           "--port", "0", "-o", str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "cannot play this scenario live as written" in done.stderr
    assert "6 calls come from 127.0.0.1:5161, one fixed source port" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert "switch on" not in done.stdout  # refused before binding or starting any agent
    assert not out.exists()
