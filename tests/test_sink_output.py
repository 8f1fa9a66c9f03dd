"""What the sinks write is what the plain code writes. Renderers (fee texts remembered, the CSV
writer's line taken as it is written) give what ``pipe_line``, ``csv.writer`` on
``e_cdr_csv_values`` and ``json.dumps`` give. Batch runs write files a block at a time and SQLite
rows an ``executemany`` at a time: the same lines and rows in the same order across blocks, hours
and days, nothing left by a run that fails, a full disk named by its file; realtime runs still
write each record as it comes."""

from __future__ import annotations

import csv
import errno
import io
import json
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from cdr_writer import FLOWNO, Cdr, Output, pipe_line
from cdr_writer._sinks import (
    BLOCK,
    FeeTexts,
    e_cdr_csv_renderer,
    e_cdr_csv_values,
    jsonl_line,
    pipe_renderer,
    sqlite_row,
)
from simulator.core._record import E_CDR_NAMES, VosColumns

HOUR = 3_600_000
START = int(datetime(2026, 11, 24, 22, tzinfo=UTC).timestamp() * 1000)  # two hours to midnight
FORMATS = ("pipe", "e_cdr", "sqlite", "jsonl")


def record(i: int, stoptime: int, **fields: object) -> Cdr:
    return Cdr(**{
        "callere164": f"1202555{i:04d}", "calleee164": "447700900123", "starttime": stoptime - 9,
        "stoptime": stoptime, "holdtime": i % 90, "endreason": 2, "enddirection": i % 3,
        "callergatewayid": "C1-GW", "calleegatewayid": "UK", "callerip": "203.0.113.1",
        "calleeip": "198.51.100.10", "customeraccount": "C1", "customername": "Carrier, \"One\"",
        "feeprefix": "447", "feetime": 60, "fee": Decimal(i % 7) / 100, "billingmode": 1,
        "flowno": i + 1, "softswitchname": "SIM", "call_id": f"call-{i}", "seed_key": f"1/{i}",
        **fields})


