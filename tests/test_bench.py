"""``make bench`` keeps working: a small run of bench/run.py prints every measurement."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_prints_engine_naive_floor_and_workers(tmp_path: Path) -> None:
    results = tmp_path / "benchmarks.md"
    shutil.copy(ROOT / "docs" / "benchmarks.md", results)
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--calls", "3000", "--workers", "2",
         "--core", "python", "--repeat", "2",  # the compiled core's own test builds and runs it
         "--results", str(results)],
        capture_output=True, text=True, timeout=300, check=True)
    out = done.stdout
    # The report went into its own section of the results file; the rest stayed as it was.
    written = results.read_text()
    section = written.split("<!-- bench/run.py results:")[1].split("<!-- end of bench/run.py")[0]
    assert out.strip().splitlines()[-1] in section and "--calls 3000" in section
    prose = (ROOT / "docs" / "benchmarks.md").read_text()
    assert written.split("<!-- bench/run.py results:")[0] == prose.split(
        "<!-- bench/run.py results:")[0]
    assert written.split("<!-- bench/pipeline.py results:")[1] == prose.split(
        "<!-- bench/pipeline.py results:")[1]
    calls = {}
    for label in ("1 process", "naive ref", "floor", "2 workers"):
        line = next(line for line in out.splitlines() if line.strip().startswith(label))
        count, rate = re.search(r":\s+([\d,]+) calls\s+([\d,]+) (?:CDR|calls)/s", line).groups()
        calls[label] = int(count.replace(",", ""))
        assert calls[label] >= 2500 and int(rate.replace(",", "")) > 0, line
    # The floor and the sharded run take the very call attempts of the single-process run.
    assert calls["floor"] == calls["1 process"] == calls["2 workers"]
    assert "[met] peak RSS < 200 MB" in out
    assert "[met] end-reason mix within 1 point" in out
    assert "[met] every round wrote the same CDR files" in out
    rounds = [line for line in out.splitlines() if line.strip().startswith("round ")]
    assert len(rounds) == 2 and all("naive" in line and "workers" in line for line in rounds)


def test_bench_without_a_compiled_core_says_how_to_build_it(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--calls", "3000"],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "VOSSIM_COMPILED_DIR": str(tmp_path)})
    assert done.returncode == 1
    assert "holds no compiled core" in done.stdout and "make compiled" in done.stdout
    assert "1 process" not in done.stdout  # nothing measured on one core only


def test_results_file_keeps_one_section_per_script(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from results import write_section

    results = tmp_path / "benchmarks.md"
    results.write_text("# Benchmarks\n\nprose before\n")
    write_section(results, "bench/run.py", ["first run: 10 CDR/s"], argv=["--calls", "10"])
    write_section(results, "bench/pipeline.py", ["sinks: 5 CDR/s"], argv=[])
    write_section(results, "bench/run.py", ["second run: 20 CDR/s"], argv=["--calls", "20"])
    text = results.read_text()
    assert text.startswith("# Benchmarks\n\nprose before\n")
    assert "second run: 20 CDR/s" in text and "first run" not in text
    assert "`python bench/run.py --calls 20`" in text and "sinks: 5 CDR/s" in text
    assert text.count("<!-- bench/run.py results:") == 1
    assert text.index("sinks: 5 CDR/s") > text.index("second run")  # replaced in place
