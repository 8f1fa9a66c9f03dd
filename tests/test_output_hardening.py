"""Output files (issue 9): --trace never replaces what is not a regular file and ``-`` is standard
output; no staging survives a signal or a bad path, and stale staging of a dead run is cleaned;
SIGTERM is taken like Ctrl-C; a full disk is a clear error, and a realtime feed keeps whole lines.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scenario_support import ROOT, VOSSIM, cli

LONG = ["scenarios/load/standard.yaml", "--scale", "40", "--no-progress"]


def staging_in(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if ".vossim" in p.name] if directory.exists() else []


def start(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen([*VOSSIM, *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def wait_for(condition: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "the run never got there"
        time.sleep(0.05)


def test_trace_dash_and_dev_stdout_go_to_standard_output(tmp_path: Path) -> None:
    for target in ("-", "/dev/stdout"):
        done = subprocess.run([*VOSSIM, "run", str(ROOT / "scenarios" / "demo.yaml"), "-o",
                               str(tmp_path / "o"), "--trace", target], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert len(lines) > 50
        assert all(json.loads(line)["call"] for line in lines)  # nothing else on stdout
        assert "records written" in done.stderr  # the summary moved to stderr
    assert os.path.islink("/dev/stdout")
    assert not (tmp_path / "-").exists()


def test_dev_stdout_redirected_to_a_file_is_not_replaced(tmp_path: Path) -> None:
    captured = tmp_path / "captured.txt"
    with captured.open("w") as stdout:
        done = subprocess.run([*VOSSIM, "run", "scenarios/demo.yaml", "-o", str(tmp_path / "o"),
                               "--trace", "/dev/stdout"], cwd=ROOT, stdout=stdout,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert os.path.islink("/dev/stdout")
    lines = captured.read_text().splitlines()
    assert len(lines) > 50 and all(json.loads(line)["call"] for line in lines)


def test_trace_into_a_device_or_through_a_symlink_keeps_them(tmp_path: Path) -> None:
    done = cli("run", "scenarios/demo.yaml", "-o", str(tmp_path / "o"), "--trace", "/dev/null")
    assert done.returncode == 0, done.stderr
    assert Path("/dev/null").is_char_device()
    real = tmp_path / "real.jsonl"
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    done = cli("run", "scenarios/demo.yaml", "-o", str(tmp_path / "o"), "--trace", str(link))
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert len(real.read_text().splitlines()) > 50
    assert not staging_in(tmp_path)


def test_unwritable_trace_path_leaves_no_staging(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = cli("run", "scenarios/demo.yaml", "-o", str(out), "--trace",
               str(tmp_path / "no" / "such" / "t.jsonl"))
    assert done.returncode == 2
    assert f"cannot write {tmp_path}/no/such/t.jsonl: No such file or directory" in done.stderr
    assert "Traceback" not in done.stderr
    assert not staging_in(out) and not (out.exists() and any(out.iterdir()))


def test_sigterm_is_taken_like_ctrl_c_and_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = start("run", *LONG, "-o", str(out), "--format", "pipe,sqlite,jsonl", "--trace",
                str(tmp_path / "t.jsonl"))
    try:
        wait_for(lambda: staging_in(out) and staging_in(tmp_path))
        run.send_signal(signal.SIGTERM)
        _, stderr = run.communicate(timeout=60)
    finally:  # a run that missed the signal must not stay behind, holding a core and memory
        run.kill()
        run.wait()
    assert run.returncode == 130, stderr
    assert "terminated (SIGTERM); nothing was written" in stderr and "Traceback" not in stderr
    assert not out.exists() and not staging_in(tmp_path)  # not even the directory


LOST_WHERE_IT_LANDED = """
import signal, sys, time
from pathlib import Path
from simulator import load_scenario, run_scenario
from simulator.cli import Terminated, install_signal_handlers
install_signal_handlers()
try:  # code that clears the exception, as numpy's lazy import of its random module can
    signal.raise_signal(getattr(signal, sys.argv[1]))  # the handler runs before this returns
