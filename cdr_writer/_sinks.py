"""CDR sinks: the four output formats, written into a staging area and committed atomically.

Every sink receives records in CDR order (stoptime, then flowno) and only ``recorded`` ones,
except ``jsonl``, which also shows the suppressed records (``recorded: false``). Files are
written under a hidden staging directory inside the output directory and moved into place by
``Output.commit()``; ``Output.abort()`` removes them, so a failed run leaves nothing behind.
"""

from __future__ import annotations

import bisect
import contextlib
import csv
import errno
import json
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from itertools import repeat
from pathlib import Path
from types import SimpleNamespace
from typing import IO, Any

from cdr_writer._formats import (
    FLOWNO,
    FORMATS,
    CdrFormat,
    Sink,
    SinkContext,
    get_format,
    register,
)
from simulator.core import (
    E_CDR_COLUMNS,
    E_CDR_NAMES,
    Cdr,
    FeeTexts,
    PipeLines,
    only_recorded,
    stoptimes,
)

DEFAULT_FORMATS = ("pipe", "e_cdr")
SQLITE_NAME = "vos3000.db"
JSONL_NAME = "cdr.jsonl"
_INDEXED = ("callere164", "callergatewayid", "starttime", "stoptime", "customeraccount")
_JSON_FLOWNO = '"\\u001f"'  # FLOWNO as json.dumps writes it


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def format_fee(fee: Decimal, places: int) -> str:
    return f"{fee:.{places}f}"


def pipe_line(cdr: Cdr, places: int) -> str:
    return PipeLines(places).line(cdr, "")


def pipe_renderer(places: int) -> Callable[[Cdr], str]:
    """``pipe_line(cdr, places) + "\\n"``, with the fee texts remembered."""
    return PipeLines(places).line


class _CsvLine:
    """Renders one CSV row to text exactly as ``csv.writer`` writes it to a file."""

    def __init__(self) -> None:
        lines: list[str] = []
        self.lines = lines
        # The writer's file is the list: each row arrives as one string, nothing to reset.
        self.writer = csv.writer(SimpleNamespace(write=lines.append))

    def __call__(self, row: list[object]) -> str:
        self.writer.writerow(row)
        return self.lines.pop()


_FEE_COLUMN = E_CDR_NAMES.index("fee")
_AGENT_FEE_COLUMN = E_CDR_NAMES.index("agentfee")


def _csv_row(row: tuple[object, ...], fee: str,
             fee_text: Callable[[Decimal], str]) -> list[object]:
    """What the CSV line is written from: None stays, as csv.writer writes it as ""."""
    values = list(row)
    values[_FEE_COLUMN] = fee
    agent_fee = values[_AGENT_FEE_COLUMN]
    if agent_fee.__class__ is Decimal:  # a vendor's fee: the same places as the fee's
        values[_AGENT_FEE_COLUMN] = fee_text(agent_fee)  # type: ignore[arg-type]
    return values


def e_cdr_csv_values(cdr: Cdr, places: int) -> list[object]:
    """The values of a record's CSV line, as written."""
    return ["" if value is None else value
            for value in _csv_row(cdr.e_cdr_row(), f"{cdr.fee:.{places}f}",
                                  FeeTexts(places).text)]


def e_cdr_csv_renderer(places: int) -> Callable[[Cdr], str]:
    """One CSV line of ``e_cdr_csv_values(cdr, places)``, with the fee texts remembered."""
    fee_text = FeeTexts(places).text
    line = _CsvLine()
    return lambda cdr: line(_csv_row(cdr.e_cdr_row(), fee_text(cdr.fee), fee_text))


# What json.dumps(obj, separators=(",", ":")) builds on every call, built once.
_json_text = json.JSONEncoder(separators=(",", ":")).encode


def jsonl_line(cdr: Cdr) -> str:
    obj = dict(zip(E_CDR_NAMES, cdr.e_cdr_row(), strict=True))
    obj["fee"] = float(cdr.fee)
    if cdr.vendor is not None:
        obj["agentfee"] = float(cdr.vendor.agentfee)
    obj["feeprefix"] = cdr.feeprefix
    obj["endReasonName"] = cdr.end_reason_name
    obj["endReasonCategory"] = cdr.end_reason_category
    obj["recorded"] = cdr.recorded
    obj["callId"] = cdr.call_id
    return _json_text(obj) + "\n"


