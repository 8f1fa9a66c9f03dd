"""The run summary, the one place it is made: totals, the per-gateway table and the alarms.

``vossim run`` and ``vossim live`` print it (``print_summary``) from the same ``RunStats``.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from simulator._console import markup_safe
from simulator.core import DIRECTION_NAMES
from simulator.run._stats import RunStats

_DIRECTIONS = tuple(DIRECTION_NAMES.items())


def print_summary(console: Console, stats: RunStats, title: str, places: int) -> None:
    """The whole summary: totals, the gateway table (if any gateway saw a call), ALARM lines."""
    console.print(summary_table(stats, title, places))
    gateways = gateway_table(stats)
    if gateways is not None:
        console.print(gateways)
    for alarm in stats.alarms():
        console.print(f"ALARM {alarm}", markup=False, highlight=False)


def summary_table(stats: RunStats, title: str, places: int) -> Table:
    """Calls, ASR, ACD, the endDirection mix, endReason counts and the money."""
    table = Table(title=markup_safe(title), show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    table.add_row("calls", f"{stats.calls:,}")
    table.add_row("answered", f"{stats.answered:,}")
    table.add_row("ASR", f"{stats.asr:.1%}")
    table.add_row("ACD", f"{stats.acd:.1f} s")
    for direction, name in _DIRECTIONS:
        count = stats.directions.get(direction, 0)
        share = count / stats.calls if stats.calls else 0.0
        table.add_row(f"endDirection {direction} ({name})", f"{count:,} ({share:.1%})")
    for (code, name), count in sorted(stats.reasons.items()):
        table.add_row(f"endReason {code} {name}", f"{count:,}")
    table.add_row("records written", f"{stats.recorded:,}")
    table.add_row("money charged", f"{stats.charged:.{places}f}")
    table.add_row("suppressed records", f"{stats.suppressed:,}")
    table.add_row("revenue gap", f"{stats.revenue_gap:.{places}f}")
    return table


def gateway_table(stats: RunStats) -> Table | None:
    """One row per gateway (mapping gateways: customers; routing gateways: vendors)."""
    if not stats.gateways:
        return None
    table = Table(title="per gateway", title_justify="left")
    table.caption = ("in: mapping gateway, out: routing gateway; c/e/s: answered calls ended by "
                     "caller/callee/server; short hangups as shares of answered calls")
    for name, justify in (("gateway", "left"), ("calls", "right"),
                          ("ASR", "right"), ("ACD", "right"), ("c/e/s %", "right"),
                          ("callee<5s", "right"), ("caller<3s", "right")):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for (side, name), gateway in sorted(stats.gateways.items()):
        ended = "/".join(f"{100 * gateway.share(gateway.ended_by[d]):.0f}" for d, _ in _DIRECTIONS)
        label = f"{'in' if side == 'caller' else 'out'} {name}"
        table.add_row(markup_safe(label), f"{gateway.calls:,}", f"{gateway.asr:.1%}",
                      f"{gateway.acd:.1f} s", ended,
                      f"{gateway.share(gateway.short_callee_hangups):.1%}",
                      f"{gateway.share(gateway.short_caller_hangups):.1%}")
    return table
