"""The pipeline sinks: ``--format parquet`` and ``--format mariadb`` (a real, private MariaDB)."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import cdr_writer._parquet as parquet_module
from cdr_writer import E_CDR_NAMES, Output
from cdr_writer._mariadb import CdrDatabaseError, parse_url
from simulator.run._run import run_scenario
from simulator.scenario._loader import load_scenario

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "scenarios" / "demo.yaml"
STANDARD = ROOT / "scenarios" / "load" / "standard.yaml"


def _vossim(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "simulator.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=ROOT)


def _csv_rows(directory: Path) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in sorted(directory.glob("e_cdr_*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            rows.extend(csv.DictReader(handle))
    return rows


def _as_csv_text(value: object, column: str) -> str:
    if value is None:
        return ""
    if column == "fee":
        return f"{value:.2f}"
    if isinstance(value, float) and value == int(value):
        return str(int(value))
    return str(value)


def _same_as_csv(rows: list[tuple[object, ...]], csv_rows: list[dict[str, str]]) -> None:
    assert len(rows) == len(csv_rows) > 0
    for row, expected in zip(rows, csv_rows, strict=True):
        found = {c: _as_csv_text(v, c) for c, v in zip(E_CDR_NAMES, row, strict=True)}
        assert found == expected


# -- parquet ------------------------------------------------------------------------------------
def test_parquet_has_the_e_cdr_columns_typed_and_the_same_values_as_the_csv(tmp_path: Path) -> None:
    result = run_scenario(load_scenario(STANDARD), tmp_path, ("e_cdr", "parquet"), scale=0.2)
    files = sorted(tmp_path.glob("e_cdr_*.parquet"))
    assert [f.stem for f in files] == [f.stem for f in sorted(tmp_path.glob("e_cdr_*.csv"))]
    table = pq.read_table(files)
    assert table.schema.names == list(E_CDR_NAMES)
    types = dict(zip(table.schema.names, table.schema.types, strict=True))
    assert types["starttime"] == pa.int64() and types["flowno"] == pa.int64()
    assert types["holdtime"] == pa.int32() and types["enddirection"] == pa.int32()
    assert types["fee"] == pa.float64() and types["callere164"] == pa.string()
    assert table.num_rows == result.stats.recorded
    _same_as_csv([tuple(r.values()) for r in table.to_pylist()], _csv_rows(tmp_path))
    # polars reads the same files, and sums agree with the run's own money total
    frame = pl.read_parquet(files)
    assert frame.height == result.stats.recorded
    assert round(frame["fee"].sum(), 2) == float(result.stats.charged)
    # and so does DuckDB, with the same types for the columns a pipeline sums and groups
    glob = str(tmp_path / "e_cdr_*.parquet")
    ((rows, fee),) = duckdb.sql(f"SELECT count(*), round(sum(fee), 2) FROM '{glob}'").fetchall()
    assert rows == result.stats.recorded and fee == float(result.stats.charged)
    described = duckdb.sql(f"DESCRIBE SELECT holdtime, starttime, fee FROM '{glob}'").fetchall()
    kinds = {name: kind for name, kind, *_ in described}
    assert kinds == {"holdtime": "INTEGER", "starttime": "BIGINT", "fee": "DOUBLE"}


def test_parquet_is_written_in_row_groups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parquet_module, "ROW_GROUP_ROWS", 500)
    result = run_scenario(load_scenario(STANDARD), tmp_path, ("parquet",), scale=0.2)
    meta = pq.ParquetFile(next(tmp_path.glob("e_cdr_*.parquet"))).metadata
    assert meta.num_row_groups == -(-result.stats.recorded // 500)
    assert all(meta.row_group(i).num_rows <= 500 for i in range(meta.num_row_groups))


def _row(flowno: int, stoptime: int) -> list[object]:
    values: dict[str, object] = dict.fromkeys(E_CDR_NAMES, 0)
    for name, kind in parquet_module.E_CDR_COLUMNS:
        if kind.startswith("varchar") or kind == "json":
            values[name] = ""
    values.update(id=flowno, flowno=flowno, flownofirst=flowno, stoptime=stoptime,
                  starttime=stoptime, fee=0.0, additional=None, dynamicValue=None)
    return [values[name] for name in E_CDR_NAMES]


def test_parquet_day_files_are_complete_or_absent_while_written_in_place(tmp_path: Path) -> None:
    day = 86_400_000
    output = Output(tmp_path, ("parquet",), 2, direct=True)  # what --realtime uses
    (sink,) = output.sinks
    for flowno in range(1, 4):
        sink.write_row(day * 20_000 + flowno, _row(flowno, day * 20_000 + flowno))
    assert not list(tmp_path.glob("e_cdr_*.parquet"))  # the day is still open: no file yet
    sink.write_row(day * 20_001, _row(4, day * 20_001))  # next day: the first one is complete
    done = list(tmp_path.glob("e_cdr_*.parquet"))
    assert [p.name for p in done] == ["e_cdr_20241004.parquet"]
    assert pq.read_table(done[0]).column("flowno").to_pylist() == [1, 2, 3]
    output.records = 4  # as Output.write counts them (the rows went straight to the sink)
    output.abort()  # the run fails: the open day leaves nothing, the finished day stays
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e_cdr_20241004.parquet"]


def test_a_failed_batch_run_leaves_no_parquet(tmp_path: Path) -> None:
    output = Output(tmp_path, ("parquet",), 2)
    output.sinks[0].write_row(1_700_000_000_000, _row(1, 1_700_000_000_000))
    output.abort()
    assert list(tmp_path.iterdir()) == []


def test_workers_merge_parquet_shards_as_the_csv_sink_does(tmp_path: Path) -> None:
    result = run_scenario(load_scenario(STANDARD), tmp_path, ("e_cdr", "parquet"), scale=0.2,
                          workers=2)
    table = pq.read_table(sorted(tmp_path.glob("*.parquet")))
    assert table.num_rows == result.stats.recorded > 1000
    assert table.column("flowno").to_pylist() == list(range(1, table.num_rows + 1))
    _same_as_csv([tuple(r.values()) for r in table.to_pylist()], _csv_rows(tmp_path))


# -- mariadb ------------------------------------------------------------------------------------
def _db_count(mariadb, database: str) -> int:  # type: ignore[no-untyped-def]
    connection = mariadb.connect(database)
    with connection.cursor() as cursor:
        cursor.execute("SHOW TABLES LIKE 'e\\_cdr\\_%'")
        total = 0
        for (table,) in cursor.fetchall():
            cursor.execute(f"SELECT COUNT(*) FROM `{table}`")
            total += cursor.fetchone()[0]
    connection.close()
    return total


def _db_rows(mariadb, database: str) -> list[tuple[object, ...]]:  # type: ignore[no-untyped-def]
    connection = mariadb.connect(database)
    with connection.cursor() as cursor:
        cursor.execute("SHOW TABLES LIKE 'e\\_cdr\\_%'")
        tables = sorted(t for (t,) in cursor.fetchall())
        rows: list[tuple[object, ...]] = []
        for table in tables:
            cursor.execute(f"SELECT * FROM `{table}` ORDER BY flowno")
            rows.extend(cursor.fetchall())
    connection.close()
    return rows


def test_mariadb_daily_tables_hold_the_same_rows_as_the_csv(mariadb, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = mariadb.url()
    database = parse_url(url).database
    done = _vossim("run", str(STANDARD), "--scale", "0.1", "-o", str(tmp_path),
                   "--format", "e_cdr,mariadb", "--db", url)
    assert done.returncode == 0, done.stderr
    rows = _db_rows(mariadb, database)
    _same_as_csv(rows, _csv_rows(tmp_path))
    # The run says what it inserted, and where, with the password hidden.
    assert f"inserted {len(rows):,} CDRs into mysql://vossim:***@127.0.0.1:{mariadb.port}/" \
        f"{database}" in done.stdout
    assert "vossim-test" not in done.stdout + done.stderr
    connection = mariadb.connect(database)
    with connection.cursor() as cursor:
        cursor.execute("SHOW TABLES")
        (table,) = [t for (t,) in cursor.fetchall()]
        assert table == "e_cdr_20261124"
        cursor.execute(f"SHOW INDEX FROM `{table}`")
        indexes = {(row[2], row[4]) for row in cursor.fetchall()}
        cursor.execute("SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS "
                       "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
                       (database, table))
        columns = cursor.fetchall()
        cursor.execute("SELECT ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
                       (database,))
        (engine,) = cursor.fetchone()
    connection.close()
    assert ("PRIMARY", "flowno") in indexes
    assert {c for i, c in indexes if i != "PRIMARY"} == {
        "callere164", "callergatewayid", "starttime", "stoptime", "customeraccount"}
    assert [name for name, _ in columns] == list(E_CDR_NAMES)
    kinds = dict(columns)
    assert kinds["starttime"].startswith("bigint") and kinds["fee"] == "double"
    assert kinds["callergatewayid"] == "varchar(255)" and kinds["holdtime"].startswith("int")
    assert engine == "InnoDB"


def test_mariadb_rerun_resumes_a_killed_run_without_duplicates(mariadb, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    batch = 200
    url = mariadb.url() + f"?batch={batch}"
    database = parse_url(url).database
    args = [sys.executable, "-m", "simulator.cli", "run", str(STANDARD), "--scale", "1",
            "-o", str(tmp_path / "killed"), "--format", "mariadb", "--db", url]
    process = subprocess.Popen(args, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        committed = 0
        while time.monotonic() < deadline and committed < 3 * batch:
            time.sleep(0.05)
            try:
                committed = _db_count(mariadb, database)
            except Exception:  # the database or table does not exist yet
                committed = 0
        assert process.poll() is None, "the run ended before it could be killed"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    left = len(_db_rows(mariadb, database))
    assert left > 0 and left % batch == 0  # whole batches only

    done = _vossim("run", str(STANDARD), "--scale", "1", "-o", str(tmp_path / "rerun"),
                   "--format", "mariadb", "--db", url)
    assert done.returncode == 0, done.stderr
    assert f"{left:,} CDRs were already in" in done.stdout
    rows = _db_rows(mariadb, database)
    flownos = [row[E_CDR_NAMES.index("flowno")] for row in rows]
    assert flownos == list(range(1, len(rows) + 1))  # complete, nothing twice

    clean = mariadb.url()
    assert _vossim("run", str(STANDARD), "--scale", "1", "-o", str(tmp_path / "clean"),
                   "--format", "mariadb", "--db", clean).returncode == 0
    assert rows == _db_rows(mariadb, parse_url(clean).database)
    again = _vossim("run", str(STANDARD), "--scale", "1", "-o", str(tmp_path / "again"),
                    "--format", "mariadb", "--db", url)
    assert again.returncode == 0 and "inserted 0 CDRs into" in again.stdout
    assert len(_db_rows(mariadb, database)) == len(rows)


def test_mariadb_refuses_a_table_holding_another_runs_cdrs(mariadb, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = mariadb.url()
    database = parse_url(url).database
    assert _vossim("run", str(STANDARD), "--scale", "0.05", "-o", str(tmp_path / "a"),
                   "--format", "mariadb", "--db", url).returncode == 0
    before = _db_rows(mariadb, database)
    reseeded = tmp_path / "reseeded.yaml"
    reseeded.write_text(STANDARD.read_text().replace("seed: 20261124", "seed: 7"))
    other = _vossim("run", str(reseeded), "--scale", "0.05", "-o", str(tmp_path / "b"),
                    "--format", "mariadb", "--db", url)
    assert other.returncode == 2
    assert "e_cdr_20261124 already holds CDRs" in other.stderr
    assert "Traceback" not in other.stderr
    assert _db_rows(mariadb, database) == before


def test_mariadb_resumes_a_vos3000_run_by_its_write_order(mariadb, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Under vos3000 flowno is the INVITE's number: the long call (flowno 1) is written last.
    A rerun after a partial write resumes by ``id`` and brings back every row."""
    url = mariadb.url()
    database = parse_url(url).database
    real = ROOT / "scenarios" / "real" / "caller-bye-85s.yaml"
    assert _vossim("run", str(real), "-o", str(tmp_path / "a"), "--format", "mariadb",
                   "--db", url).returncode == 0
    whole = _db_rows(mariadb, database)
    assert len(whole) == 3
    connection = mariadb.connect(database)
    with connection.cursor() as cursor:
        cursor.execute("SHOW TABLES LIKE 'e\\_cdr\\_%'")
        (table,) = cursor.fetchone()
        cursor.execute(f"DELETE FROM `{table}` WHERE `id` >= 2")  # as a killed run leaves it
    connection.commit()
    connection.close()
    done = _vossim("run", str(real), "-o", str(tmp_path / "b"), "--format", "mariadb",
                   "--db", url)
    assert done.returncode == 0, done.stderr
    assert _db_rows(mariadb, database) == whole


