"""Fixtures for live-mode tests: real `vossim live`, real SIPp, on loopback, parallel-safe ports.

Every test gets its own block of UDP ports derived from the xdist worker id, so `pytest -n 2`
never binds one port twice. Every subprocess is started with a deadline and killed (by its own
pid) when the test ends, pass or fail.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SIPP_PAIR = """\
version: 1
name: {name}
switch: {{media_timeout: 0, SS_SIP_SESSION_TTL: 0}}
accounts:
  ACME: {{type: postpaid, rate_table: retail}}
rate_tables:
  retail: [{{prefix: "880", fee: 0.25, period: 60}}]
mapping_gateways:
  SIPP-UAC: {{account: ACME, ips: ["127.0.0.1:{uac}"]}}
routing_gateways:
  SIPP-UAS: {{ip: "127.0.0.1:{uas}", prefixes: ["880"]}}
"""
SIPP_DIR = Path(__file__).parent / "sipp"
_blocks = itertools.count()
PORTS_PER_TEST = 10


def _worker_number() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    digits = "".join(ch for ch in worker if ch.isdigit())
    return int(digits or 0)


BLOCKS_PER_WORKER = 190


def _block_is_free(base: int) -> bool:
    """No socket on any local address holds a port of the block (binding 0.0.0.0 checks all)."""
    for port in range(base, base + PORTS_PER_TEST):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("0.0.0.0", port))
            except OSError:
                return False
    return True


@pytest.fixture
def ports() -> Iterator[int]:
    """The first of PORTS_PER_TEST UDP ports no one else uses, for this test alone.

    Blocks lie below the kernel's ephemeral range (32768-60999), so no client socket can take
    them; each xdist worker has its own range, and each pytest session starts at a different
    block (from its pid) and skips blocks in use, so two sessions on one machine can coexist.
    """
    first = 20000 + 2000 * _worker_number()
    for _ in range(BLOCKS_PER_WORKER):
        block = (next(_blocks) + os.getpid()) % BLOCKS_PER_WORKER
        base = first + PORTS_PER_TEST * block
        if _block_is_free(base):
            yield base
            return
    pytest.fail("no free block of UDP ports for this test")


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed (make system-deps installs it)")
    return path


class Processes:
    """Subprocesses of one test; all killed at teardown."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen[str]] = []

    def start(self, cmd: list[str], **kwargs: object) -> subprocess.Popen[str]:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, cwd=ROOT, **kwargs)  # type: ignore[call-overload]
        self.started.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=5)


@pytest.fixture
def procs() -> Iterator[Processes]:
    processes = Processes()
    yield processes
    processes.close()


def wait_for_sip(port: int, timeout: float = 15.0) -> None:
    """Until something on 127.0.0.1:port answers an OPTIONS."""
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.2)
        me = sock.getsockname()[1]
        n = 0
        while time.monotonic() < deadline:
            n += 1
            sock.sendto(options_request(port, me, n), ("127.0.0.1", port))
            try:
                data = sock.recv(65535)
            except TimeoutError:
                continue
            if data.startswith(b"SIP/2.0 "):
                return
    pytest.fail(f"nothing answered SIP on 127.0.0.1:{port} within {timeout} s")


