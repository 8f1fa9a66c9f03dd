"""The sinks' renderers (fee texts remembered, the CSV writer's line taken as it is written)
give what the plain functions give: ``pipe_line``, ``csv.writer`` on ``e_cdr_csv_values`` and
``json.dumps``."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

from cdr_writer import FLOWNO, Cdr, _sinks, pipe_line
from cdr_writer._sinks import (
    FeeTexts,
    e_cdr_csv_renderer,
    e_cdr_csv_values,
    jsonl_line,
    pipe_renderer,
)
from simulator.core._record import E_CDR_NAMES

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
    return [record(i, START + 1000 + i) for i in range(100)]


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


def test_fee_texts_by_value_keep_the_sign_of_zero_and_stay_small(monkeypatch) -> None:
    monkeypatch.setattr(_sinks, "_FEE_TEXTS_KEPT", 3)
    texts = FeeTexts(2)

    def text(fee: Decimal) -> str:
        found = texts.get(fee)
        if found is None or (not fee and fee.is_signed()):
            found = texts.miss(fee)
        return found

    for fee in ["0", "-0", "0.000", "-0.0", "1.005", "1.0050", "0.125", "2", "-1.5"] * 2:
        assert text(Decimal(fee)) == f"{Decimal(fee):.2f}"
    assert len(texts) <= 3