def sqlite_row(cdr: Cdr) -> list[object]:
    row = list(cdr.e_cdr_row())
    row[_FEE_COLUMN] = float(row[_FEE_COLUMN])
    if cdr.vendor is not None:
        row[_AGENT_FEE_COLUMN] = float(cdr.vendor.agentfee)
    return row


def day_of(stoptime_ms: int) -> str:
    return _utc(stoptime_ms).strftime("%Y%m%d")


class WholeLines:
    """A file of records written whole (the realtime feed): each record reaches the file entirely
    or, when the disk fills up or the run is stopped in the middle of a write, not at all, so a
    reader never meets a torn last line."""

    def __init__(self, path: Path, *, append: bool) -> None:
        flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
        self.path = path
        self.fd = os.open(path, flags, 0o666)
        self.size = os.lseek(self.fd, 0, os.SEEK_END)
        self.before_last = self.size  # the size before the last record: ``take_back``

    def write(self, text: str) -> None:
        data = text.encode("utf-8")
        done = 0
        try:
            while done < len(data):
                done += os.write(self.fd, data[done:])
        except BaseException as exc:
            if done:  # take the part back: the file ends with the last whole record
                with contextlib.suppress(OSError):
                    os.ftruncate(self.fd, self.size)
            if isinstance(exc, OSError) and exc.filename is None:
                raise OSError(exc.errno, exc.strerror, str(self.path)) from None
            raise
        self.before_last = self.size
        self.size += len(data)

    def take_back(self) -> None:
        """Remove the last record written (another format of a realtime run could not take it).
        Shortening a file needs no space, so this works on a full disk too."""
        os.ftruncate(self.fd, self.before_last)
        self.size = self.before_last

    def flush(self) -> None:
        """Every write already went to the file."""

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


BLOCK = 1024  # records per write (a file's lines, a table's rows) in a batch run


