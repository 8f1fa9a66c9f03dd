"""CDR sinks: the four output formats, written into a staging area and committed atomically.

Every sink receives records in CDR order (stoptime, then flowno) and only ``recorded`` ones,
except ``jsonl``, which also shows the suppressed records (``recorded: false``). Files are
written under a hidden staging directory inside the output directory and moved into place by
``Output.commit()``; ``Output.abort()`` removes them, so a failed run leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import sqlite3
import tempfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Protocol

from cdr_writer._record import E_CDR_COLUMNS, E_CDR_NAMES, Cdr

FORMATS = ("pipe", "e_cdr", "sqlite", "jsonl")
DEFAULT_FORMATS = ("pipe", "e_cdr")
SQLITE_NAME = "vos3000.db"
JSONL_NAME = "cdr.jsonl"
_INDEXED = ("callere164", "callergatewayid", "starttime", "stoptime", "customeraccount")


class Sink(Protocol):
    wants_suppressed: bool

    def write(self, cdr: Cdr) -> None: ...
    def close(self) -> None: ...


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def format_fee(fee: Decimal, places: int) -> str:
    return f"{fee:.{places}f}"


def pipe_line(cdr: Cdr, places: int) -> str:
    return (
        f"{cdr.callere164}|{cdr.calleee164}|{cdr.starttime}|{cdr.stoptime}|{cdr.holdtime}|"
        f"{cdr.endreason}|{cdr.enddirection}|{cdr.callergatewayid}|{cdr.calleegatewayid}|"
        f"{cdr.callerip}|{cdr.calleeip}|{cdr.customeraccount}|{cdr.feeprefix}|{cdr.feetime}|"
        f"{cdr.fee:.{places}f}|{cdr.callerpdd}|{cdr.billingmode}|{cdr.flowno}"
    )


class _Rotating:
    """One open file at a time, switched when the record's period key changes."""

    def __init__(self, directory: Path, flush: bool) -> None:
        self.directory = directory
        self.flush = flush
        self.key: str | None = None
        self.handle: IO[str] | None = None

    def handle_for(self, key: str, name: str, header: str | None = None) -> IO[str]:
        if key != self.key:
            self.close()
            path = self.directory / name
            path.parent.mkdir(parents=True, exist_ok=True)
            fresh = not path.exists()
            self.handle = path.open("a", encoding="utf-8", newline="")
            if header is not None and fresh:
                self.handle.write(header)
            self.key = key
        return self.handle

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None
            self.key = None


