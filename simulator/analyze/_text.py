"""The report on a terminal: rich tables, the same figures the run summary shows."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from simulator._console import markup_safe
from simulator.analyze._report import DIRECTIONS

BY_KEYS = {"gateway": "gateways", "customer": "customers", "prefix": "prefixes", "hour": "hours"}


def overview_table(report: dict[str, Any], places: int = 2) -> Table:
    table = Table(title="CDR analysis", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    calls = report["calls"]
    table.add_row("calls", f"{calls:,}")
    table.add_row("answered", f"{report['answered']:,}")
    table.add_row("ASR", f"{report['asr']:.1%}")
    table.add_row("ACD", f"{report['acd']:.1f} s")
    table.add_row("NER", f"{report['ner']:.1%}")
    pdd = report["pdd"]
    table.add_row("PDD (callerpdd)", f"{pdd['mean_ms']:,.0f} ms mean, {pdd['max_ms']:,} ms max")
    for code, entry in sorted(report["by_end_direction"].items()):
        table.add_row(f"endDirection {code} ({entry['name']})",
                      f"{entry['calls']:,} ({entry['share']:.1%})")
    for entry in report["by_end_reason"]:
        table.add_row(markup_safe(f"endReason {entry['code']} {entry['name']}"),
                      f"{entry['calls']:,}")
    table.add_row("endReason numbering", report.get("reason_codes", "auto"))
    table.add_row("records written", f"{report['records']:,}")
    table.add_row("money charged", f"{report['charged']:.{places}f}")
    table.add_row("suppressed records", f"{report['suppressed']:,}")
    table.add_row("revenue gap", f"{report['revenue_gap']:.{places}f}")
    fees = report["fees"]
    table.add_row("billed time", f"{fees['billed_seconds']:,} s")
    table.add_row("fee per answered minute", f"{fees['per_answered_minute']:.4f}")
    short = report["short_calls"]
    table.add_row("answered under 3 / 5 / 10 / 30 s",
                  " / ".join(f"{short[k]:.1%}" for k in ("under_3s", "under_5s", "under_10s",
                                                         "under_30s")))
    concurrency = report["concurrency"]
    table.add_row("peak concurrent calls", f"{concurrency['peak']:,} at {concurrency['peak_at']}")
    table.add_row("first / last CDR (stoptime)",
                  f"{report['time_range']['first_stop']} / {report['time_range']['last_stop']}")
    return table


def pivot_table(report: dict[str, Any]) -> Table:
    table = Table(title="endReason x endDirection (calls)", title_justify="left")
    table.add_column("endReason")
    for name in DIRECTIONS.values():
        table.add_column(name, justify="right")
    table.add_column("total", justify="right")
    cells: dict[tuple[int, str], dict[int, int]] = {}
    for cell in report["pivot"]:
        cells.setdefault((cell["code"], cell["name"]), {})[cell["enddirection"]] = cell["calls"]
    for (code, name), counts in sorted(cells.items()):
        table.add_row(markup_safe(f"{code} {name}"),
                      *(f"{counts.get(d, 0):,}" if counts.get(d) else "" for d in DIRECTIONS),
                      f"{sum(counts.values()):,}")
    return table


def group_table(report: dict[str, Any], by: str) -> Table:
    key = BY_KEYS[by]
    table = Table(title=f"per {by}", title_justify="left")
    if by == "gateway":
        table.caption = ("in: mapping gateway, out: routing gateway; c/e/s: answered calls ended "
                         "by caller/callee/server; short hangups as shares of answered calls")
    for name in (by, "calls", "ASR", "ACD", "NER", "PDD", "fee", "c/e/s %", "callee<5s",
                 "caller<3s"):
        table.add_column(name, justify="left" if name == by else "right", no_wrap=True)
    for entry in report[key]:
        if by == "gateway":
            label = f"{'in' if entry['side'] == 'caller' else 'out'} {entry['name']}"
        else:
            label = str(entry[by if by != "customer" else "customer"])
        answered = entry["answered"]
        ended = "/".join(f"{100 * entry['ended_by'][d] / answered:.0f}" if answered else "0"
                         for d in DIRECTIONS.values())
        table.add_row(markup_safe(label), f"{entry['calls']:,}", f"{entry['asr']:.1%}",
                      f"{entry['acd']:.1f} s",
                      f"{entry['ner']:.1%}", f"{entry['pdd_ms']:,.0f} ms", f"{entry['fee']:,.2f}",
                      ended, f"{entry['short_callee_hangups']:.1%}",
                      f"{entry['short_caller_hangups']:.1%}")
    return table


def margin_tables(report: dict[str, Any], places: int = 4) -> list[Table]:
    """fee − agentfee per customer, vendor and prefix (only when the CDRs carry a vendor side)."""
    margins = report["margins"]
    tables = []
    for key, label in (("customers", "customer"), ("vendors", "vendor"), ("prefixes", "prefix")):
        table = Table(title=f"margin (fee - agentfee) per {label}", title_justify="left")
        for name in (label, "calls", "answered", "fee", "agentfee", "margin", "margin %"):
            table.add_column(name, justify="left" if name == label else "right", no_wrap=True)
        for entry in [*margins[key], {label: "all calls", **margins["total"]}]:
            table.add_row(markup_safe(entry[label]), f"{entry['calls']:,}",
                          f"{entry['answered']:,}",
                          f"{entry['fee']:.{places}f}", f"{entry['agentfee']:.{places}f}",
                          f"{entry['margin']:.{places}f}", f"{entry['margin_share']:.1%}")
        tables.append(table)
    return tables


def print_report(report: dict[str, Any], console: Console, by: list[str]) -> None:
    for source in report["sources"]:
        console.print(f"read {source['path']} ({source['format']}): {source['cdrs']:,} CDRs",
                      markup=False, highlight=False)
    console.print(overview_table(report))
    if report["calls"]:
        console.print(pivot_table(report))
        for name in by:
            console.print(group_table(report, name))
        if report["margins"]["vendor_side"]:
            for table in margin_tables(report):
                console.print(table)
    for alarm in report["alarms"]:
        console.print(f"ALARM {alarm['message']}", markup=False, highlight=False)
    for warning in report["warnings"]:
        console.print(f"WARNING {warning}", markup=False, highlight=False)