class _Rotating:
    """One open file at a time, switched when a record's stoptime enters a new period (UTC hour
    or day), as VOS3000 rotates its CDR files; records arrive in stoptime order.

    A batch run (not ``flush``) writes to a staging directory nobody reads before the commit,
    so its lines are gathered and written a block at a time (``BLOCK`` lines, or what is left
    when the period ends), joined: one write per block instead of one per record. A realtime
    run (``flush``) writes each record whole the moment it comes (``WholeLines``).
    """

    def __init__(self, directory: Path, flush: bool, period_ms: int, key_format: str,
                 name: str, header: str | None = None) -> None:
        self.directory = directory
        self.flush = flush
        self.period_ms = period_ms
        self.key_format = key_format
        self.name = name  # with {key}, e.g. "cdr/{key}.txt"
        self.header = header
        self.key: str | None = None
        self.path: Path | None = None
        self.handle: IO[bytes] | WholeLines | None = None
        self._period_end = -1
        self.lines: list[str] = []  # a batch run's lines not yet written, of the open file
        self.write = self._write_now if flush else self._write_batched

    def _rotate(self, stoptime: int) -> None:
        """To the file of the period ``stoptime`` is in (which the records before its end share)."""
        self._open(_utc(stoptime).strftime(self.key_format))
        self._period_end = (stoptime // self.period_ms + 1) * self.period_ms

    def _write_now(self, stoptime: int, text: str) -> None:
        if stoptime >= self._period_end:
            self._rotate(stoptime)
        self.handle.write(text)  # type: ignore[union-attr]

    def _write_batched(self, stoptime: int, text: str) -> None:
        if stoptime >= self._period_end:
            self._rotate(stoptime)
        lines = self.lines
        lines.append(text)
        if len(lines) >= BLOCK:
            self.write_lines()

    def write_block(self, stoptimes: list[int], texts: list[str]) -> None:
        """``write`` of each text in turn (``stoptimes`` in order), a period's run at a time."""
        if self.flush:
            for stoptime, text in zip(stoptimes, texts, strict=True):
                self._write_now(stoptime, text)
            return
        start, count = 0, len(texts)
        while start < count:
            if stoptimes[start] >= self._period_end:
                self._rotate(stoptimes[start])
            end = bisect.bisect_left(stoptimes, self._period_end, start)
            self.lines.extend(texts[start:end])
            if len(self.lines) >= BLOCK or end < count:
                self.write_lines()
            start = end

    def take_back(self) -> None:
        """Remove the last record written (a realtime run: ``WholeLines``)."""
        if isinstance(self.handle, WholeLines):
            self.handle.take_back()

    def write_lines(self) -> None:
        """Write the gathered lines to the open file (a batch run)."""
        lines = self.lines
        if not lines:
            return
        data = "".join(lines).encode("utf-8")
        lines.clear()
        try:
            self.handle.write(data)  # type: ignore[union-attr]
        except OSError as exc:
            raise self._named(exc) from None

    def _named(self, exc: OSError) -> OSError:
        """A buffered write's error names no file: name it (a full disk says which file)."""
        if exc.filename is None:
            return OSError(exc.errno, exc.strerror, str(self.path))
        return exc

    def _open(self, key: str) -> None:
        if key == self.key:
            return
        self.close()
        path = self.path = self.directory / self.name.format(key=key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not path.exists()
        self.handle = WholeLines(path, append=True) if self.flush else path.open("ab")
        if self.header is not None and fresh:
            if self.flush:
                self.handle.write(self.header)  # type: ignore[arg-type]
            else:
                self.lines.append(self.header)
        self.key = key

    def close(self) -> None:
        """Write what is gathered and close the file; the next record opens its own."""
        handle = self.handle
        if handle is None:
            return
        try:
            self.write_lines()
            handle.close()  # a buffered file writes its last bytes here: a full disk may fail
        except OSError as exc:
            with contextlib.suppress(OSError):
                handle.close()  # the descriptor goes even when the last bytes could not
            raise self._named(exc) from None
        finally:
            self.handle = None
            self.key = None
            self._period_end = -1


_HOUR_MS, _DAY_MS = 3_600_000, 86_400_000


def _block_writer(sink: Sink) -> Callable[[list[Cdr]], None]:
    """A sink's ``write_block``, or its ``write`` of each record in turn."""
    block = getattr(sink, "write_block", None)
    if block is not None:
        return block  # type: ignore[no-any-return]
    write = sink.write

    def write_each(cdrs: list[Cdr]) -> None:
        for cdr in cdrs:
            write(cdr)
    return write_each


def _numbered(texts: list[str], flownos: list[int]) -> list[str]:
    """Rendered texts (a shard's) with their final flowno in place of ``FLOWNO``."""
    if len(texts) != len(flownos):
        raise ValueError(f"expected one flowno per text, found {len(flownos)} for {len(texts)}")
    # map() keeps the per-record work in C: this runs once per record of a sharded run's merge
    return list(map(str.replace, texts, repeat(FLOWNO), map(str, flownos)))


class PipeSink:
    """Hourly text files ``cdr/YYYYMMDDHH.txt`` by stoptime, as SS_CDR_RECORD_TO_FILE writes."""

    def __init__(self, context: SinkContext) -> None:
        self.files = _Rotating(context.directory, context.flush, _HOUR_MS, "%Y%m%d%H",
                               "cdr/{key}.txt")
        self.places = context.fee_places
        self.lines = PipeLines(self.places)
        self.render = self.lines.line

    def write(self, cdr: Cdr) -> None:
        self.files.write(cdr.stoptime, self.render(cdr))

    def write_block(self, cdrs: list[Cdr]) -> None:
        """``write`` of each record in turn (a batch run's block of them)."""
        self.files.write_block(stoptimes(cdrs), self.lines.lines(cdrs))

    renderer = staticmethod(pipe_renderer)

    def write_rendered(self, stoptime: int, line: str, flowno: int | None) -> None:
        self.files.write(stoptime, line.replace(FLOWNO, str(flowno)))

    def write_rendered_block(self, stoptimes: list[int], lines: list[str],
                             flownos: list[int]) -> None:
        self.files.write_block(stoptimes, _numbered(lines, flownos))

    def take_back(self) -> None:
        self.files.take_back()

    def close(self) -> None:
        self.files.close()


class ECdrCsvSink:
    """Daily CSV files ``e_cdr_YYYYMMDD.csv`` with the 63 e_cdr columns as header."""

    def __init__(self, context: SinkContext) -> None:
        self.files = _Rotating(context.directory, context.flush, _DAY_MS, "%Y%m%d",
                               "e_cdr_{key}.csv", header=",".join(E_CDR_NAMES) + "\r\n")
        self.places = context.fee_places
        self.render = e_cdr_csv_renderer(self.places)

    def write(self, cdr: Cdr) -> None:
        self.files.write(cdr.stoptime, self.render(cdr))

    def write_block(self, cdrs: list[Cdr]) -> None:
        """``write`` of each record in turn (a batch run's block of them)."""
        render = self.render
        self.files.write_block(stoptimes(cdrs), [render(cdr) for cdr in cdrs])

    renderer = staticmethod(e_cdr_csv_renderer)

    def write_rendered(self, stoptime: int, row: str, flowno: int | None) -> None:
        self.files.write(stoptime, row.replace(FLOWNO, str(flowno)))

    def write_rendered_block(self, stoptimes: list[int], rows: list[str],
                             flownos: list[int]) -> None:
        self.files.write_block(stoptimes, _numbered(rows, flownos))

    def take_back(self) -> None:
        self.files.take_back()

    def close(self) -> None:
        self.files.close()


class EcdrRows:
    """For sinks fed e_cdr rows (``write_row``): what a ``--workers`` shard renders for them."""

    @staticmethod
    def renderer(places: int) -> Callable[[Cdr], list[object]]:
        return sqlite_row

    def write_rendered(self, stoptime: int, row: list[object], flowno: int | None) -> None:
        for column in _FLOWNO_COLUMNS:
            row[column] = flowno
        self.write_row(stoptime, row)

    def write_row(self, stoptime: int, row: list[object]) -> None:
        raise NotImplementedError


class SqliteSink(EcdrRows):
    """The embedded default database ``vos3000.db``: daily tables ``e_cdr_YYYYMMDD``."""

    def __init__(self, context: SinkContext) -> None:
        directory, flush = context.directory, context.flush
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / SQLITE_NAME
        try:
            self.db = sqlite3.connect(self.path)
            self.db.execute("PRAGMA journal_mode=OFF" if not flush else "PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:
            raise sqlite_failure(exc, self.path) from None
        self.flush = flush
        self.tables: set[str] = set()
        self.insert = ""  # the INSERT of the day being written
        self.day_end = -1
        # A batch run inserts its rows a block at a time (one executemany, not one execute
        # per row); a realtime one commits each row as it comes, whole or absent.
        self.rows: list[list[object]] = []
        self.last: tuple[str, int | None] | None = None  # (table, rowid) of the last record

    def take_back(self) -> None:
        """Delete the last record committed (a realtime run, when a later format failed)."""
        if self.last is not None:
            table, rowid = self.last
            self.last = None
            try:
                self.db.execute(f"DELETE FROM {table} WHERE rowid = ?", (rowid,))
                self.db.commit()
            except sqlite3.Error as exc:
                raise sqlite_failure(exc, self.path) from None

    def _table(self, day: str) -> str:
        table = f"e_cdr_{day}"
        if table not in self.tables:
            columns = ", ".join(
                f"`{name}` {kind}" + (" NOT NULL PRIMARY KEY" if name == "flowno" else "")
                for name, kind in E_CDR_COLUMNS)
            self.db.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
            for column in _INDEXED:
                self.db.execute(
                    f"CREATE INDEX IF NOT EXISTS {table}_{column} ON {table} (`{column}`)")
            self.tables.add(table)
        return table

    def write(self, cdr: Cdr) -> None:
        self.write_row(cdr.stoptime, sqlite_row(cdr))

    def write_row(self, stoptime: int, row: list[object]) -> None:
        try:
            if stoptime >= self.day_end:
                self._insert_rows()  # into the table of their own day
                marks = ", ".join("?" * len(row))
                self.insert = f"INSERT INTO {self._table(day_of(stoptime))} VALUES ({marks})"
                self.day_end = (stoptime // _DAY_MS + 1) * _DAY_MS
            if self.flush:
                cursor = self.db.execute(self.insert, row)
                self.db.commit()  # one transaction per record: whole or absent
                self.last = (self.insert.split()[2], cursor.lastrowid)
                return
            rows = self.rows
            rows.append(row)
            if len(rows) >= BLOCK:
                self._insert_rows()
        except sqlite3.Error as exc:
            raise sqlite_failure(exc, self.path) from None

    def _insert_rows(self) -> None:
        if self.rows:
            rows, self.rows = self.rows, []
            self.db.executemany(self.insert, rows)

    def close(self) -> None:
        try:
            self._insert_rows()
            self.db.commit()
        except sqlite3.Error as exc:
            raise sqlite_failure(exc, self.path) from None
        finally:
            self.db.close()


def sqlite_failure(exc: sqlite3.Error, path: Path) -> OSError:
    """An SQLite error as the OSError it is at heart (a full disk, a read-only directory …)."""
    text = str(exc)
    code = errno.ENOSPC if "full" in text else errno.EROFS if "readonly" in text else errno.EIO
    return OSError(code, text, str(path))


class JsonlSink:
    """``cdr.jsonl``: every e_cdr column plus the end reason's name, ``recorded`` and the id."""

    def __init__(self, context: SinkContext) -> None:
        directory, flush = context.directory, context.flush
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / JSONL_NAME
        self.handle: IO[str] | WholeLines = WholeLines(path, append=False) if flush else \
            path.open("w", encoding="utf-8")
        self.flush = flush

    def write(self, cdr: Cdr) -> None:
        self._write(jsonl_line(cdr))

    @staticmethod
    def renderer(places: int) -> Callable[[Cdr], str]:
        return jsonl_line

    def write_rendered(self, stoptime: int, line: str, flowno: int | None) -> None:
        self._write(line if flowno is None else line.replace(_JSON_FLOWNO, str(flowno)))

    def _write(self, line: str) -> None:
        self.handle.write(line)
        if self.flush:
            self.handle.flush()

    def take_back(self) -> None:
        if isinstance(self.handle, WholeLines):
            self.handle.take_back()

    def close(self) -> None:
        self.handle.close()


_FLOWNO_COLUMNS = tuple(E_CDR_NAMES.index(c) for c in ("id", "flowno", "flownofirst"))


for _format in (
    CdrFormat("pipe", PipeSink, "hourly text files cdr/YYYYMMDDHH.txt, 18 |-separated fields",
              files=("cdr/*.txt",), renderer=PipeSink.renderer),
    CdrFormat("e_cdr", ECdrCsvSink, "daily CSV files e_cdr_YYYYMMDD.csv, the 63 e_cdr columns",
              files=("e_cdr_*.csv",), renderer=ECdrCsvSink.renderer),
    CdrFormat("sqlite", SqliteSink, f"{SQLITE_NAME}: daily tables e_cdr_YYYYMMDD",
              files=(SQLITE_NAME,), renderer=EcdrRows.renderer),
    CdrFormat("jsonl", JsonlSink, f"{JSONL_NAME}: every column and the end reason, suppressed "
              "records included", files=(JSONL_NAME,), all_records=True,
              renderer=JsonlSink.renderer),
):
    register(_format)


STAGING_PREFIX = ".vossim-staging-"
_STAGED = re.compile(rf"^{re.escape(STAGING_PREFIX)}(\d+)-|^\..+\.vossim-(\d+)\.partial$")


def staged_name(name: str) -> str:
    """A hidden name, in the same directory, to stage a file called ``name`` under."""
    return f".{name}.vossim-{os.getpid()}.partial"


def remove_stale_staging(directory: Path) -> list[Path]:
    """Remove what runs that died (kill -9, a power cut) left staged in ``directory``.

    Staging names carry the pid of their run; a run whose process is gone will never commit or
    abort, so its staging is garbage. Staging of a live process, whoever it is, is left alone.
    """
    removed = []
    try:
        entries = list(directory.iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _STAGED.match(entry.name)
        if match is None or _alive(int(match.group(1) or match.group(2))):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def _take_back_order(sink: Sink) -> int:
    """Where ``sink`` goes in a realtime record's writes: first those that can take a record
    back even on a full disk (files they shorten, rows they hold in memory), then those whose
    take-back may itself fail (SQLite's delete), last those that cannot take one back at all."""
    if isinstance(sink, PipeSink | ECdrCsvSink | JsonlSink) or \
            type(sink).__name__ == "ParquetSink":
        return 0
    return 1 if hasattr(sink, "take_back") else 2


class Output:
    """The output directory of one run: sinks that write into staging, then commit or abort.

    ``formats`` are names in the registry (``_formats.FORMATS``); ``options`` go to every sink
    (``SinkContext.options``).
    """

    def __init__(self, directory: str | os.PathLike[str], formats: tuple[str, ...],
                 fee_places: int, *, direct: bool = False,
                 options: dict[str, Any] | None = None) -> None:
        self.formats = [get_format(name) for name in dict.fromkeys(formats)]
        options = {key: value for key, value in (options or {}).items() if value is not None}
        for key in options:
            if not any(key in f.options for f in self.formats):
                takers = [f.name for f in FORMATS.values() if key in f.options]
                raise ValueError(f"--{key} goes with --format {' or '.join(takers) or '?'}")
        self.directory = Path(directory)
        self.direct = direct
        # what this run made, so that a refused run leaves nothing behind: the directories it
        # created (deepest last) and, for a realtime run, what was in its directory before
        self.created = [p for p in (self.directory, *self.directory.parents)
                        if not p.exists()][::-1]
        self.directory.mkdir(parents=True, exist_ok=True)
        self.found = set(self.directory.rglob("*")) if direct else set()
        if direct:
            self.staging = self.directory
        else:
            remove_stale_staging(self.directory)
            self.staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-",
                                                 dir=self.directory))
        context = SinkContext(self.staging, fee_places, direct, options)
        self.sinks: list[Sink] = []
        self.records = 0  # CDRs every sink has taken (recorded or, for jsonl, suppressed)
        self.feed_error: Exception | None = None  # the first a closing realtime format raised
        self._feed_closed: tuple[list[Path], list[str]] | None = None
        try:
            for cdr_format in self.formats:
                self.sinks.append(cdr_format.open(context))
        except BaseException:
            self.abort()
            raise
        self.recorded_sinks = [s for s, f in zip(self.sinks, self.formats, strict=True)
                               if not f.all_records]
        self.all_sinks = [s for s, f in zip(self.sinks, self.formats, strict=True)
                          if f.all_records]
        # looked up once: write runs once per CDR
        self._recorded_writes = tuple(sink.write for sink in self.recorded_sinks)
        self._all_writes = tuple(sink.write for sink in self.all_sinks)
        self._recorded_blocks = tuple(_block_writer(sink) for sink in self.recorded_sinks)
        self._all_blocks = tuple(_block_writer(sink) for sink in self.all_sinks)
        # A realtime record goes to every format or to none: the formats that can take a record
        # back first, so that when a later one fails (a full disk) the earlier ones take it back.
        self._feed = sorted(((sink, f.all_records) for sink, f in
                             zip(self.sinks, self.formats, strict=True)),
                            key=lambda item: _take_back_order(item[0]))
        if direct:
            self.write = self._write_whole  # type: ignore[method-assign]

    def _write_whole(self, cdr: Cdr) -> None:
        taken = []
        try:
            for sink, all_records in self._feed:
                if all_records or cdr.recorded:
                    sink.write(cdr)
                    taken.append(sink)
        except Exception as exc:
            for sink in reversed(taken):
                with contextlib.suppress(Exception):
                    sink.take_back()  # type: ignore[attr-defined]
            if isinstance(exc, OSError):
                raise self._named(exc) from None
            raise
        self.records += 1

    def write(self, cdr: Cdr) -> None:
        try:
            if cdr.recorded:
                for write in self._recorded_writes:
                    write(cdr)
            for write in self._all_writes:
                write(cdr)
        except OSError as exc:
            raise self._named(exc) from None
        self.records += 1

    def write_block(self, cdrs: list[Cdr]) -> None:
        """``write`` of each record in turn: a batch run's block of them (not ``direct``)."""
        try:
            if self._recorded_blocks:
                recorded = only_recorded(cdrs)
                for write_block in self._recorded_blocks:
                    write_block(recorded)
            for write_block in self._all_blocks:
                write_block(cdrs)
        except OSError as exc:
            raise self._named(exc) from None
        self.records += len(cdrs)

    def _named(self, exc: OSError) -> OSError:
        """``exc`` naming the file's place in the output directory, not its staging name."""
        name = str(exc.filename or "")
        staging = str(self.staging)
        if self.direct or not name.startswith(staging):
            return exc
        final = str(self.directory) + name[len(staging):]
        return OSError(exc.errno, exc.strerror, final)

    def commit(self) -> list[Path]:
        """Close every sink and move its files into the output directory."""
        if self.direct:  # each format closes on its own: one that cannot leaves the others
            files, _ = self.close_feed()
            if self.feed_error is not None:
                raise self.feed_error
            return files
        try:
            for sink in self.sinks:
                sink.close()  # the last buffers go out now: a full disk may fail here
        except BaseException as exc:
            self.abort()
            if isinstance(exc, OSError):
                raise self._named(exc) from None
            raise
        written = []
        for path in sorted(p for p in self.staging.rglob("*") if p.is_file()):
            target = self.directory / path.relative_to(self.staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
            written.append(target)
        shutil.rmtree(self.staging, ignore_errors=True)
        return written

    def close_feed(self) -> tuple[list[Path], list[str]]:
        """A realtime run that stopped (Ctrl-C, SIGTERM, a full disk): close each format on its
        own; the files, and what a format could not keep (a Parquet file needs its footer).
        Closes once: a second call gives the same answer."""
        if self._feed_closed is not None:
            return self._feed_closed
        lost = []
        for sink, cdr_format in zip(self.sinks, self.formats, strict=True):
            try:
                sink.close()
            except Exception as exc:
                if self.feed_error is None:
                    self.feed_error = self._named(exc) if isinstance(exc, OSError) else exc
                discard = getattr(sink, "discard", None)
                if discard is not None:
                    with contextlib.suppress(Exception):
                        discard()
                errno_ = exc.errno if isinstance(exc, OSError) else None
                reason = os.strerror(errno_) if errno_ else str(exc)
                held = getattr(sink, "unclosed", None)
                name = getattr(sink, "unclosed_name", None) or f"the {cdr_format.name} output"
                what = f", with its {held:,} CDRs" if held else ""
                removed = " and was removed" if discard is not None else ""
                lost.append(f"{name} could not be closed ({reason}){removed}{what}")
        files = sorted(p for p in self.directory.rglob("*") if p.is_file())
        if not files:
            self._remove_created()
        self._feed_closed = (files, lost)
        return files, lost

    def notes(self) -> list[str]:
        """What sinks have to tell the user (e.g. a database run that resumed)."""
        return [note for sink in self.sinks for note in getattr(sink, "notes", list)()]

    def abort(self) -> None:
        for sink in self.sinks:
            with contextlib.suppress(Exception):  # already failing: leave nothing behind
                getattr(sink, "discard", sink.close)()
        if not self.direct:
            shutil.rmtree(self.staging, ignore_errors=True)
        elif not self.records:  # refused before its first record: remove what it made
            for path in sorted(set(self.directory.rglob("*")) - self.found, reverse=True):
                with contextlib.suppress(OSError):
                    path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()
        self._remove_created()

    def _remove_created(self) -> None:
        """The directories this run created, if they are (still) empty."""
        for path in reversed(self.created):
            try:
                path.rmdir()
            except OSError:
                return
