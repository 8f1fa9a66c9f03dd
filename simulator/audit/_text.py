"""Terminal views of a reproduction and of an audit (rich tables; every value is plain text)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from ._compare import DIFFERENT, EQUAL
from ._reproduce import Reproduction

_STYLE = {EQUAL: "green", DIFFERENT: "bold red"}


def _shown(value: Any) -> str:
    if value is None:
        return ""
    return str(value)


def print_reproduction(result: Reproduction, out: Console, everything: bool = True) -> None:
    row = result.row
    counts = {status: sum(1 for f in result.fields if f.status == status)
              for status in (EQUAL, DIFFERENT, "not determinable")}
    out.print(Text(f"{row.label}: {result.plan.situation} (profile {result.profile}"
                   + (f", with {result.window_rows} other row(s) of the account" if
                      result.window_rows else "") + ")"))
    table = Table(title=None, show_lines=False)
    for column in ("field", "CDR row", "replay", "verdict"):
        table.add_column(column, overflow="fold")
    for verdict in result.fields:
        if not everything and verdict.status != DIFFERENT:
            continue
        what = verdict.status + (f": {verdict.reason}" if verdict.reason else "")
        table.add_row(Text(verdict.name), Text(_shown(verdict.original)),
                      Text(_shown(verdict.simulated)),
                      Text(what, style=_STYLE.get(verdict.status, "dim")))
    out.print(table)
    out.print(Text(f"{counts[EQUAL]} equal, {counts[DIFFERENT]} different, "
                   f"{counts['not determinable']} not determinable from a scenario"))
    for note in result.notes:
        out.print(Text(f"note: {note}"))


def print_audit(report: dict[str, Any], out: Console, limit: int = 50) -> None:
    out.print(Text(f"rows: {report['rows']:,}   consistent: {report['consistent']:,}   "
                   f"different: {len(report['differences']):,}   "
                   f"({report['rows_per_second']:,} rows/s)"))
    if report["by_field"]:
        out.print(_counts("different by field", "field", report["by_field"]))
        out.print(_counts("different by cause", "cause", report["by_cause"]))
    if report["money"]:
        table = Table(title="money at stake (fee in the CDRs - fee replayed)")
        table.add_column("customer")
        table.add_column("rows", justify="right")
        table.add_column("difference", justify="right")
        for customer, money in report["money"].items():
            table.add_row(Text(customer), f"{money['rows']:,}", Text(money["difference"]))
        out.print(table)
    differences = report["differences"]
    if differences:
        table = Table(title=f"differing rows (first {min(limit, len(differences))} of "
                            f"{len(differences):,})")
        for column in ("flowno", "field", "CDR", "replay", "why"):
            table.add_column(column, overflow="fold")
        for difference in differences[:limit]:
            for name, values in difference["fields"].items():
                table.add_row(Text(_shown(difference["flowno"])), Text(name),
                              Text(_shown(values["cdr"])), Text(_shown(values["simulated"])),
                              Text(values.get("why", "")))
        out.print(table)
    for note in report.get("notes", []):
        out.print(Text(f"note: {note}"))


def _counts(title: str, what: str, counts: dict[str, int]) -> Table:
    """A two-column table: each name (text from the rows, never markup) and its row count."""
    table = Table(title=title)
    table.add_column(what)
    table.add_column("rows", justify="right")
    for name, count in counts.items():
        table.add_row(Text(name), f"{count:,}")
    return table