def options_request(port: int, me: int, n: int) -> bytes:
    return (f"OPTIONS sip:ping@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKping{n}{time.monotonic_ns()}\r\n"
            f"From: <sip:probe@127.0.0.1:{me}>;tag=probe{n}\r\n"
            f"To: <sip:ping@127.0.0.1:{port}>\r\n"
            f"Call-ID: probe-{me}-{n}-{time.monotonic_ns()}@127.0.0.1\r\n"
            f"CSeq: {n} OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode()


class LiveSwitch:
    """`vossim live --no-agents` as a subprocess, serving for a bounded time."""

    def __init__(self, procs: Processes, scenario: Path, port: int, out: Path,
                 duration: float, *extra: str) -> None:
        self.out = out
        self.cmd = [sys.executable, "-m", "simulator.cli", "live", str(scenario),
                    "--port", str(port), "--duration", str(duration), "-o", str(out),
                    "--format", "pipe,jsonl", "--no-agents", *extra]
        self.duration = duration
        self.proc = procs.start(self.cmd)
        wait_for_sip(port)

    def stop(self, settle: float = 0.5) -> list[dict[str, object]]:
        """``finish`` without waiting out ``--duration``, once every call of the test has ended
        on both sides: after ``settle`` s (late retransmissions, an exception they would raise),
        SIGTERM, which stops the switch exactly as the end of ``--duration`` does (a call still
        up would be released and recorded, so a test expecting its own CDR would still fail)."""
        time.sleep(settle)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.finish()

    def finish(self) -> list[dict[str, object]]:
        try:
            output, _ = self.proc.communicate(timeout=self.duration + 30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            output, _ = self.proc.communicate()
            pytest.fail(f"vossim live did not stop after --duration:\n{output}")
        assert self.proc.returncode == 0, output
        # an exception inside the SIP stack is a bug even when every CDR came out right
        assert "exceptions inside the SIP stack" not in output, output
        assert "exception inside the SIP stack" not in output, output
        self.output = output
        path = self.out / "cdr.jsonl"
        assert path.exists(), output
        return [json.loads(line) for line in path.read_text().splitlines() if line]


def write_scenario(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def sipp_xml(tmp_path: Path, name: str, **values: object) -> Path:
    """A SIPp scenario from tests/live/sipp with its @NAME@ placeholders filled in."""
    text = (SIPP_DIR / name).read_text()
    for key, value in values.items():
        text = text.replace(f"@{key.upper()}@", str(value))
    out = tmp_path / name
    out.write_text(text)
    return out


def sipp_command(*args: str) -> list[str]:
    return [require("sipp"), "-nostdin", "-i", "127.0.0.1", *args]


class Kit:
    """What a live test needs, as one fixture (test modules cannot import conftest safely)."""

    def __init__(self, procs: Processes, ports: int, tmp_path: Path) -> None:
        self.procs = procs
        self.base = ports
        self.tmp = tmp_path
        self.switch_port = ports
        self.uac_port = ports + 1
        self.uas_port = ports + 2

    def scenario(self, text: str, name: str = "scenario.yaml") -> Path:
        return write_scenario(self.tmp / name, text)

    def sipp_pair_scenario(self, name: str) -> Path:
        """A SIPp uac as the only customer, a SIPp uas as the only vendor, nothing else on."""
        return self.scenario(SIPP_PAIR.format(name=name, uac=self.uac_port, uas=self.uas_port))

    def switch(self, scenario: Path, duration: float, *extra: str) -> LiveSwitch:
        return LiveSwitch(self.procs, scenario, self.switch_port, self.tmp / "out", duration,
                          *extra)

    def wait_for_switch(self) -> None:
        wait_for_sip(self.switch_port)

    def xml(self, name: str, **values: object) -> Path:
        return sipp_xml(self.tmp, name, **values)

    def uas(self, *args: str) -> subprocess.Popen[str]:
        """A SIPp UAS (routing gateway) in the background on uas_port."""
        proc = self.procs.start(sipp_command("-p", str(self.uas_port), *args))
        wait_for_sip_listener(self.uas_port)
        return proc

    def uac(self, *args: str, calls: int = 1, timeout: float = 30) -> subprocess.CompletedProcess:
        """A SIPp UAC calling the switch from uac_port; returns when its calls are done."""
        cmd = sipp_command("-p", str(self.uac_port), f"127.0.0.1:{self.switch_port}",
                           "-m", str(calls), "-timeout", f"{int(timeout)}s", "-timeout_error",
                           *args)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 10,
                              cwd=self.tmp)


def wait_for_sip_listener(port: int, timeout: float = 5.0) -> None:
    """Until a UDP socket is bound on 127.0.0.1:port (SIPp uas answers no OPTIONS)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return  # taken: the listener is up
        time.sleep(0.05)
    pytest.fail(f"no listener on 127.0.0.1:{port}")


@pytest.fixture
def kit(procs: Processes, ports: int, tmp_path: Path) -> Kit:
    return Kit(procs, ports, tmp_path)
