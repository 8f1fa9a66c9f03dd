"""The explanation in a terminal (rich): header, ladder with the core's events, CDR, recording."""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from simulator._console import markup_safe
from simulator.explain._model import Entry, Explanation, time_label

STYLES = {
    "signalling": "cyan", "refusal": "bold red", "server-ending": "bold magenta",
    "billing": "yellow", "timer": "blue", "check": "green", "routing": "bright_blue",
    "media": "bright_magenta", "ending": "bold white on red", "wire": "dim",
}
LANE_STYLES = ("green", "white", "bright_cyan", "bright_yellow", "bright_magenta", "orange3")


def _collapse(entries: list[Entry]) -> list[Entry]:
    """Consecutive passed setup checks become one line (the failing one keeps its own)."""
    out: list[Entry] = []
    run: list[Entry] = []

    def flush() -> None:
        if not run:
            return
        rows = f"{run[0].details['row']}-{run[-1].details['row']}" if len(run) > 1 else \
            str(run[0].details["row"])
        out.append(Entry(run[0].t, run[0].time_ms, "check", message="setup_check",
                         text=f"setup checks rows {rows} passed", details={}))
        run.clear()

    for entry in entries:
        if entry.message == "setup_check" and entry.details.get("passed"):
            run.append(entry)
            continue
        flush()
        out.append(entry)
    flush()
    return out


class _Ladder:
    def __init__(self, lanes: list[str], labels: list[str]) -> None:
        self.lanes = lanes
        longest = max((len(label) for label in labels), default=0)
        self.width = max(14, min(longest + 5, 32), *(len(lane) + 4 for lane in lanes))
        self.centers = [i * self.width + self.width // 2 for i in range(len(lanes))]
        self.total = self.width * len(lanes)

    def _base(self) -> list[str]:
        cells = [" "] * self.total
        for center in self.centers:
            cells[center] = "│"
        return cells

    def heads(self) -> Text:
        text = Text()
        for i, lane in enumerate(self.lanes):
            text.append(lane.center(self.width), style=f"bold {LANE_STYLES[i % len(LANE_STYLES)]}")
        return text

    def message(self, entry: Entry) -> str:
        cells = self._base()
        a = self.centers[self.lanes.index(entry.src)]
        b = self.centers[self.lanes.index(entry.dst)]
        left, right = min(a, b), max(a, b)
        for x in range(left + 1, right):
            cells[x] = "─"
        if b > a:
            cells[right - 1] = ">"
        else:
            cells[left + 1] = "<"
        label = entry.message
        room = right - left - 4
        if len(label) > room:
            label = label[: max(room - 1, 1)] + "…"
        start = left + 1 + (right - left - 1 - len(label)) // 2
        for i, char in enumerate(label):
            cells[start + i] = char
        return "".join(cells)

    def event(self) -> str:
        cells = self._base()
        cells[self.centers[self.lanes.index("switch")]] = "◆"
        return "".join(cells)


def render_terminal(explanation: Explanation, console: Console, time_mode: str = "absolute"
                    ) -> None:
    header = _header(explanation)
    console.print(header.renderables[0])
    if explanation.verdict:  # the answer first: the ladder and the CDR below are the evidence
        console.print(Panel(Text(explanation.verdict), title="verdict", title_align="left",
                            border_style="bold", width=min(console.width, 110)),
                      soft_wrap=False)
    for part in header.renderables[1:]:
        console.print(part)
    console.print(_ladder(explanation, time_mode))
    console.print(_cdr_table(explanation))
    recorded = explanation.recorded
    console.print(Text(recorded["text"], style="bold green" if recorded["recorded"]
                       else "bold red"))
    console.print(Text(f"pipe line: {explanation.pipe_line}", style="dim"))
    for change in explanation.what_if:
        console.print(what_if_table(change))


def _header(ex: Explanation) -> Group:
    table = Table(title=markup_safe(f"call {ex.call_id} — scenario {ex.scenario}"),
                  show_header=False, title_justify="left", title_style="bold")
    table.add_column("what", style="bold")
    table.add_column("value")
    h = ex.header
    rows = [
        ("caller", f"{h['caller']} via {h['mapping_gateway']} (source IP {h['source_ip']})"),
        ("callee", h["callee"]), ("account", h["account"]),
        ("gateways tried", ", ".join(h["gateways_tried"]) or "none"),
        ("INVITE", h["invite"]), ("answer", h["answer"]), ("release", h["release"]),
        ("call duration", h["call_duration"]), ("holdTime", h["hold_time"]),
        ("ended", h["ended"]),
    ]
    for what, value in rows:
        table.add_row(what, Text(value))
    parts: list[Table | Text] = [table]
    if ex.description:
        parts.append(Text(ex.description, style="italic"))
    return Group(*parts)


def _ladder(ex: Explanation, time_mode: str) -> Table:
    ladder = _Ladder(ex.lanes, [e.message for e in ex.messages])
    table = Table(title="ladder" + (" (H.225 on H.323 legs)" if "h323" in
                                    ex.protocols.values() else ""),
                  title_justify="left", title_style="bold", box=None, pad_edge=False)
    table.add_column({"absolute": "time (UTC)", "relative": "+s from INVITE",
                      "delta": "Δs"}[time_mode], justify="right", no_wrap=True)
    table.add_column(ladder.heads(), no_wrap=True)
    table.add_column("what the switch did and why")
    previous = ex.invite_ms
    for entry in _collapse(ex.entries):
        label = time_label(entry.time_ms, ex.invite_ms, previous, time_mode)
        previous = entry.time_ms
        style = STYLES.get(entry.kind, "")
        if entry.is_message:
            table.add_row(label, Text(ladder.message(entry), style=style), "")
        else:
            table.add_row(label, Text(ladder.event(), style="dim"), Text(entry.text, style=style))
    return table


def _cdr_table(ex: Explanation) -> Table:
    table = Table(title="CDR, field by field", title_justify="left", title_style="bold")
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", no_wrap=True)
    table.add_column("where it comes from")
    for item in ex.cdr:
        table.add_row(item.name, Text(str(item.value)), Text(item.provenance))
    return table


def what_if_table(change: dict) -> Table:
    table = Table(title=markup_safe(f"what if {', '.join(change['changes'])}"),
                  title_justify="left", title_style="bold")
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("as run")
    table.add_column("what if")
    table.add_column("why, what if")
    for diff in change["differences"]:
        table.add_row(diff["field"], Text(str(diff["before"])), Text(str(diff["after"])),
                      Text(diff["why_after"]))
    if not change["differences"]:
        table.add_row("(no CDR field differs)", "", "", "")
    table.add_row("decided by", Text(change["before_ending"]), Text(change["after_ending"]), "",
                  style="italic")
    return table