def test_mariadb_with_workers_holds_what_the_csv_sink_wrote(mariadb, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = mariadb.url()
    result = run_scenario(load_scenario(STANDARD), tmp_path, ("e_cdr", "mariadb"), scale=0.1,
                          db=url, workers=2)
    rows = _db_rows(mariadb, parse_url(url).database)
    assert len(rows) == result.stats.recorded > 500
    _same_as_csv(rows, _csv_rows(tmp_path))


def test_mariadb_in_realtime_rows_appear_as_calls_end(mariadb, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = mariadb.url()
    database = parse_url(url).database
    args = [sys.executable, "-m", "simulator.cli", "run", str(DEMO), "--realtime", "--speed",
            "400", "-o", str(tmp_path / "rt"), "--format", "mariadb,pipe", "--db", url]
    process = subprocess.Popen(args, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen_while_running: set[int] = set()
    try:
        while process.poll() is None:
            time.sleep(0.05)
            try:
                rows = _db_count(mariadb, database)
            except Exception:
                continue
            if process.poll() is None:
                seen_while_running.add(rows)
    finally:
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    final = _db_rows(mariadb, database)
    pipe_lines = sum(len(p.read_text().splitlines()) for p in (tmp_path / "rt").glob("cdr/*.txt"))
    assert len(final) == pipe_lines > 0
    assert any(0 < seen < len(final) for seen in seen_while_running), seen_while_running


def test_mariadb_bad_urls_and_options_are_clear_errors(mariadb, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for url, message in (("postgres://u:p@127.0.0.1:1/x", "scheme 'postgres'"),
                         ("mysql://u:p@127.0.0.1:1/", "no database name"),
                         ("mysql://u:p@127.0.0.1:99999/x", "bad database URL"),
                         (mariadb.url() + "?batch=0", "batch='0'")):
        with pytest.raises(CdrDatabaseError, match=message):
            parse_url(url)
        done = _vossim("run", str(DEMO), "-o", str(tmp_path / "x"), "--format", "mariadb",
                       "--db", url)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    wrong = mariadb.url().replace("vossim-test", "wrong-password")
    done = _vossim("run", str(DEMO), "-o", str(tmp_path / "y"), "--format", "mariadb", "--db",
                   wrong)
    assert done.returncode == 2 and "cannot use the CDR database" in done.stderr
    assert "wrong-password" not in done.stderr
    assert "needs --db" in _vossim("run", str(DEMO), "--format", "mariadb").stderr
    assert "--db goes with" in _vossim("run", str(DEMO), "--db", mariadb.url()).stderr
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())


def test_live_mode_refuses_the_mariadb_format_clearly(tmp_path: Path) -> None:
    done = _vossim("live", str(DEMO), "--port", "0", "-o", str(tmp_path), "--format", "mariadb")
    assert done.returncode == 2 and "vossim live cannot write format 'mariadb'" in done.stderr
    assert not any(tmp_path.iterdir())
