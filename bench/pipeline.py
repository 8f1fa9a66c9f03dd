"""``make bench`` (second part): CDR/s into each sink, and CDR/s through ``vossim analyze``.

Sinks: the standard profile to ``--sink-calls`` call attempts, once per format (pipe, parquet,
mariadb), each in a fresh interpreter, end to end (CDR/s of the whole run); then the sink alone:
the run's rows read back from Parquet and fed to a fresh sink, timing only the sink's calls.
MariaDB is a private server started for the bench (own data directory and port on 127.0.0.1),
unless ``--db URL`` names one.

Analyze: a Parquet file of ``--analyze-cdrs`` CDRs (the standard run's rows tiled, each tile a
minute later with fresh flownos) and an e_cdr CSV and pipe files of a tenth of them; ``vossim
analyze`` on each in a fresh interpreter: CDR/s and peak RSS. The same analysis of a tenth of the
Parquet rows shows whether memory stays flat as the CDRs grow tenfold.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STANDARD = ROOT / "scenarios" / "load" / "standard.yaml"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from results import Report, write_section  # noqa: E402  (bench/, beside this file)


def _peak_mb() -> float:
    """This process's peak RSS. ru_maxrss would do, but Linux carries it over an exec from the
    parent; VmHWM belongs to the address space, so it is the child's own."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_run(calls: int, fmt: str, out: str, db: str | None) -> dict[str, float]:
    from simulator.run._run import run_scenario
    from simulator.scenario._loader import load_scenario
    from simulator.transports._simulated import expected_arrivals

    scenario = load_scenario(STANDARD)
    scale = max(1.0, 1.05 * calls / expected_arrivals(scenario))
    began = time.perf_counter()
    result = run_scenario(scenario, out, (fmt,), calls=calls, scale=scale, db=db)
    elapsed = time.perf_counter() - began
    return {"records": result.stats.recorded, "seconds": elapsed,
            "cdr_per_s": result.stats.recorded / elapsed, "peak_rss_mb": _peak_mb()}


def measure_sink(parquet_dir: str, fmt: str, out: str, db: str | None) -> dict[str, float]:
    """Feed a run's rows (from its Parquet files) to a fresh sink; time the sink only."""
    import pyarrow.parquet as pq

    from cdr_writer import Output

    output = Output(out, (fmt,), 2, options={"db": db})
    (sink,) = output.sinks
    spent, rows = 0.0, 0
    stop_index = None
    for path in sorted(Path(parquet_dir).glob("e_cdr_*.parquet")):
        handle = pq.ParquetFile(path)
        for group in range(handle.num_row_groups):
            table = handle.read_row_group(group)
            stop_index = table.schema.names.index("stoptime")
            batch = [list(row) for row in zip(*(c.to_pylist() for c in table.columns),
                                              strict=True)]
            began = time.perf_counter()
            for row in batch:
                sink.write_row(row[stop_index], row)
            spent += time.perf_counter() - began
            rows += len(batch)
    began = time.perf_counter()
    output.commit()
    spent += time.perf_counter() - began
    return {"records": rows, "seconds": spent, "cdr_per_s": rows / spent if spent else 0.0}


def measure_analyze(paths: list[str]) -> dict[str, float]:
    from simulator.analyze import analyze

    began = time.perf_counter()
    report = analyze(paths)
    elapsed = time.perf_counter() - began
    return {"cdrs": report["calls"], "seconds": elapsed, "cdr_per_s": report["calls"] / elapsed,
            "peak_rss_mb": _peak_mb(), "asr": report["asr"]}