except KeyboardInterrupt:
    print("cleared")
out = Path(sys.argv[2])
workers = int(sys.argv[3])
began = time.monotonic()
try:
    run_scenario(load_scenario("scenarios/load/standard.yaml"), out, ("pipe", "sqlite"),
                 scale=100 if workers > 1 else 1, workers=workers)
    print("went on")
except Terminated:
    print("taken: Terminated")
except KeyboardInterrupt:
    print("taken: KeyboardInterrupt")
print(sorted(p.name for p in out.iterdir()) if out.exists() else "gone")  # even the directory
print(time.monotonic() - began < 8)  # a shard of --scale 100 runs far longer
"""


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize(("signal_name", "taken"), [("SIGTERM", "Terminated"),
                                                    ("SIGINT", "KeyboardInterrupt")])
def test_a_stop_lost_where_the_signal_landed_is_taken_by_the_run(
        tmp_path: Path, signal_name: str, taken: str, workers: int) -> None:
    # With workers the parent runs the first shard itself: it takes the stop there.
    done = subprocess.run([sys.executable, "-c", LOST_WHERE_IT_LANDED, signal_name,
                           str(tmp_path / "out"), str(workers)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert done.stdout.splitlines() == ["cleared", f"taken: {taken}", "gone", "True"], \
        done.stderr


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_while_a_realtime_record_goes_out_waits_until_it_is_written_and_counted(
        tmp_path: Path, stop: signal.Signals) -> None:
    # A stopped realtime run reports output.records as what is on disk: a stop taken between
    # the sinks' writes and the count would make the report one short of the files.
    from test_sink_output import START, record

    from cdr_writer import Output
    from simulator.cli import install_signal_handlers
    from simulator.run import _stop
    from simulator.run._outputs import counted
    from simulator.run._stats import RunStats

    host = signal.signal(signal.SIGINT, signal.default_int_handler)
    previous = install_signal_handlers()
    try:
        output = Output(tmp_path, ("jsonl", "pipe"), 2, direct=True)
        pipe = next(sink for sink in output.sinks if type(sink).__name__ == "PipeSink")
        pipe_write = pipe.write

        def write_then_signal(cdr: object) -> None:
            pipe_write(cdr)
            signal.raise_signal(stop)  # its handler runs before this returns
        pipe.write = write_then_signal  # type: ignore[method-assign]
        on_cdr = counted(RunStats(), output.write, whole=True)
        with pytest.raises(KeyboardInterrupt):
            on_cdr(record(1, START + 1000))
        assert output.records == 1
        files = output.commit()
    finally:
        _stop.taken()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        signal.signal(signal.SIGINT, host)
    assert [len(p.read_text().splitlines()) for p in sorted(files)] == [1, 1]


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def test_sigterm_stops_a_sharded_run_without_waiting_for_its_workers(tmp_path: Path) -> None:
    # At --scale 1000 a worker's shard runs for minutes: a parent that waited for it would
    # still be there long after the deadline below.
    out = tmp_path / "out"
    run = start("run", "scenarios/load/standard.yaml", "--scale", "1000", "--workers", "2",
                "--no-progress", "-o", str(out))
    workers: list[int] = []
    try:
        wait_for(lambda: staging_in(out) and children(run.pid))
        workers = children(run.pid)
        time.sleep(1)  # the worker is into its shard
        run.send_signal(signal.SIGTERM)
        _, stderr = run.communicate(timeout=20)
    finally:  # a failing run must not stay behind, holding a core and memory
        for pid in [run.pid, *workers]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        run.wait()
    assert run.returncode == 130, stderr
    assert "terminated (SIGTERM); nothing was written" in stderr and "Traceback" not in stderr
    # the workers (and multiprocessing's resource tracker, which follows its parent) are gone
    wait_for(lambda: not [pid for pid in workers if _alive(pid)], timeout=10)
    assert not out.exists()


def _alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def test_main_leaves_the_signal_handlers_of_its_host_as_they_were(tmp_path: Path) -> None:
    from simulator.cli import main

    before = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    assert main(["run", "scenarios/demo.yaml", "-o", str(tmp_path / "o")]) == 0
    assert {signum: signal.getsignal(signum) for signum in before} == before


def test_staging_of_a_killed_run_is_cleaned_by_the_next(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = start("run", *LONG, "-o", str(out), "--trace", str(tmp_path / "t.jsonl"))
    wait_for(lambda: staging_in(out) and staging_in(tmp_path))
    run.kill()
    run.communicate(timeout=60)
    left = staging_in(out) + staging_in(tmp_path)
    assert len(left) == 2 and all(str(run.pid) in p.name for p in left)
    alive = out / f".vossim-staging-{os.getpid()}-mine"  # a live run's staging stays
    alive.mkdir()
    done = cli("run", "scenarios/demo.yaml", "-o", str(out), "--trace", str(tmp_path / "t.jsonl"))
    assert done.returncode == 0, done.stderr
    assert staging_in(out) == [alive] and not staging_in(tmp_path)
    assert (tmp_path / "t.jsonl").stat().st_size > 0


@contextlib.contextmanager
def small_disk(path: Path, size_kb: int) -> Iterator[dict[str, object]]:
    """A real full disk: a tmpfs of ``size_kb`` (as root); else a file-size limit of the same."""
    path.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs",
                              str(path)], capture_output=True).returncode == 0
    try:
        if mounted:
            yield {}
        else:
            limit = size_kb * 1024
            yield {"preexec_fn": lambda: resource.setrlimit(resource.RLIMIT_FSIZE,
                                                            (limit, limit))}
    finally:
        if mounted:
            subprocess.run(["umount", str(path)], check=True)
        shutil.rmtree(path, ignore_errors=True)


def test_full_disk_with_sqlite_is_a_clear_error_with_nothing_left(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    with small_disk(disk, 200) as limits:
        out = disk / "out"
        done = subprocess.run([*VOSSIM, "run", "scenarios/load/standard.yaml", "-o", str(out),
                               "--format", "sqlite", "--no-progress"], cwd=ROOT,
                              capture_output=True, text=True, timeout=300, **limits)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(f"vossim run: cannot write {out}/vos3000.db: "), done.stderr
        assert "Traceback" not in done.stderr
        assert not out.exists()


def test_realtime_on_a_full_disk_keeps_whole_lines(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    with small_disk(disk, 200) as limits:
        out = disk / "out"
        done = subprocess.run([*VOSSIM, "run", "scenarios/load/standard.yaml", "-o", str(out),
                               "--format", "jsonl,pipe", "--realtime", "--speed", "100000",
                               "--no-progress"], cwd=ROOT, capture_output=True, text=True,
                              timeout=300, **limits)
        assert done.returncode == 2, done.stderr
        assert "CDRs written before it are on disk, every line complete" in done.stderr
        assert "Traceback" not in done.stderr
        text = (out / "cdr.jsonl").read_text()
        assert text.endswith("\n") and len(text.splitlines()) > 10
        assert all(json.loads(line)["callId"] for line in text.splitlines())
        for pipe in (out / "cdr").glob("*.txt"):
            body = pipe.read_text()
            assert not body or body.endswith("\n")
            assert all(line.count("|") == 17 for line in body.splitlines())


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_realtime_stop_says_what_was_written(tmp_path: Path, stop: signal.Signals) -> None:
    out = tmp_path / "out"
    run = start("run", "scenarios/load/standard.yaml", "-o", str(out), "--format",
                "jsonl,pipe", "--realtime", "--speed", "200", "--no-progress")
    jsonl = out / "cdr.jsonl"
    wait_for(lambda: jsonl.exists() and jsonl.stat().st_size > 5000)
    run.send_signal(stop)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 130, stderr
    lines = jsonl.read_text().splitlines()
    assert all(json.loads(line)["callId"] for line in lines)
    assert f"{len(lines):,} CDRs were written as the calls ended, and every line on disk is " \
           "complete" in stderr, stderr
    assert str(jsonl) in stderr and "nothing was written" not in stderr