def records() -> list[Cdr]:
    """More than two blocks in one hour, then a few in the next, then past midnight."""
    stops = [START + 1000 + i for i in range(2 * BLOCK + 300)]
    stops += [START + HOUR + 5 + i for i in range(BLOCK // 2)]
    stops += [START + 2 * HOUR + i for i in range(BLOCK + 7)]
    return [record(i, stop) for i, stop in enumerate(stops)]


def plain_csv(cdr: Cdr) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(e_cdr_csv_values(cdr, 4))
    return buffer.getvalue()


def plain_jsonl(cdr: Cdr) -> str:
    obj = {name: value for name, value in zip(E_CDR_NAMES, cdr.e_cdr_row(), strict=True)}
    obj.update(fee=float(cdr.fee), feeprefix=cdr.feeprefix, endReasonName=cdr.end_reason_name,
               endReasonCategory=cdr.end_reason_category, recorded=cdr.recorded,
               callId=cdr.call_id)
    return json.dumps(obj, separators=(",", ":")) + "\n"


def by_key(cdrs: list[Cdr], key_format: str) -> dict[str, list[Cdr]]:
    out: dict[str, list[Cdr]] = {}
    for cdr in cdrs:
        key = datetime.fromtimestamp(cdr.stoptime / 1000, UTC).strftime(key_format)
        out.setdefault(key, []).append(cdr)
    return out


def test_files_hold_every_line_in_order_across_blocks_hours_and_days(tmp_path: Path) -> None:
    cdrs = records()
    output = Output(tmp_path, FORMATS, 4)
    for cdr in cdrs:
        output.write(cdr)
    written = output.commit()
    hours = by_key(cdrs, "%Y%m%d%H")
    days = by_key(cdrs, "%Y%m%d")
    assert len(hours) == 3 and len(days) == 2
    for hour, hour_cdrs in hours.items():
        assert (tmp_path / "cdr" / f"{hour}.txt").read_text() == \
            "".join(pipe_line(cdr, 4) + "\n" for cdr in hour_cdrs)
    header = ",".join(E_CDR_NAMES) + "\r\n"
    db = sqlite3.connect(tmp_path / "vos3000.db")
    for day, day_cdrs in days.items():
        assert (tmp_path / f"e_cdr_{day}.csv").read_bytes().decode() == \
            header + "".join(plain_csv(cdr) for cdr in day_cdrs)
        rows = db.execute(f"SELECT * FROM e_cdr_{day} ORDER BY rowid").fetchall()
        assert rows == [tuple(sqlite_row(cdr)) for cdr in day_cdrs]
    db.close()
    assert (tmp_path / "cdr.jsonl").read_text() == "".join(plain_jsonl(cdr) for cdr in cdrs)
    assert sorted(p.name for p in written) == sorted(
        [f"{h}.txt" for h in hours] + [f"e_cdr_{d}.csv" for d in days] +
        ["vos3000.db", "cdr.jsonl"])


def test_a_batch_run_that_fails_midway_leaves_nothing(tmp_path: Path) -> None:
    output = Output(tmp_path, FORMATS, 4)
    for cdr in records()[:3 * BLOCK]:
        output.write(cdr)
    first_hour = output.staging / "cdr" / "2026112422.txt"
    assert first_hour.stat().st_size > 0  # whole blocks went to the staging files already
    output.abort()
    assert list(tmp_path.iterdir()) == []


class FullDisk:
    """A file whose every write fails as a full disk does, naming no file (buffered I/O)."""

    def __init__(self, handle: object) -> None:
        self.handle = handle

    def write(self, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    def close(self) -> None:
        self.handle.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize("when", ["a block", "the commit"])
def test_a_full_disk_names_the_file_and_leaves_nothing(tmp_path: Path, when: str) -> None:
    cdrs = records()
    output = Output(tmp_path, ("pipe",), 4)
    output.write(cdrs[0])
    files = output.sinks[0].files  # type: ignore[attr-defined]
    files.handle = FullDisk(files.handle)
    key = datetime.fromtimestamp(cdrs[0].stoptime / 1000, UTC).strftime("%Y%m%d%H")
    with pytest.raises(OSError) as failure:
        if when == "a block":
            for cdr in cdrs[1:BLOCK + 1]:
                output.write(cdr)
        else:
            output.commit()
    assert failure.value.errno == errno.ENOSPC
    assert failure.value.filename == str(tmp_path / "cdr" / f"{key}.txt")  # not the staging
    output.abort()
    assert list(tmp_path.iterdir()) == []


def test_a_realtime_run_writes_each_record_as_it_comes(tmp_path: Path) -> None:
    cdrs = records()[:3]
    output = Output(tmp_path, ("pipe", "e_cdr", "sqlite", "jsonl"), 4, direct=True)
    key = datetime.fromtimestamp(cdrs[0].stoptime / 1000, UTC).strftime("%Y%m%d%H")
    for n, cdr in enumerate(cdrs, 1):
        output.write(cdr)
        assert (tmp_path / "cdr" / f"{key}.txt").read_text().count("\n") == n
        db = sqlite3.connect(tmp_path / "vos3000.db")
        assert db.execute(f"SELECT COUNT(*) FROM e_cdr_{key[:8]}").fetchone() == (n,)
        db.close()
    output.commit()


def test_renderers_give_what_the_plain_functions_give() -> None:
    cdrs = [*records()[:40], record(99, START, fee=Decimal("-0.00")),
            record(98, START, fee=Decimal("0.5")), record(97, START, fee=Decimal("0.50000")),
            record(96, START, customername="line\nbreak", callergatewayid="a,b"),
            record(95, START, flowno=None, recorded=False)]
    pipe, line = pipe_renderer(4), e_cdr_csv_renderer(4)
    for cdr in cdrs:
        assert pipe(cdr) == pipe_line(cdr, 4) + "\n"
        assert line(cdr) == plain_csv(cdr)
        assert jsonl_line(cdr) == plain_jsonl(cdr)
    shard = record(1, START, flowno=FLOWNO)  # what a --workers shard renders
    assert pipe(shard) == pipe_line(shard, 4) + "\n" and FLOWNO in pipe(shard)


def test_fee_texts_by_value_keep_the_sign_of_zero_and_stay_small() -> None:
    texts = FeeTexts(2, kept=3)
    for fee in ["0", "-0", "0.000", "-0.0", "1.005", "1.0050", "0.125", "2", "-1.5"] * 2:
        assert texts.text(Decimal(fee)) == f"{Decimal(fee):.2f}"
    assert 0 < len(texts.known) <= 3


def test_the_pipe_line_is_written_from_the_field_table() -> None:
    from decimal import Decimal

    from cdr_writer import PIPE_FIELDS, Cdr, pipe_line

    # every field its own value: a field out of place cannot pass
    cdr = Cdr(callere164="441", calleee164="8801", starttime=11, stoptime=12, holdtime=13,
              endreason=14, enddirection=2, callergatewayid="IN", calleegatewayid="OUT",
              callerip="203.0.113.1", calleeip="198.51.100.2", customeraccount="ACME",
              feeprefix="880", feetime=60, fee=Decimal("0.5"), callerpdd=7, billingmode=1,
              flowno=9)
    fields = pipe_line(cdr, 2).split("|")
    assert len(fields) == len(PIPE_FIELDS) == 18 == len(set(fields))
    for (name, _), value in zip(PIPE_FIELDS, fields, strict=True):
        expected = "0.50" if name == "fee" else str(cdr.get(name))
        assert value == expected, name
    # under the vos3000 profile flowNo is the INVITE's number, a suppressed record's is empty
    cdr.vos = VosColumns(flowno=321)
    assert pipe_line(cdr, 2).endswith("|1|321")
    cdr.vos, cdr.flowno = None, None
    assert pipe_line(cdr, 2).endswith("|1|None")  # explain shows it as an empty field
