"""Streaming: constant memory, realtime runs, the UDP feed, the progress bar and the summary."""

from __future__ import annotations

import gc
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

from simulator import run_scenario
from simulator.transports._simulated import Simulation
from traffic_support import LOAD_BASE, ROOT, load_scenario_from, pipe_records, profile


def test_memory_does_not_grow_with_finished_calls() -> None:
    # 100,000 calls; short ones so that few are in progress at any time. Memory is sampled with
    # the interpreter's own counters (allocated blocks, objects the collector tracks), which
    # cost nothing between samples, unlike tracemalloc.
    scn = load_scenario_from(profile(cps=2000, duration=50, callee_mix={"busy": 0.5},
                                     hold_time={"dist": "fixed", "value": 1},
                                     answer_delay={"dist": "fixed", "value": 0.2}))
    samples: dict[int, tuple[int, int]] = {}
    count = 0

    def on_cdr(_cdr) -> None:
        nonlocal count
        count += 1
        if count in (20_000, 95_000):
            gc.collect()
            samples[count] = (sys.getallocatedblocks(), len(gc.get_objects()))

    Simulation(scn, on_cdr).run()
    assert count >= 99_000
    blocks = samples[95_000][0] - samples[20_000][0]
    objects = samples[95_000][1] - samples[20_000][1]
    # 75,000 more finished calls: no call, record or script may stay behind.
    assert blocks / 75_000 < 0.05, f"{blocks} more memory blocks after 75,000 calls"
    assert objects / 75_000 < 0.01, f"{objects} more live objects after 75,000 calls"


def test_realtime_takes_wall_time_and_matches_the_batch_run(tmp_path: Path) -> None:
    scn = load_scenario_from(profile(cps=10, duration=20, hold_time={"dist": "fixed", "value": 5}))
    batch = run_scenario(scn, tmp_path / "batch", ("pipe",))
    began = time.monotonic()
    live = run_scenario(scn, tmp_path / "live", ("pipe",), realtime_speed=100)
    elapsed = time.monotonic() - began
    assert elapsed >= 0.9 * live.stats.sim_seconds / 100
    assert elapsed < 10
    assert pipe_records(tmp_path / "live") == pipe_records(tmp_path / "batch")
    assert batch.stats.calls == live.stats.calls
    assert not list((tmp_path / "live").glob(".vossim-staging-*"))


def test_realtime_cdrs_appear_while_the_run_goes_on(tmp_path: Path) -> None:
    scn = load_scenario_from(profile(cps=20, duration=30, hold_time={"dist": "fixed", "value": 1},
                                     answer_delay={"dist": "fixed", "value": 0.5}))
    out = tmp_path / "out"
    runner = threading.Thread(target=run_scenario, args=(scn, out, ("pipe",)),
                              kwargs={"realtime_speed": 15})
    runner.start()
    seen_during_run = 0
    while runner.is_alive():
        lines = sum(len(p.read_text().splitlines()) for p in (out / "cdr").glob("*.txt")) \
            if (out / "cdr").exists() else 0
        if lines and runner.is_alive():
            seen_during_run = max(seen_during_run, lines)
        time.sleep(0.1)
    runner.join()
    total = len(pipe_records(out))
    assert 0 < seen_during_run < total


def _collector() -> tuple[socket.socket, list[bytes], threading.Thread]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.5)
    received: list[bytes] = []

    def collect() -> None:
        quiet = 0
        # Up to 30 s for the first datagram (a loaded machine starts the CLI slowly), then 2 s.
        while quiet < (4 if received else 60):
            try:
                received.append(sock.recv(65535))
                quiet = 0
            except TimeoutError:
                quiet += 1
    thread = threading.Thread(target=collect)
    thread.start()
    return sock, received, thread


