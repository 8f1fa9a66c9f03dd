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

import contextlib
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from cdr_writer import FORMATS
from simulator._files import special_kind
from simulator.analyze._database import cdr_database
from simulator.analyze._layouts import (
    PIPE_NAMES,
    SourceError,
    canonical,
    is_comment,
    json_file_objects,
    layout_for,
    looks_like_header,
    separator_of,
    whole_json_object,
)

BATCH_ROWS = 100_000
_BLOCK_BYTES = 8 << 20  # CSV/JSON read block: about 25,000-60,000 CDRs


# What the report reads; the rest of a CDR's columns are never loaded.
WANTED: dict[str, pl.DataType] = {
    "callere164": pl.String(), "calleee164": pl.String(), "starttime": pl.Int64(),
    "stoptime": pl.Int64(), "holdtime": pl.Int64(), "endreason": pl.Int64(),
    "enddirection": pl.Int64(), "callergatewayid": pl.String(), "calleegatewayid": pl.String(),
    "customeraccount": pl.String(), "feeprefix": pl.String(), "fee": pl.Float64(),
    "feetime": pl.Int64(), "callerpdd": pl.Int64(), "recorded": pl.Boolean(),
    "endreasonname": pl.String(), "agentaccount": pl.String(), "agentfee": pl.Float64(),
}
# Columns grouped by (the callee number gives the prefix) or shown: a spreadsheet's rewriting
# of their digits (1.00206285364032E+017) is counted, warned about and never grouped by.
NUMBER_TEXTS = ("calleee164", "callere164")
_MANGLED_PATTERN = r"^\s*[+-]?\d(\.\d+)?[eE]\+?\d+\s*$"
REQUIRED = ("stoptime", "holdtime", "enddirection", "endreason")
_TIMES = ("starttime", "stoptime")
# Times below this are seconds since 1970 (1e11 ms is March 1973); above it, milliseconds.
_SECONDS_BELOW = 100_000_000_000
_LATEST_MS = 253_402_300_799_999  # 9999-12-31 23:59:59.999 UTC: the last time a date can show
# What a file can hold that is not a CDR file: a reader's error that escaped it is said this way
_READ_ERRORS = (pa.ArrowException, pl.exceptions.PolarsError, sqlite3.Error, OSError,
                UnicodeError, ValueError, OverflowError)


@dataclass
class Source:
    """One readable set of CDRs: a file, a database, or the tables of a database."""

    label: str
    kind: str  # pipe, e_cdr (comma or tab), sqlite, mariadb, jsonl, json, parquet
    path: str
    options: dict[str, object] = field(default_factory=dict)
    rows: int = 0
    mangled: dict[str, list[object]] = field(default_factory=dict)  # column: [count, example]
    skipped: int = 0  # rows without the columns a CDR needs (``{}`` in JSON lines)
    read: int = 0  # rows read, skipped ones included: where the next batch starts

    def batches(self) -> Iterator[pl.DataFrame]:
        reader = {"pipe": _pipe, "e_cdr": _e_cdr_csv, "sqlite": _sqlite, "mariadb": _mariadb,
                  "jsonl": _jsonl, "json": _json, "parquet": _parquet}[self.kind]
        try:
            for batch in reader(self):
                line = self.read + 1 + int(self.options.get("header_lines", 0))  # type: ignore[arg-type]
                whole = normalise(batch, self.label, line if self.kind in ("pipe", "e_cdr",
                                                                           "jsonl")
                                  else None, self.read, self.mangled)
                self.read += whole.height
                frame = whole.drop_nulls(list(REQUIRED))
                self.skipped += whole.height - frame.height
                self.rows += frame.height
                if frame.height:
                    yield frame
        except SourceError:
            raise
        except _READ_ERRORS as exc:
            raise SourceError(f"{self.label}: cannot read it as {self.kind} CDRs: "
                              f"{_first_line_of(exc)}") from None


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
        elif (kind := special_kind(path)) is not None:  # opening a FIFO would block for ever
            raise SourceError(f"{text}: expected a CDR file or a directory of them, found "
                              f"{kind}")
        else:
            raise SourceError(f"{text}: no such file or directory")
    return sources