class PipeSink:
    """Hourly text files ``cdr/YYYYMMDDHH.txt`` by stoptime, as SS_CDR_RECORD_TO_FILE writes."""

    wants_suppressed = False

    def __init__(self, directory: Path, fee_places: int, flush: bool = False) -> None:
        self.files = _Rotating(directory, flush)
        self.places = fee_places
        self._hour_end = -1

    def write(self, cdr: Cdr) -> None:
        files = self.files
        if cdr.stoptime >= self._hour_end or files.handle is None:
            hour = _utc(cdr.stoptime).strftime("%Y%m%d%H")
            files.handle_for(hour, f"cdr/{hour}.txt")
            self._hour_end = (cdr.stoptime // 3_600_000 + 1) * 3_600_000
        files.handle.write(pipe_line(cdr, self.places) + "\n")
        if files.flush:
            files.handle.flush()

    def close(self) -> None:
        self.files.close()


def _csv_value(value: object, places: int, column: str) -> object:
    if value is None:
        return ""
    if column == "fee":
        return format_fee(value, places)  # type: ignore[arg-type]
    return value


class ECdrCsvSink:
    """Daily CSV files ``e_cdr_YYYYMMDD.csv`` with the 63 e_cdr columns as header."""

    wants_suppressed = False

    def __init__(self, directory: Path, fee_places: int, flush: bool = False) -> None:
        self.files = _Rotating(directory, flush)
        self.places = fee_places
        self.header = ",".join(E_CDR_NAMES) + "\r\n"
        self.writer: csv.Writer | None = None  # type: ignore[name-defined]

    def write(self, cdr: Cdr) -> None:
        day = _utc(cdr.stoptime).strftime("%Y%m%d")
        before = self.files.handle
        handle = self.files.handle_for(day, f"e_cdr_{day}.csv", self.header)
        if handle is not before or self.writer is None:
            self.writer = csv.writer(handle)
        places = self.places
        self.writer.writerow([_csv_value(v, places, c)
                              for v, c in zip(cdr.e_cdr_row(), E_CDR_NAMES, strict=True)])
        if self.files.flush:
            handle.flush()

    def close(self) -> None:
        self.files.close()


class SqliteSink:
    """The embedded default database ``vos3000.db``: daily tables ``e_cdr_YYYYMMDD``."""

    wants_suppressed = False

    def __init__(self, directory: Path, fee_places: int, flush: bool = False) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(directory / SQLITE_NAME)
        self.db.execute("PRAGMA journal_mode=OFF" if not flush else "PRAGMA journal_mode=WAL")
        self.flush = flush
        self.places = fee_places
        self.tables: set[str] = set()
        self.insert = ""

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
        table = self._table(_utc(cdr.stoptime).strftime("%Y%m%d"))
        row = list(cdr.e_cdr_row())
        row[E_CDR_NAMES.index("fee")] = float(row[E_CDR_NAMES.index("fee")])
        marks = ", ".join("?" * len(row))
        self.db.execute(f"INSERT INTO {table} VALUES ({marks})", row)
        if self.flush:
            self.db.commit()

    def close(self) -> None:
        self.db.commit()
        self.db.close()


class JsonlSink:
    """``cdr.jsonl``: every e_cdr column plus the end reason's name, ``recorded`` and the id."""

    wants_suppressed = True

    def __init__(self, directory: Path, fee_places: int, flush: bool = False) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.handle = (directory / JSONL_NAME).open("w", encoding="utf-8")
        self.flush = flush

    def write(self, cdr: Cdr) -> None:
        obj = {name: value for name, value in zip(E_CDR_NAMES, cdr.e_cdr_row(), strict=True)}
        obj["fee"] = float(cdr.fee)
        obj["feeprefix"] = cdr.feeprefix
        obj["endReasonName"] = cdr.end_reason_name
        obj["endReasonCategory"] = cdr.end_reason_category
        obj["recorded"] = cdr.recorded
        obj["callId"] = cdr.call_id
        self.handle.write(json.dumps(obj, separators=(",", ":")) + "\n")
        if self.flush:
            self.handle.flush()

    def close(self) -> None:
        self.handle.close()


_SINKS = {"pipe": PipeSink, "e_cdr": ECdrCsvSink, "sqlite": SqliteSink, "jsonl": JsonlSink}


class Output:
    """The output directory of one run: sinks that write into staging, then commit or abort."""

    def __init__(self, directory: str | os.PathLike[str], formats: tuple[str, ...],
                 fee_places: int, *, direct: bool = False) -> None:
        unknown = [f for f in formats if f not in _SINKS]
        if unknown:
            raise ValueError(f"unknown CDR format {unknown[0]!r}; expected one of "
                             f"{', '.join(FORMATS)}")
        self.directory = Path(directory)
        self.direct = direct
        self.directory.mkdir(parents=True, exist_ok=True)
        if direct:
            self.staging = self.directory
        else:
            self.staging = Path(tempfile.mkdtemp(prefix=".vossim-staging-", dir=self.directory))
        self.sinks: list[Sink] = [_SINKS[f](self.staging, fee_places, direct)
                                  for f in dict.fromkeys(formats)]
        self.recorded_sinks = [s for s in self.sinks if not s.wants_suppressed]
        self.all_sinks = [s for s in self.sinks if s.wants_suppressed]

    def write(self, cdr: Cdr) -> None:
        if cdr.recorded:
            for sink in self.recorded_sinks:
                sink.write(cdr)
        for sink in self.all_sinks:
            sink.write(cdr)

    def commit(self) -> list[Path]:
        """Close every sink and move its files into the output directory."""
        for sink in self.sinks:
            sink.close()
        if self.direct:
            return sorted(p for p in self.directory.rglob("*") if p.is_file())
        written = []
        for path in sorted(p for p in self.staging.rglob("*") if p.is_file()):
            target = self.directory / path.relative_to(self.staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
            written.append(target)
        shutil.rmtree(self.staging, ignore_errors=True)
        return written

    def abort(self) -> None:
        for sink in self.sinks:
            with contextlib.suppress(Exception):  # already failing: leave nothing behind
                sink.close()
        if not self.direct:
            shutil.rmtree(self.staging, ignore_errors=True)
