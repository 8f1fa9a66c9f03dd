"""``parquet``: one Parquet file per UTC day, ``e_cdr_YYYYMMDD.parquet``, typed e_cdr columns.

Rows are turned into compact Arrow batches every ``BATCH_ROWS`` rows and written as a row group
every ``ROW_GROUP_ROWS``, so a run of any length holds at most one row group (in Arrow form) and
one small batch of Python rows in memory. A day's file is written under a hidden ``.partial``
name and renamed when the day is complete (the next day's first record, or the end of the run):
a reader never sees a file without its footer. In a batch run the whole output directory is
staged anyway (``Output``); in ``--realtime`` the rename is what keeps each file whole.
"""

from __future__ import annotations

import contextlib
import errno
import os
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cdr_writer._formats import SinkContext
from cdr_writer._sinks import EcdrRows, sqlite_row
from simulator.core import E_CDR_COLUMNS, Cdr

ROW_GROUP_ROWS = 65_536
BATCH_ROWS = 4096  # Python rows held before they become an Arrow batch
PARQUET_NAME = "e_cdr_{day}.parquet"


def _arrow_type(kind: str) -> pa.DataType:
    if kind == "int":
        return pa.int32()
    if kind == "bigint":
        return pa.int64()
    if kind == "double":
        return pa.float64()
    if kind == "blob":
        return pa.binary()
    return pa.string()  # varchar(n) and json


# ``id`` is declared int in the reference but always equals flowno (bigint): int64 keeps both.
E_CDR_SCHEMA = pa.schema(
    [pa.field(name, pa.int64() if name == "id" else _arrow_type(kind),
              nullable=name not in ("id", "flowno"))
     for name, kind in E_CDR_COLUMNS],
    metadata={b"vossim": b"VOS3000 e_cdr table, one row per CDR; times in ms since 1970 UTC"},
)


def _has_footer(path: Path) -> bool:
    """Whether ``path`` ends as a Parquet file does: footer length, then the magic ``PAR1``."""
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        if size < 12:
            return False
        handle.seek(size - 8)
        tail = handle.read(8)
    footer = int.from_bytes(tail[:4], "little")
    return tail[4:] == b"PAR1" and footer + 12 <= size


class ParquetSink(EcdrRows):
    """Daily Parquet files with the 63 e_cdr columns, written row group by row group."""

    def __init__(self, context: SinkContext) -> None:
        directory = context.directory
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.day: str | None = None
        self.day_end = -1
        self.writer: pq.ParquetWriter | None = None
        self.partial: Path | None = None
        self.rows: list[list[object]] = []
        self.batches: list[pa.RecordBatch] = []
        self.batched_rows = 0
        self.unclosed = 0  # rows of the day being written: a file without its footer holds none

    def write(self, cdr: Cdr) -> None:
        self.write_row(cdr.stoptime, sqlite_row(cdr))

    def write_row(self, stoptime: int, row: list[object]) -> None:
        """An e_cdr row (fee as float, as ``sqlite_row`` gives it) that stopped at ``stoptime``."""
        if stoptime >= self.day_end:
            day = datetime.fromtimestamp(stoptime / 1000, UTC).strftime("%Y%m%d")
            if day != self.day:
                self._finish_day()
                self.day = day
            self.day_end = (stoptime // 86_400_000 + 1) * 86_400_000
        self.rows.append(row)
        self.unclosed += 1
        if len(self.rows) >= min(BATCH_ROWS, ROW_GROUP_ROWS):
            self._batch()
            if self.batched_rows >= ROW_GROUP_ROWS:
                self._write_group()

    def _batch(self) -> None:
        if not self.rows:
            return
        columns = list(zip(*self.rows, strict=True))
        self.batches.append(pa.RecordBatch.from_arrays(
            [pa.array(values, type=field.type)
             for values, field in zip(columns, E_CDR_SCHEMA, strict=True)],
            schema=E_CDR_SCHEMA))
        self.batched_rows += len(self.rows)
        self.rows = []

    def _write_group(self) -> None:
        self._batch()
        if not self.batches:
            return
        table = pa.Table.from_batches(self.batches, schema=E_CDR_SCHEMA)
        self.batches = []
        self.batched_rows = 0
        if self.writer is None:
            target = self.directory / PARQUET_NAME.format(day=self.day)
            if target.exists():
                raise FileExistsError(f"{target} already exists; vossim does not append to a "
                                      "Parquet file")
            self.partial = self.directory / f".{target.name}.partial"
            self.writer = pq.ParquetWriter(self.partial, E_CDR_SCHEMA, compression="zstd")
        self.writer.write_table(table, row_group_size=ROW_GROUP_ROWS)

    @property
    def unclosed_name(self) -> str | None:
        return PARQUET_NAME.format(day=self.day) if self.day else None

    def take_back(self) -> None:
        """Forget the last row (a realtime run, when a later format failed to take it)."""
        if self.rows:
            self.rows.pop()
        elif self.batches:  # rows become batches in memory: the row is still not in the file
            last = self.batches.pop()
            if last.num_rows > 1:
                self.batches.append(last.slice(0, last.num_rows - 1))
            self.batched_rows -= 1
        else:  # already in a row group on disk: it stays (one row in 65,536)
            return
        self.unclosed -= 1

    def _finish_day(self) -> None:
        self._write_group()
        if self.writer is not None and self.partial is not None:
            self.writer.close()
            if not _has_footer(self.partial):  # a full disk can cut the footer short
                raise OSError(errno.ENOSPC, "the Parquet footer could not be written",
                              str(self.partial))
            os.replace(self.partial, self.directory / self.partial.name[1:-len(".partial")])
        self.writer = None
        self.partial = None
        self.unclosed = 0

    def close(self) -> None:
        self._finish_day()

    def discard(self) -> None:
        """Drop the day being written (the run failed): no file without its footer is left."""
        self.rows = []
        self.batches = []
        self.batched_rows = 0
        if self.writer is not None:
            with contextlib.suppress(Exception):
                self.writer.close()
        if self.partial is not None:
            self.partial.unlink(missing_ok=True)
        self.writer = None
        self.partial = None
