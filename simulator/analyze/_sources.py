"""Where VOS3000 CDRs come from, read as a stream of Arrow batches with one set of column names.

Every reader yields ``polars.DataFrame`` batches (at most ``BATCH_ROWS`` rows) holding the
columns the report needs, named as the e_cdr table names them, with the times in ms since 1970
UTC. No reader loops over rows in Python except the database drivers themselves (PyMySQL and
sqlite3 hand rows over one by one; they are turned into columns by polars).

Formats: pipe text files (``cdr/YYYYMMDDHH.txt``, 18 fields), e_cdr CSV (with a header naming
the columns, or without one in the 63-column layout or the older 46-column feed), SQLite
(``e_cdr`` and ``e_cdr_YYYYMMDD`` tables), MySQL/MariaDB (``mysql://``, the same tables), JSON
lines (vossim's ``cdr.jsonl``: with ``recorded`` and ``endReasonName``) and Parquet.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from cdr_writer import E_CDR_NAMES, JSONL_NAME, PIPE_FIELDS, SQLITE_NAME

BATCH_ROWS = 100_000
_BLOCK_BYTES = 8 << 20  # CSV/JSON read block: about 25,000-60,000 CDRs

# The 46 fields of the older real-time feed (the reference's real row, in its column order).
OLDER_FEED_NAMES: tuple[str, ...] = (
    "callere164", "calleraccesse164", "calleee164", "calleeaccesse164", "callerip",
    "callergatewayid", "callerproductid", "callertogatewaye164", "callertype", "calleeip",
    "calleegatewayid", "calleeproductid", "calleetogatewaye164", "calleetype", "billingmode",
    "calllevel", "agentfeetime", "starttime", "stoptime", "callerpdd", "calleepdd", "holdtime",
    "callerareacode", "feetime", "fee", "suitefee", "suitefeetime", "incomefee",
    "customeraccount", "customername", "calleeareacode", "agentfee", "agentsuitefee",
    "agentsuitefeetime", "agentaccount", "agentname", "flowno", "softswitchname",
    "softswitchcallid", "callercallid", "calleecallid", "enddirection", "endreason",
    "calleebilling", "cdrlevel", "agentcdr_id",
)
PIPE_NAMES: tuple[str, ...] = tuple(column for _, column in PIPE_FIELDS)

# What the report reads; the rest of a CDR's columns are never loaded.
WANTED: dict[str, pl.DataType] = {
    "callere164": pl.String(), "calleee164": pl.String(), "starttime": pl.Int64(),
    "stoptime": pl.Int64(), "holdtime": pl.Int64(), "endreason": pl.Int64(),
    "enddirection": pl.Int64(), "callergatewayid": pl.String(), "calleegatewayid": pl.String(),
    "customeraccount": pl.String(), "feeprefix": pl.String(), "fee": pl.Float64(),
    "feetime": pl.Int64(), "callerpdd": pl.Int64(), "recorded": pl.Boolean(),
    "endreasonname": pl.String(),
}
REQUIRED = ("stoptime", "holdtime", "enddirection", "endreason")
_TIMES = ("starttime", "stoptime")
# Times below this are seconds since 1970 (1e11 ms is March 1973); above it, milliseconds.
_SECONDS_BELOW = 100_000_000_000


class SourceError(Exception):
    """A CDR source that cannot be read: says which file (line) and what was expected."""


@dataclass
class Source:
    """One readable set of CDRs: a file, a database, or the tables of a database."""

    label: str
    kind: str  # pipe, e_cdr, sqlite, mariadb, jsonl, parquet
    path: str
    options: dict[str, object] = field(default_factory=dict)
    rows: int = 0

    def batches(self) -> Iterator[pl.DataFrame]:
        reader = {"pipe": _pipe, "e_cdr": _e_cdr_csv, "sqlite": _sqlite, "mariadb": _mariadb,
                  "jsonl": _jsonl, "parquet": _parquet}[self.kind]
        for batch in reader(self):
            line = self.rows + 1 + int(self.options.get("header_lines", 0))  # type: ignore[arg-type]
            frame = normalise(batch, self.label, line if self.kind in ("pipe", "e_cdr", "jsonl")
                              else None, self.rows)
            self.rows += frame.height
            if frame.height:
                yield frame


# -- finding sources ----------------------------------------------------------------------------
def find_sources(paths: list[str]) -> list[Source]:
    """The sources behind command-line paths: files, vossim output directories, mysql:// URLs."""
    sources: list[Source] = []
    for text in paths:
        if text.startswith(("mysql://", "mariadb://", "mysql+pymysql://")):
            sources.append(Source(_hide_password(text), "mariadb", text))
            continue
        path = Path(text)
        if path.is_dir():
            sources.extend(_directory(path))
        elif path.is_file():
            sources.append(_file(path))
        else:
            raise SourceError(f"{text}: no such file or directory")
    return sources


