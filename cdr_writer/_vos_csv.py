"""``--format vos-csv``: the comma-separated export billing tools fetch from a VOS3000.

Real exports are files ``cdr_YYYYMMDD_HHMMSS.csv`` (named by the moment each was opened), cut
hourly, with the 52 ``e_cdr`` columns below in table order and no header line; a later VOS3000
adds ``transactionid`` (53 columns). Options: ``--vos-csv-header`` writes the column names as a
first line, ``--vos-csv-transactionid`` the 53rd column.

A file opens with the first record of its UTC hour and takes that record's stoptime as its name
(the simulated switch's clock), so the same scenario and seed give the same file names.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from cdr_writer._formats import CdrFormat, SinkContext, register
from cdr_writer._sinks import _HOUR_MS, FeeTexts, _CsvLine, _Rotating
from simulator.core import E_CDR_NAMES, EXPORT_52, EXPORT_53, Cdr

VOS_CSV_COLUMNS: tuple[str, ...] = EXPORT_52  # the core's record says which columns
VOS_CSV_COLUMNS_53: tuple[str, ...] = EXPORT_53
_MONEY = frozenset(("fee", "agentfee"))


def vos_csv_renderer(places: int, columns: tuple[str, ...] = VOS_CSV_COLUMNS
                     ) -> Callable[[Cdr], str]:
    """One export line per record: ``columns`` of its e_cdr row, fees with ``places`` places."""
    fee_text = FeeTexts(places).text
    line = _CsvLine()
    picks = tuple(E_CDR_NAMES.index(name) for name in columns)
    money = frozenset(i for i, name in enumerate(columns) if name in _MONEY)

    def render(cdr: Cdr) -> str:
        row = cdr.e_cdr_row()
        values: list[object] = []
        for i, column in enumerate(picks):
            value = row[column]
            if i in money and isinstance(value, Decimal):
                value = fee_text(value)
            values.append("" if value is None else value)
        return line(values)

    return render


class VosCsvSink:
    """Hourly files ``cdr_YYYYMMDD_HHMMSS.csv``: the export's 52 (or 53) columns."""

    def __init__(self, context: SinkContext) -> None:
        columns = VOS_CSV_COLUMNS_53 if context.options.get("vos-csv-transactionid") \
            else VOS_CSV_COLUMNS
        header = ",".join(columns) + "\r\n" if context.options.get("vos-csv-header") else None
        self.files = _Rotating(context.directory, context.flush, _HOUR_MS, "%Y%m%d_%H%M%S",
                               "cdr_{key}.csv", header=header)
        self.render = vos_csv_renderer(context.fee_places, columns)

    def write(self, cdr: Cdr) -> None:
        self.files.write(cdr.stoptime, self.render(cdr))

    def close(self) -> None:
        self.files.close()


register(CdrFormat(
    "vos-csv", VosCsvSink, "hourly export files cdr_YYYYMMDD_HHMMSS.csv, the 52 columns billing "
    "tools import (no header unless --vos-csv-header; --vos-csv-transactionid: 53)",
    files=("cdr_*_*.csv",), options=("vos-csv-header", "vos-csv-transactionid")))
