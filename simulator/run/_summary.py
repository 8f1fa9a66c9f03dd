"""The run summary, the one place it is made: totals, the per-gateway table and the alarms.

``vossim run`` and ``vossim live`` print it (``print_summary``) from the same ``RunStats``.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from simulator.core._decisions import Party
from simulator.run._stats import GatewayStats, RunStats

_DIRECTIONS = ((0, "caller"), (1, "callee"), (2, "server"))
_SERVER = int(Party.SERVER)

# Alarm thresholds. 25 % is the seeds' own ("server hangup over 25 %: investigate"); for the two
# short-hangup patterns the seeds name no threshold, so an "unusually high share" is taken as
# more than 10 % of the answered calls.
SERVER_HANGUP_ALARM = 0.25
SHORT_HANGUP_ALARM = 0.10


def print_summary(console: Console, stats: RunStats, title: str, places: int) -> None:
    """The whole summary: totals, the gateway table (if any gateway saw a call), ALARM lines."""
    console.print(summary_table(stats, title, places))
    gateways = gateway_table(stats)
    if gateways is not None:
        console.print(gateways)
    for alarm in alarms(stats):
        console.print(f"ALARM {alarm}", markup=False, highlight=False)


def summary_table(stats: RunStats, title: str, places: int) -> Table:
    """Calls, ASR, ACD, the endDirection mix, endReason counts and the money."""
    table = Table(title=title, show_header=False, title_justify="left")
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
        table.add_row(label, f"{gateway.calls:,}", f"{gateway.asr:.1%}",
                      f"{gateway.acd:.1f} s", ended,
                      f"{gateway.share(gateway.short_callee_hangups):.1%}",
                      f"{gateway.share(gateway.short_caller_hangups):.1%}")
    return table


def alarms(stats: RunStats) -> list[str]:
    """The seeds' analysis rules, per gateway, that this run trips."""
    out = []
    for (side, name), gateway in sorted(stats.gateways.items()):
        out.extend(f"{side} gateway {name}: {alarm}" for alarm in gateway_alarms(gateway))
    return out


def gateway_alarms(gateway: GatewayStats) -> list[str]:
    """The alarms of one gateway's answered calls (none if it answered nothing)."""
    if not gateway.answered:
        return []
    out = []
    server = gateway.share(gateway.ended_by[_SERVER])
    if server > SERVER_HANGUP_ALARM:
        out.append(f"server hangups {server:.1%} of answered calls (over "
                   f"{SERVER_HANGUP_ALARM:.0%}): check session timers and prepaid balances")
    callee = gateway.share(gateway.short_callee_hangups)
    if callee > SHORT_HANGUP_ALARM:
        out.append(f"callee hangups under 5 s {callee:.1%} of answered calls: possible CLI or "
                   "spam problem")
    caller = gateway.share(gateway.short_caller_hangups)
    if caller > SHORT_HANGUP_ALARM:
        out.append(f"caller hangups under 3 s {caller:.1%} of answered calls: one-way audio or "
                   "wrong numbers")
    return out