def _hide_password(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def _directory(path: Path) -> list[Source]:
    """A vossim output directory holds the same CDRs in several formats: read the fullest one."""
    candidates: list[tuple[str, list[Path]]] = [
        ("jsonl", [path / JSONL_NAME] if (path / JSONL_NAME).is_file() else []),
        ("parquet", sorted(path.glob("e_cdr_*.parquet"))),
        ("sqlite", [path / SQLITE_NAME] if (path / SQLITE_NAME).is_file() else []),
        ("e_cdr", sorted(path.glob("e_cdr_*.csv"))),
        ("pipe", sorted(path.glob("cdr/*.txt")) or sorted(path.glob("*.txt"))),
        ("parquet", sorted(path.glob("*.parquet"))),  # an export named otherwise
        ("e_cdr", sorted(path.glob("*.csv"))),
    ]
    for kind, files in candidates:
        if files:
            return [Source(str(f), kind, str(f)) for f in files]
    raise SourceError(f"{path}: no CDR files found (expected cdr.jsonl, e_cdr_*.parquet, "
                      f"vos3000.db, e_cdr_*.csv, cdr/*.txt, *.parquet or *.csv)")


def _file(path: Path) -> Source:
    name = path.name.lower()
    with path.open("rb") as handle:
        head = handle.read(16)
    if head.startswith(b"PAR1"):
        return Source(str(path), "parquet", str(path))
    if head.startswith(b"SQLite format 3"):
        return Source(str(path), "sqlite", str(path))
    if name.endswith((".jsonl", ".ndjson", ".json")) or head.lstrip().startswith(b"{"):
        return Source(str(path), "jsonl", str(path))
    first = _first_line(path)
    if first.count("|") >= 17 and first.count(",") < first.count("|"):
        return Source(str(path), "pipe", str(path))
    return Source(str(path), "e_cdr", str(path))


def _first_line(path: Path) -> str:
    with path.open("r", encoding="utf-8", errors="replace", newline="") as handle:
        return handle.readline().rstrip("\r\n")


# -- readers ------------------------------------------------------------------------------------
def _csv_batches(source: Source, names: list[str], delimiter: str,
                 skip_header: bool) -> Iterator[pa.RecordBatch]:
    wanted = [n for n in dict.fromkeys(names) if n in WANTED]
    if len(set(names)) != len(names):  # duplicated header names: keep the first of each
        names = [n if n not in names[:i] else f"{n}__{i}" for i, n in enumerate(names)]
    read = pacsv.ReadOptions(column_names=names, skip_rows=1 if skip_header else 0,
                             block_size=_BLOCK_BYTES)
    parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=False,
                               invalid_row_handler=None)
    convert = pacsv.ConvertOptions(include_columns=wanted,
                                   column_types=dict.fromkeys(wanted, pa.string()),
                                   strings_can_be_null=False, quoted_strings_can_be_null=False)
    try:
        reader = pacsv.open_csv(source.path, read_options=read, parse_options=parse,
                                convert_options=convert)
        yield from reader
    except pa.ArrowInvalid as exc:
        raise SourceError(f"{source.path}: {_arrow_message(exc, len(names), delimiter)}") from None


def _arrow_message(exc: Exception, expected: int, delimiter: str) -> str:
    text = str(exc).split("\n")[0]
    if "Expected" in text and "columns" in text:
        return (f"{text} (expected {expected} fields separated by {delimiter!r} on every "
                "line)")
    return text


def _pipe(source: Source) -> Iterator[pa.RecordBatch]:
    first = _first_line(Path(source.path))
    count = first.count("|") + 1
    if count != len(PIPE_NAMES):
        raise SourceError(f"{source.path}:1: expected the {len(PIPE_NAMES)} '|'-separated fields "
                          f"of a VOS3000 CDR text file, found {count}")
    yield from _csv_batches(source, list(PIPE_NAMES), "|", skip_header=False)