def make_datasets(base_dir: Path, work: Path, cdrs: int) -> dict[str, list[str]]:
    """Tile the base run's rows to ``cdrs`` rows (Parquet) and a tenth of them (CSV, pipe)."""
    import polars as pl
    import pyarrow.parquet as pq

    base = pl.read_parquet(sorted(base_dir.glob("e_cdr_*.parquet")))
    tiles = -(-cdrs // base.height)
    big = work / "big.parquet"
    small = work / "small.parquet"
    writer = pq.ParquetWriter(big, base.to_arrow().schema, compression="zstd")
    small_writer = pq.ParquetWriter(small, base.to_arrow().schema, compression="zstd")
    written = 0
    csv_path, pipe_dir = work / "e_cdr_tiled.csv", work / "cdr"
    pipe_dir.mkdir()
    for tile in range(tiles):
        take = min(base.height, cdrs - written)
        shift = tile * 60_000
        frame = base.head(take).with_columns(
            pl.col("starttime") + shift, pl.col("stoptime") + shift,
            pl.col("recordstarttime") + shift,
            (pl.col("flowno") + written).alias("flowno"), (pl.col("id") + written).alias("id"),
            (pl.col("flownofirst") + written).alias("flownofirst"))
        table = frame.to_arrow()
        writer.write_table(table, row_group_size=65_536)
        if written < cdrs // 10:
            small_writer.write_table(table, row_group_size=65_536)
            with csv_path.open("ab") as handle:
                frame.drop("additional").with_columns(additional=pl.lit(None, pl.String)) \
                    .select(base.columns).write_csv(handle, include_header=written == 0)
            pipe = frame.select(
                "callere164", "calleee164", "starttime", "stoptime", "holdtime", "endreason",
                "enddirection", "callergatewayid", "calleegatewayid", "callerip", "calleeip",
                "customeraccount", pl.lit("").alias("feeprefix"), "feetime",
                pl.col("fee").round(2), "callerpdd", "billingmode", "flowno")
            with (pipe_dir / f"{tile:06d}.txt").open("wb") as handle:
                pipe.write_csv(handle, separator="|", include_header=False)
        written += take
    writer.close()
    small_writer.close()
    return {"parquet": [str(big)], "parquet_tenth": [str(small)], "e_cdr": [str(csv_path)],
            "pipe": sorted(str(p) for p in pipe_dir.glob("*.txt"))}


def fresh_database(url: str, purpose: str) -> str:
    """``url`` with a database name of its own, so no measurement resumes another's tables."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    name = f"{parts.path.lstrip('/')}_{purpose}_{uuid.uuid4().hex[:8]}"
    return urlunsplit(parts._replace(path=f"/{name}"))


def in_child(*args: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--child", json.dumps(args)], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _child(args: list[str]) -> dict[str, float]:
    kind = args[0]
    if kind == "run":
        return measure_run(int(args[1]), args[2], args[3], args[4] or None)
    if kind == "sink":
        return measure_sink(args[1], args[2], args[3], args[4] or None)
    if kind == "datasets":
        return make_datasets(Path(args[1]), Path(args[2]), int(args[3]))  # type: ignore[return-value]
    return measure_analyze(json.loads(args[1]))


def _print_analysis(say: Callable[[str], None], label: str, result: dict[str, float]) -> None:
    say(f"  {label:<19}: {result['cdrs']:>11,} CDRs  {result['cdr_per_s']:>11,.0f} CDR/s  "
        f"{result['seconds']:6.1f} s  peak RSS {result['peak_rss_mb']:6.1f} MB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sink-calls", type=int, default=200_000)
    parser.add_argument("--analyze-cdrs", type=int, default=10_000_000)
    parser.add_argument("--db", help="a MySQL URL to use instead of a private MariaDB server")
    parser.add_argument("--results", metavar="FILE",
                        help="also write the report into FILE (make bench: docs/benchmarks.md)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return 0

    report = Report()
    say = report.say
    server = None
    db = args.db
    if db is None:
        from private_mariadb import PrivateMariaDb

        server = PrivateMariaDb().start()
    base = db if db is not None else server.url()  # type: ignore[union-attr]
    try:
        with tempfile.TemporaryDirectory(prefix="vossim-bench-pipeline-") as tmp:
            work = Path(tmp)
            say(f"sinks: standard profile, {args.sink_calls:,} call attempts, one process")
            for fmt in ("pipe", "parquet", "mariadb"):
                url = fresh_database(base, "run") if fmt == "mariadb" else ""
                run = in_child("run", str(args.sink_calls), fmt, str(work / f"run-{fmt}"), url)
                say(f"  run into {fmt:<8}: {run['records']:>9,} CDRs  {run['cdr_per_s']:>9,.0f} "
                    f"CDR/s  {run['seconds']:6.1f} s  peak RSS {run['peak_rss_mb']:6.1f} MB")
            for fmt in ("parquet", "mariadb"):
                url = fresh_database(base, "sink") if fmt == "mariadb" else ""
                sink = in_child("sink", str(work / "run-parquet"), fmt, str(work / f"sink-{fmt}"),
                                url)
                say(f"  {fmt} sink alone: {sink['records']:>9,} CDRs  "
                    f"{sink['cdr_per_s']:>9,.0f} CDR/s  {sink['seconds']:6.1f} s")

            say(f"analyze: {args.analyze_cdrs:,} CDRs (the run's rows tiled)")
            began = time.perf_counter()
            data: dict[str, list[str]] = in_child(  # type: ignore[assignment]
                "datasets", str(work / "run-parquet"), str(work), str(args.analyze_cdrs))
            say(f"  (datasets written in {time.perf_counter() - began:.0f} s)")
            for label, key in (("parquet", "parquet"), ("parquet, ~a tenth", "parquet_tenth"),
                               ("e_cdr CSV, ~a tenth", "e_cdr"), ("pipe, ~a tenth", "pipe")):
                result = in_child("analyze", json.dumps(data[key]))
                _print_analysis(say, label, result)
            mysql = fresh_database(base, "analyze")
            in_child("run", str(args.sink_calls), "mariadb", str(work / "db"), mysql)
            _print_analysis(say, "mariadb", in_child("analyze", json.dumps([mysql])))
    finally:
        if server is not None:
            server.stop()
    if args.results:
        write_section(Path(args.results), "bench/pipeline.py", report.lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
