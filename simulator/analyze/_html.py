"""``--html``: the report's tables and plots in one self-contained page (PNG inlined as base64)."""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path
from typing import Any

from simulator.analyze._plots import SMALL_SAMPLE, render
from simulator.analyze._report import DIRECTIONS
from simulator.analyze._text import BY_KEYS

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f0f0f0; }
.alarm { color: #b00; } .warning { color: #a60; }
img { max-width: 100%; display: block; margin: 0.5em 0 1.5em; }
nav.toc { background: #f7f7f5; border: 1px solid #ddd; padding: 0.4em 1.2em;
          display: inline-block; }
nav.toc ul { margin: 0.3em 0; padding-left: 1.2em; columns: 2; column-gap: 2.5em; }
p.note { color: #555; font-size: 0.9em; }
"""


def _section(sections: list[tuple[str, str]], title: str) -> str:
    """An ``<h2>`` with an anchor, listed in the page's table of contents."""
    anchor = "s" + str(len(sections) + 1)
    sections.append((anchor, title))
    return f"<h2 id='{anchor}'>{escape(title)}</h2>"


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for value in row:
            numeric = isinstance(value, int | float) or (isinstance(value, str) and value[:1]
                                                         .isdigit())
            cells.append(f'<td{" class=n" if numeric else ""}>{escape(str(value))}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _group_rows(report: dict[str, Any], by: str) -> tuple[list[str], list[list[Any]]]:
    headers = [by, "calls", "answered", "ASR", "ACD", "NER", "PDD", "fee", "caller/callee/server",
               "callee<5s", "caller<3s"]
    rows = []
    for entry in report[BY_KEYS[by]]:
        label = (f"{'in' if entry['side'] == 'caller' else 'out'} {entry['name']}"
                 if by == "gateway" else str(entry[by]))
        ended = "/".join(str(entry["ended_by"][d]) for d in DIRECTIONS.values())
        rows.append([label, f"{entry['calls']:,}", f"{entry['answered']:,}",
                     f"{entry['asr']:.1%}", f"{entry['acd']:.1f} s", f"{entry['ner']:.1%}",
                     f"{entry['pdd_ms']:,.0f} ms", f"{entry['fee']:,.2f}", ended,
                     f"{entry['short_callee_hangups']:.1%}",
                     f"{entry['short_caller_hangups']:.1%}"])
    return headers, rows


def page(report: dict[str, Any], by: list[str], small: int = SMALL_SAMPLE) -> str:
    """The page: a table of contents, the overview, the plots, then the long tables."""
    head = ["<!doctype html><html><head><meta charset='utf-8'>",
            "<title>vossim analyze</title>", f"<style>{_STYLE}</style></head><body>",
            "<h1>CDR analysis</h1>"]
    sections: list[tuple[str, str]] = []
    parts: list[str] = []
    sources = ", ".join(f"{s['path']} ({s['format']}, {s['cdrs']:,} CDRs)"
                        for s in report["sources"])
    parts.append(f"<p>Read: {escape(sources)}</p>")
    for alarm in report["alarms"]:
        parts.append(f"<p class=alarm>ALARM {escape(alarm['message'])}</p>")
    for warning in report["warnings"]:
        parts.append(f"<p class=warning>WARNING {escape(warning)}</p>")
    pdd = report.get("pdd", {"mean_ms": 0, "max_ms": 0})
    overview = [["calls", f"{report['calls']:,}"], ["answered", f"{report['answered']:,}"],
                ["ASR", f"{report['asr']:.1%}"], ["ACD", f"{report['acd']:.1f} s"],
                ["NER", f"{report['ner']:.1%}"],
                ["PDD", f"{pdd['mean_ms']:,.0f} ms mean, {pdd['max_ms']:,} ms max"]]
    if report["calls"]:
        overview += [["money charged", f"{report['charged']:,.2f}"],
                     ["suppressed records", f"{report['suppressed']:,}"],
                     ["revenue gap", f"{report['revenue_gap']:,.2f}"],
                     ["peak concurrent calls", f"{report['concurrency']['peak']:,} at "
                                               f"{report['concurrency']['peak_at']}"]]
    parts += [_section(sections, "Overview"), _table(["", "value"], overview)]
    images = render(report, small)
    if images:  # the plots before the long tables
        parts.append(_section(sections, "Plots"))
        parts.append(f"<p class=note>Hatched hours and cells have fewer than {small} calls: "
                     "their ASR and ACD are small samples.</p>")
        for file_name, data in images.items():
            encoded = base64.b64encode(data).decode("ascii")
            parts.append(f"<img alt='{escape(file_name)}' src='data:image/png;base64,{encoded}'>")
    if report["calls"]:
        parts.append(_section(sections, "endReason x endDirection"))
        cells: dict[tuple[int, str], dict[int, int]] = {}
        for cell in report["pivot"]:
            cells.setdefault((cell["code"], cell["name"]), {})[cell["enddirection"]] = \
                cell["calls"]
        parts.append(_table(["endReason", *DIRECTIONS.values(), "total"], [
            [f"{code} {name}", *(counts.get(d, 0) for d in DIRECTIONS), sum(counts.values())]
            for (code, name), counts in sorted(cells.items())]))
        for name in dict.fromkeys([*by, "gateway", "customer", "prefix", "hour"]):
            headers, rows = _group_rows(report, name)
            parts += [_section(sections, f"Per {name}"), _table(headers, rows)]
        margins = report.get("margins", {})
        if margins.get("vendor_side"):  # the CDRs carry what each vendor charged
            for key, label in (("customers", "customer"), ("vendors", "vendor"),
                               ("prefixes", "prefix")):
                parts += [_section(sections, f"Margin (fee - agentfee) per {label}"), _table(
                    [label, "calls", "answered", "fee", "agentfee", "margin", "margin %"],
                    [[e[label], e["calls"], e["answered"], f"{e['fee']:.4f}",
                      f"{e['agentfee']:.4f}", f"{e['margin']:.4f}", f"{e['margin_share']:.1%}"]
                     for e in [*margins[key], {label: "all calls", **margins["total"]}]])]
    toc = "".join(f"<li><a href='#{anchor}'>{escape(title)}</a></li>"
                  for anchor, title in sections)
    head.append(f"<nav class=toc><b>Contents</b><ul>{toc}</ul></nav>")
    parts.append("</body></html>")
    return "\n".join(head + parts)


def write_html(report: dict[str, Any], path: Path, by: list[str],
               small: int = SMALL_SAMPLE) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(page(report, by, small), encoding="utf-8")
    partial.replace(path)
    return path
