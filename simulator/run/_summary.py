"""The per-gateway part of the run summary: ASR, ACD, who hung up, and the seeds' alarms."""

from __future__ import annotations

from rich.table import Table

from simulator.transports._simulated import RunStats

_DIRECTIONS = ((0, "caller"), (1, "callee"), (2, "server"))


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