def test_udp_feed_sends_one_datagram_per_cdr(tmp_path: Path) -> None:
    sock, received, thread = _collector()
    scn = load_scenario_from(profile(cps=10, duration=20, callee_mix={"busy": 0.3}))
    try:
        run_scenario(scn, tmp_path, ("pipe",), udp=sock.getsockname(), realtime_speed=200)
        thread.join()
    finally:
        sock.close()
    lines = [line.encode() for path in sorted((tmp_path / "cdr").glob("*.txt"))
             for line in path.read_text().splitlines()]
    assert len(lines) > 150
    assert received == lines


def test_cli_realtime_udp_and_progress(tmp_path: Path) -> None:
    sock, received, thread = _collector()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "simulator.cli", "run", "scenarios/load/fraud-burst.yaml",
             "-o", str(tmp_path), "--format", "pipe", "--scale", "0.05", "--realtime",
             "--speed", "2000", "--udp", f"127.0.0.1:{sock.getsockname()[1]}", "--progress"],
            cwd=ROOT, capture_output=True, text=True, timeout=60)
        thread.join()
    finally:
        sock.close()
    assert done.returncode == 0, done.stderr
    assert "CDR/s" in done.stderr and "calls" in done.stderr
    assert "per gateway" in done.stdout and "in ACME-GW" in done.stdout
    assert len(received) == len(pipe_records(tmp_path)) > 0


def test_cli_rejects_bad_stream_options(tmp_path: Path) -> None:
    def vossim(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "simulator.cli", "run",
                               "scenarios/load/standard.yaml", "-o", str(tmp_path), *args],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
    bad_udp = vossim("--udp", "localhost")
    assert bad_udp.returncode == 2 and "expected HOST:PORT" in bad_udp.stderr
    lone_speed = vossim("--speed", "10")
    assert lone_speed.returncode == 2 and "--speed goes with --realtime" in lone_speed.stderr
    mixed = vossim("--workers", "2", "--realtime")
    assert mixed.returncode == 2 and "cannot be combined" in mixed.stderr
    assert "Traceback" not in bad_udp.stderr + lone_speed.stderr + mixed.stderr
    assert not list(tmp_path.rglob("*.txt"))


def test_summary_shows_gateways_and_alarms(tmp_path: Path) -> None:
    data = {**LOAD_BASE, "traffic": [
        # Every answered call loses its media: the server ends them all (Media Timeout).
        profile(cps=2, duration=60, media_loss={"share": 1, "after": {"dist": "fixed",
                                                                      "value": 1}},
                hold_time={"dist": "fixed", "value": 600}),
        # The callee hangs up after 2 s on every call through BETA: a CLI/spam pattern.
        profile(**{"from": "BETA-GW"}, cps=2, duration=60, callee_hangs_up=1,
                hold_time={"dist": "fixed", "value": 2})]}
    path = tmp_path / "alarms.yaml"
    path.write_text(yaml.safe_dump(data))
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "run", str(path),
                           "-o", str(tmp_path / "out"), "--format", "pipe"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "ALARM caller gateway ACME-GW: server hangups 100.0%" in done.stdout
    assert "ALARM caller gateway BETA-GW: callee hangups under 5 s 100.0%" in done.stdout
    assert "ALARM caller gateway BETA-GW: server" not in done.stdout
    assert "in ACME-GW" in done.stdout and "out VENDOR-A" in done.stdout


def test_unwritable_output_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    done = subprocess.run([sys.executable, "-m", "simulator.cli", "run",
                           "scenarios/load/fraud-burst.yaml", "-o", str(tmp_path / "file" / "x"),
                           "--format", "pipe"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert "cannot write" in done.stderr and "Traceback" not in done.stderr


def test_realtime_refuses_a_directory_that_already_holds_cdrs(tmp_path: Path) -> None:
    from simulator.run._options import RunOptionError

    scn = load_scenario_from(profile(cps=1, duration=5))
    run_scenario(scn, tmp_path, ("pipe",))
    before = pipe_records(tmp_path)
    try:
        run_scenario(scn, tmp_path, ("pipe",), realtime_speed=1000)
    except RunOptionError as exc:
        assert "already holds CDR files" in str(exc)
    else:
        raise AssertionError("a realtime run appended to an earlier run's files")
    assert pipe_records(tmp_path) == before