def _e_cdr_csv(source: Source) -> Iterator[pa.RecordBatch]:
    first = _first_line(Path(source.path))
    if not first:
        return
    fields = [f.strip().strip('"').lower() for f in first.split(",")]
    known = {n.lower() for n in (*E_CDR_NAMES, *OLDER_FEED_NAMES, *PIPE_NAMES)}
    if sum(f in known for f in fields) >= 3:
        names = ["billingtype" if f == "calleebilling" else f for f in fields]
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise SourceError(f"{source.path}:1: the header names no {', '.join(missing)} "
                              f"column (found: {', '.join(fields[:8])}…)")
        source.options["header_lines"] = 1
        yield from _csv_batches(source, names, ",", skip_header=True)
        return
    layouts = {len(E_CDR_NAMES): E_CDR_NAMES, len(OLDER_FEED_NAMES): OLDER_FEED_NAMES}
    # the field count of a header-less line, counted by the CSV parser (quoted commas)
    import csv

    count = len(next(csv.reader([first])))
    layout = layouts.get(count)
    if layout is None:
        raise SourceError(f"{source.path}:1: expected a header row naming the e_cdr columns, or "
                          f"a row of {len(E_CDR_NAMES)} (e_cdr) or {len(OLDER_FEED_NAMES)} "
                          f"(older feed) fields; found {count} fields")
    yield from _csv_batches(source, list(layout), ",", skip_header=False)


def _jsonl(source: Source) -> Iterator[pa.RecordBatch]:
    try:
        reader = pajson.open_json(source.path, read_options=pajson.ReadOptions(
            block_size=_BLOCK_BYTES))
        for batch in reader:
            yield batch.select([n for n in batch.schema.names if n.lower() in WANTED])
    except pa.ArrowInvalid as exc:
        raise SourceError(f"{source.path}: not JSON lines: {str(exc).splitlines()[0]}") from None


def _parquet(source: Source) -> Iterator[pa.RecordBatch]:
    try:
        # pre_buffer would cache every column chunk read so far: memory grows with the file
        handle = pq.ParquetFile(source.path, pre_buffer=False, buffer_size=1 << 20)
    except pa.ArrowInvalid as exc:
        raise SourceError(f"{source.path}: not a Parquet file: {exc}") from None
    columns = [n for n in handle.schema_arrow.names if n.lower() in WANTED]
    yield from handle.iter_batches(batch_size=BATCH_ROWS, columns=columns)


