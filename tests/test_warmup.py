"""--warmup: a feed that starts in steady state, with calls already in progress."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

from simulator import run_scenario
from traffic_support import LOAD_BASE, ROOT, load_scenario_from, pipe_records, profile

# Every call answers after 2 s and talks 30 s: without a warm-up, nothing ends for 32 s.
STEADY = {"cps": 20, "duration": 60, "hold_time": {"dist": "fixed", "value": 30}}


def _ends_in_first_seconds(rows: list[list[str]], start_ms: int, seconds: int) -> int:
    return sum(1 for r in rows if int(r[3]) < start_ms + seconds * 1000)


def test_warmup_starts_the_output_in_steady_state(tmp_path: Path) -> None:
    scenario = load_scenario_from(profile(**STEADY), calls=[
        {"id": "x", "at": 5, "from": "BETA-GW", "caller": "1", "callee": "8801911000002",
         "callee_does": {"answer_after": 1, "hangup_after": 10}, "expect": {"holdTime": 10}}],
        routing_gateways={"VENDOR-A": {"ip": "198.51.100.20", "prefixes": ["880"],
                                       "outages": [{"at": 40, "until": 50}]}})
    start_ms = int(scenario.start.timestamp() * 1000)
    run_scenario(scenario, tmp_path / "cold", ("pipe",))
    warm = run_scenario(scenario, tmp_path / "warm", ("pipe",), warmup=120)
    cold_rows, warm_rows = pipe_records(tmp_path / "cold"), pipe_records(tmp_path / "warm")
    assert _ends_in_first_seconds(cold_rows, start_ms, 10) == 0  # x itself ends at 16 s
    # Warm: about 20 calls end every second from the first one on (20 cps x 10 s).
    assert 120 <= _ends_in_first_seconds(warm_rows, start_ms, 10) <= 290
    assert warm.warmup_calls > 1500 and min(int(r[3]) for r in warm_rows) >= start_ms
    # Calls already talking at the start: answered before it.
    assert sum(1 for r in warm_rows if int(r[2]) < start_ms) > 400
    # The feed numbers its own records from 1; scheduled things keep their wall-clock instant.
    assert [int(r[17]) for r in warm_rows] == list(range(1, len(warm_rows) + 1))
    assert warm.mismatches() == [] and warm.cdrs["x"].starttime == start_ms + 6000
    outage = [r for r in warm_rows if r[5] == "22" or r[5] == "21"]  # route down 40-50 s
    assert outage and all(start_ms + 40_000 <= int(r[3]) < start_ms + 50_000 for r in outage)


def test_realtime_udp_feed_runs_at_its_rate_from_the_first_second(tmp_path: Path) -> None:
    data = dict(LOAD_BASE, traffic=[profile(**{**STEADY, "duration": 30})])
    scenario_file = tmp_path / "steady.yaml"
    scenario_file.write_text(yaml.safe_dump(data, sort_keys=False))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.5)
    arrivals: list[float] = []

    def collect() -> None:
        quiet = 0
        # Up to 30 s for the first datagram (a loaded machine starts the CLI slowly), then 4 s.
        while quiet < (8 if arrivals else 60):
            try:
                sock.recv(65535)
                arrivals.append(time.monotonic())
                quiet = 0
            except TimeoutError:
                quiet += 1

    thread = threading.Thread(target=collect)
    thread.start()
    try:
        # 5 simulated seconds per second: the target is 20 cps x 5 = 100 datagrams a second.
        done = subprocess.run(
            [sys.executable, "-m", "simulator.cli", "run", str(scenario_file), "-o",
             str(tmp_path / "out"), "--format", "pipe", "--realtime", "--speed", "5",
             "--warmup", "90", "--udp", f"127.0.0.1:{sock.getsockname()[1]}"],
            cwd=ROOT, capture_output=True, text=True, timeout=120)
        thread.join()
    finally:
        sock.close()
    assert done.returncode == 0, done.stderr
    assert "warm-up:" in done.stdout
    first = arrivals[0]
    per_second = [sum(1 for t in arrivals if first + s <= t < first + s + 1) for s in range(4)]
    # From the first second on (not after 32 simulated seconds of ramp-up): ~100 a second.
    assert all(50 <= n <= 160 for n in per_second), per_second
    assert len(arrivals) == len(pipe_records(tmp_path / "out"))


def test_warmup_is_checked(tmp_path: Path) -> None:
    def vossim(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "simulator.cli", "run",
                               "scenarios/load/standard.yaml", "-o", str(tmp_path), *args],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)

    for args, message in ((["--warmup", "-5"], "expected --warmup of 0 s or more"),
                          (["--warmup", "60", "--workers", "2"], "--warmup")):
        done = vossim(*args)
        assert done.returncode == 2 and message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr and not any(tmp_path.iterdir())