def _hide_password(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


# A vossim output directory holds the same CDRs in several formats: the fullest first (every
# record and its end-reason name, then typed columns, then text). Each format's files are the
# ones the registry says it writes; the reader of each is the one of its kind.
_FULLEST_FIRST = (("jsonl", "jsonl"), ("parquet", "parquet"), ("sqlite", "sqlite"),
                  ("e_cdr", "e_cdr"), ("vos-csv", "e_cdr"), ("pipe", "pipe"))
# Files named otherwise, an export from elsewhere: by their extension.
_BY_EXTENSION = (("*.txt", "pipe"), ("*.parquet", "parquet"), ("*.csv", "e_cdr"))


def _directory(path: Path) -> list[Source]:
    """The sources of a directory: one format of a vossim output, or exports by extension."""
    tried: list[str] = []
    candidates: list[tuple[str, list[Path]]] = []
    for name, kind in _FULLEST_FIRST:
        patterns = FORMATS[name].files
        tried.extend(patterns)
        candidates.append((kind, sorted(f for p in patterns for f in path.glob(p)
                                        if f.is_file())))
    for pattern, kind in _BY_EXTENSION:
        tried.append(pattern)
        candidates.append((kind, sorted(f for f in path.glob(pattern) if f.is_file())))
    for kind, files in candidates:
        if files:
            return [Source(str(f), kind, str(f)) for f in files]
    for pattern in tried:  # named as CDRs but not files: said, not skipped
        for found in sorted(path.glob(pattern)):
            if (special := special_kind(found)) is not None and special != "a directory":
                raise SourceError(f"{found}: expected a CDR file, found {special}")
    raise SourceError(f"{path}: no CDR files found (expected {', '.join(tried[:-1])} or "
                      f"{tried[-1]})")


def _file(path: Path) -> Source:
    name = path.name.lower()
    with path.open("rb") as handle:
        head = handle.read(16)
    if head.startswith(b"PAR1"):
        return Source(str(path), "parquet", str(path))
    if head.startswith(b"SQLite format 3"):
        return Source(str(path), "sqlite", str(path))
    _, first = _first_line(path)
    if name.endswith((".jsonl", ".ndjson", ".json")) or first.lstrip().startswith(("{", "[")):
        return Source(str(path), "jsonl" if whole_json_object(first) else "json", str(path))
    if separator_of(first) == "|":
        return Source(str(path), "pipe", str(path))
    return Source(str(path), "e_cdr", str(path))


def _first_line(path: Path) -> tuple[int, str]:
    """(lines before it, the first line that is neither blank nor a ``#`` comment)."""
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as handle:
        for skipped, line in enumerate(handle):
            if line.strip() and not is_comment(line):
                return skipped, line.rstrip("\r\n")
    return 0, ""


# -- readers ------------------------------------------------------------------------------------
def _csv_batches(source: Source, names: list[str], delimiter: str,
                 skip_rows: int) -> Iterator[pa.RecordBatch]:
    """The WANTED columns of a delimited file; ``#`` comment lines are dropped wherever they are."""
    if len(set(names)) != len(names):  # duplicated header names: keep the first of each
        names = [n if n not in names[:i] else f"{n}__{i}" for i, n in enumerate(names)]
    wanted = [n for n in names if n in WANTED]
    marker = "__first_field"  # the first field, read to find comment lines of the right width
    names = [marker, *names[1:]] if names[0] not in WANTED else names
    first = names[0]
    read = pacsv.ReadOptions(column_names=names, skip_rows=skip_rows, block_size=_BLOCK_BYTES)

    def comment_or_error(row: pacsv.InvalidRow) -> str:
        try:
            text = row.text or ""
        except UnicodeDecodeError:  # not UTF-8: not a comment; the error names the line
            return "error"
        return "skip" if is_comment(text) else "error"

    parse = pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=False,
                               invalid_row_handler=comment_or_error)
    columns = list(dict.fromkeys([first, *wanted]))
    convert = pacsv.ConvertOptions(include_columns=columns,
                                   column_types=dict.fromkeys(columns, pa.string()),
                                   strings_can_be_null=False, quoted_strings_can_be_null=False)
    try:
        with _quiet_undecodable_rows():
            reader = pacsv.open_csv(source.path, read_options=read, parse_options=parse,
                                    convert_options=convert)
        while True:
            with _quiet_undecodable_rows():
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
            starts = pc.starts_with(pc.utf8_ltrim_whitespace(
                batch.column(first)), "#")
            if pc.any(starts).as_py():
                batch = batch.filter(pc.invert(starts))
            yield batch.select(wanted) if first not in wanted else batch
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(f"{source.path}: {_arrow_message(exc, len(names), delimiter)}") from None