def _rows_to_frame(names: list[str], rows: list[tuple[object, ...]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)


def _sqlite(source: Source) -> Iterator[pl.DataFrame]:
    try:
        db = sqlite3.connect(f"file:{source.path}?mode=ro", uri=True)
        tables = [t for (t,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND (name = 'e_cdr' OR name "
            "GLOB 'e_cdr_[0-9]*') ORDER BY name")]
    except sqlite3.DatabaseError as exc:
        raise SourceError(f"{source.path}: not a readable SQLite database: {exc}") from None
    if not tables:
        raise SourceError(f"{source.path}: no e_cdr or e_cdr_YYYYMMDD table")
    try:
        for table in tables:
            present = [row[1] for row in db.execute(f'PRAGMA table_info("{table}")')]
            names = [c for c in present if c.lower() in WANTED]
            cursor = db.execute(f'SELECT {", ".join(f"[{n}]" for n in names)} FROM "{table}"')
            while rows := cursor.fetchmany(100_000):
                yield _rows_to_frame(names, rows)
    finally:
        db.close()


def _mariadb(source: Source) -> Iterator[pl.DataFrame]:
    import pymysql
    import pymysql.cursors

    from cdr_writer._mariadb import CdrDatabaseError, parse_url

    try:
        url = parse_url(source.path)
        db = pymysql.connect(host=url.host, port=url.port, user=url.user, password=url.password,
                             database=url.database, unix_socket=url.unix_socket,
                             charset="utf8mb4", connect_timeout=10,
                             cursorclass=pymysql.cursors.SSCursor)
    except (CdrDatabaseError, pymysql.err.MySQLError) as exc:
        raise SourceError(f"{source.label}: cannot read the database: "
                          f"{exc.args[-1] if exc.args else exc}") from None
    try:
        with db.cursor() as cursor:
            cursor.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA "
                           "= DATABASE() AND (TABLE_NAME = 'e_cdr' OR TABLE_NAME REGEXP "
                           "'^e_cdr_[0-9]{8}$') ORDER BY TABLE_NAME")
            tables = [t for (t,) in cursor.fetchall()]
        if not tables:
            raise SourceError(f"{source.label}: no e_cdr or e_cdr_YYYYMMDD table")
        for table in tables:
            with db.cursor() as cursor:
                cursor.execute("SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE "
                               "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY "
                               "ORDINAL_POSITION", (table,))
                names = [c for (c,) in cursor.fetchall() if c.lower() in WANTED]
            with db.cursor() as cursor:
                cursor.execute(f"SELECT {', '.join(f'`{n}`' for n in names)} FROM `{table}`")
                while rows := cursor.fetchmany(50_000):
                    yield _rows_to_frame(names, list(rows))
    except pymysql.err.MySQLError as exc:
        raise SourceError(f"{source.label}: {exc.args[-1] if exc.args else exc}") from None
    finally:
        db.close()


# -- one schema ---------------------------------------------------------------------------------
def normalise(batch: pa.RecordBatch | pl.DataFrame, label: str, first_line: int | None = None,
              offset: int = 0) -> pl.DataFrame:
    """The WANTED columns, typed, with times in ms; absent optional columns as nulls."""
    frame = batch if isinstance(batch, pl.DataFrame) else pl.from_arrow(batch)
    assert isinstance(frame, pl.DataFrame)
    frame = frame.rename({c: c.lower() for c in frame.columns if c != c.lower()})
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise SourceError(f"{label}: no {', '.join(missing)} column; a VOS3000 CDR needs "
                          f"{', '.join(REQUIRED)}")
    columns = []
    for name, dtype in WANTED.items():
        if name not in frame.columns:
            columns.append(pl.lit(None, dtype=dtype).alias(name))
        elif name in _TIMES:
            columns.append(_milliseconds(frame, name))
        else:
            columns.append(_typed(frame, name, dtype))
    out = frame.select(columns)
    if "starttime" not in frame.columns:  # no start time: an answered call began holdtime ago
        out = out.with_columns(starttime=pl.col("stoptime") - pl.col("holdtime") * 1000)
    _check_numbers(frame, out, label, first_line, offset)
    return out


def _typed(frame: pl.DataFrame, name: str, dtype: pl.DataType) -> pl.Expr:
    column = pl.col(name)
    source = frame.schema[name]
    if dtype == pl.Boolean() and source == pl.String():
        return column.str.to_lowercase().is_in(["true", "1", "yes"]).alias(name)
    if dtype == pl.String():
        return column.cast(pl.String).fill_null("").alias(name)
    if source == pl.String():
        column = column.str.strip_chars()
        if dtype == pl.Int64():
            column = column.cast(pl.Float64, strict=False).round(0)
    return column.cast(dtype, strict=False).alias(name)


def _milliseconds(frame: pl.DataFrame, name: str) -> pl.Expr:
    """Seconds, milliseconds or a date-time text, as ms since 1970 UTC."""
    column = pl.col(name)
    source = frame.schema[name]
    if isinstance(source, pl.Datetime):
        return column.dt.epoch("ms").alias(name)
    if source == pl.String():
        text = column.str.strip_chars()
        number = text.cast(pl.Float64, strict=False)
        stamp = text.str.to_datetime(strict=False, time_zone="UTC").dt.epoch("ms")
        value = pl.when(number.is_not_null()).then(number).otherwise(stamp.cast(pl.Float64))
    else:
        value = column.cast(pl.Float64)
    scaled = pl.when((value.abs() < _SECONDS_BELOW) & (value != 0)).then(value * 1000) \
        .otherwise(value)
    return scaled.round(0).cast(pl.Int64).alias(name)


def _check_numbers(raw: pl.DataFrame, out: pl.DataFrame, label: str, first_line: int | None,
                   offset: int) -> None:
    """A value that did not parse is a bad CDR, not a zero: say where."""
    for name in REQUIRED:
        bad = out[name].is_null() & (raw[name].is_not_null() if name in raw.columns else True)
        if bad.any():
            row = int(bad.arg_max())  # type: ignore[arg-type]
            where = f"line {first_line + row}" if first_line is not None else \
                f"CDR {offset + row + 1}"
            raise SourceError(f"{label}:{where.split()[-1]}: {name} = {raw[name][row]!r} is not "
                              f"a number or a date-time ({where})")