@contextlib.contextmanager
def _quiet_undecodable_rows() -> Iterator[None]:
    """Arrow cannot hand a row that is not UTF-8 to the invalid-row handler: it prints the
    UnicodeDecodeError as "Exception ignored" and treats the row as an error, which the reader
    then reports with the file and line. Only that print is kept off the terminal."""
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if not issubclass(unraisable.exc_type, UnicodeDecodeError):
            previous(unraisable)
    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


def _first_line_of(exc: BaseException) -> str:
    """An error's message on one line (Arrow's go on over several)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _arrow_message(exc: Exception, expected: int, delimiter: str) -> str:
    text = _first_line_of(exc)
    if "Expected" in text and "columns" in text:
        return (f"{text} (expected {expected} fields separated by {delimiter!r} on every "
                "line)")
    return text


def _pipe(source: Source) -> Iterator[pa.RecordBatch]:
    skipped, first = _first_line(Path(source.path))
    count = first.count("|") + 1
    if count != len(PIPE_NAMES):
        raise SourceError(f"{source.path}:{skipped + 1}: expected the {len(PIPE_NAMES)} "
                          f"'|'-separated fields of a VOS3000 CDR text file, found {count}")
    source.options["header_lines"] = skipped
    yield from _csv_batches(source, list(PIPE_NAMES), "|", skip_rows=skipped)


def _e_cdr_csv(source: Source) -> Iterator[pa.RecordBatch]:
    """e_cdr rows, comma- or tab-separated, with a header or in a layout known by its width."""
    import csv

    skipped, first = _first_line(Path(source.path))
    if not first:
        return
    delimiter = separator_of(first)
    fields = next(csv.reader([first], delimiter=delimiter))
    where = f"{source.path}:{skipped + 1}"
    if delimiter == "\t":
        source.kind = "e_cdr"
        source.options["separator"] = "tab"
    if looks_like_header(fields):
        names = [canonical(f) for f in fields]
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            raise SourceError(f"{where}: the header names no {', '.join(missing)} column "
                              f"(found: {', '.join(fields[:8])}…)")
        source.options["header_lines"] = skipped + 1
        source.options["layout"] = "header"
        yield from _csv_batches(source, names, delimiter, skip_rows=skipped + 1)
        return
    label, layout = layout_for(len(fields), where)
    if label == "pipe":  # 18 comma-separated fields are no e_cdr layout
        layout_for(-1, f"{where} ({len(fields)} fields)")
    source.options["header_lines"] = skipped
    source.options["layout"] = label
    yield from _csv_batches(source, [canonical(n) for n in layout], delimiter, skip_rows=skipped)


def _jsonl(source: Source) -> Iterator[pa.RecordBatch]:
    try:
        reader = pajson.open_json(source.path, read_options=pajson.ReadOptions(
            block_size=_BLOCK_BYTES))
        for batch in reader:
            yield batch.select([n for n in batch.schema.names if canonical(n) in WANTED])
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(f"{source.path}: not JSON lines: {_first_line_of(exc)}") from None


def _json(source: Source) -> Iterator[pl.DataFrame]:
    """A JSON document: an array of CDR objects (GetCdr's), or the reply object holding one."""
    rows: list[dict[str, object]] = []
    for item in json_file_objects(Path(source.path)):
        rows.append({canonical(k): v for k, v in item.items() if canonical(k) in WANTED})
        if len(rows) == BATCH_ROWS:
            yield pl.DataFrame(rows, infer_schema_length=None)
            rows = []
    if rows:
        yield pl.DataFrame(rows, infer_schema_length=None)


def _parquet(source: Source) -> Iterator[pa.RecordBatch]:
    try:
        # pre_buffer would cache every column chunk read so far: memory grows with the file
        handle = pq.ParquetFile(source.path, pre_buffer=False, buffer_size=1 << 20)
    except (pa.ArrowException, OSError) as exc:
        raise SourceError(f"{source.path}: not a Parquet file: {_first_line_of(exc)}") from None
    columns = [n for n in handle.schema_arrow.names if n.lower() in WANTED]
    try:
        yield from handle.iter_batches(batch_size=BATCH_ROWS, columns=columns)
    except (pa.ArrowException, OSError) as exc:  # a damaged page past a good footer
        raise SourceError(f"{source.path}: not a readable Parquet file: "
                          f"{_first_line_of(exc)}") from None


def _rows_to_frame(names: list[str], rows: list[tuple[object, ...]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=names, orient="row", infer_schema_length=None)


def _sqlite(source: Source) -> Iterator[pl.DataFrame]:
    try:
        db = sqlite3.connect(f"file:{source.path}?mode=ro", uri=True)
        # text that is not UTF-8 is shown with replacement characters, as a text file is
        db.text_factory = lambda data: data.decode("utf-8", "replace")
        tables = [t for (t,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND (name = 'e_cdr' OR name "
            "GLOB 'e_cdr_[0-9]*') ORDER BY name")]
    except sqlite3.DatabaseError as exc:
        raise SourceError(f"{source.path}: not a readable SQLite database: "
                          f"{_first_line_of(exc)}") from None
    if not tables:
        raise SourceError(f"{source.path}: no e_cdr or e_cdr_YYYYMMDD table")
    try:
        for table in tables:
            present = [row[1] for row in db.execute(f'PRAGMA table_info("{table}")')]
            names = [c for c in present if c.lower() in WANTED]
            cursor = db.execute(f'SELECT {", ".join(f"[{n}]" for n in names)} FROM "{table}"')
            while rows := cursor.fetchmany(100_000):
                yield _rows_to_frame(names, rows)
    except sqlite3.DatabaseError as exc:  # a damaged page the first query did not touch
        raise SourceError(f"{source.path}: not a readable SQLite database: "
                          f"{_first_line_of(exc)} (table {table})") from None
    finally:
        db.close()


def _mariadb(source: Source) -> Iterator[pl.DataFrame]:
    with cdr_database(source.path, source.label) as (db, tables):
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


# -- one schema ---------------------------------------------------------------------------------
def normalise(batch: pa.RecordBatch | pl.DataFrame, label: str, first_line: int | None = None,
              offset: int = 0, mangled: dict[str, list[object]] | None = None) -> pl.DataFrame:
    """The WANTED columns, typed, with times in ms; absent optional columns as nulls.

    Numbers a spreadsheet rewrote in ``NUMBER_TEXTS`` are counted into ``mangled`` and blanked,
    so no prefix is made of them."""
    frame = batch if isinstance(batch, pl.DataFrame) else pl.from_arrow(batch)
    assert isinstance(frame, pl.DataFrame)
    renames: dict[str, str] = {}
    for column in frame.columns:  # GetCdr's camelCase and the older layouts' names
        name = canonical(column)
        if name != column and name not in frame.columns and name not in renames.values():
            renames[column] = name
    frame = frame.rename(renames)
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
    for name in NUMBER_TEXTS:
        bad = out[name].str.contains(_MANGLED_PATTERN)
        count = int(bad.sum())
        if count:
            entry = (mangled if mangled is not None else {}).setdefault(
                name, [0, out[name].filter(bad)[0]])
            entry[0] = int(entry[0]) + count  # type: ignore[call-overload]
            out = out.with_columns(pl.when(bad).then(pl.lit("")).otherwise(pl.col(name))
                                   .alias(name))
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
    # NaN, infinities and times no date can show (before 1970, after 9999) are not times
    known = scaled.is_finite() & (scaled >= 0) & (scaled <= _LATEST_MS)
    return pl.when(known).then(scaled).otherwise(None).round(0).cast(pl.Int64).alias(name)


def _check_numbers(raw: pl.DataFrame, out: pl.DataFrame, label: str, first_line: int | None,
                   offset: int) -> None:
    """A value that did not parse is a bad CDR, not a zero: say where."""
    for name in (*REQUIRED, *(("starttime",) if "starttime" in raw.columns else ())):
        bad = out[name].is_null() & (raw[name].is_not_null() if name in raw.columns else True)
        if bad.any():
            row = int(bad.arg_max())  # type: ignore[arg-type]
            where = f"line {first_line + row}" if first_line is not None else \
                f"CDR {offset + row + 1}"
            raise SourceError(f"{label}:{where.split()[-1]}: {name} = {raw[name][row]!r} is not "
                              f"a number or a date-time from 1970 to 9999 ({where})")
