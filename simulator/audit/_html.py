"""``vossim audit --html``: one self-contained page (no scripts, no external files); every value
from the CDRs or the configuration is escaped."""

from __future__ import annotations

import os
from html import escape
from pathlib import Path
from typing import Any

MAX_ROWS_SHOWN = 10_000

_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;
text-align:left;vertical-align:top}th{background:#f3f3f3}.n{text-align:right}
.ok{color:#186a3b}.bad{color:#a93226}"""


def _table(headers: list[str], rows: list[list[Any]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td{' class=n' if i in numeric else ''}>"
                         f"{escape('' if v is None else str(v))}</td>"
                         for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: dict[str, Any]) -> str:
    differences = report["differences"]
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
             f"<title>vossim audit</title><style>{_STYLE}</style></head><body>",
             "<h1>vossim audit</h1>",
             f"<p>Configuration <code>{escape(str(report.get('config', '')))}</code>, profile "
             f"{escape(str(report.get('profile', '')))}.</p>",
             f"<p><b>{report['rows']:,}</b> rows, <span class=ok><b>{report['consistent']:,}"
             f"</b> consistent</span>, <span class=bad><b>{len(differences):,}</b> "
             f"different</span>.</p>"]
    if report["by_field"]:
        parts.append("<h2>Different by field</h2>" + _table(
            ["field", "rows"], [[k, f"{v:,}"] for k, v in report["by_field"].items()], {1}))
        parts.append("<h2>Different by cause</h2>" + _table(
            ["cause", "rows"], [[k, f"{v:,}"] for k, v in report["by_cause"].items()], {1}))
    if report["money"]:
        parts.append("<h2>Money at stake</h2><p>The fee in the CDRs less the fee the "
                     "configuration gives, per customer.</p>" + _table(
                         ["customer", "rows", "difference"],
                         [[k, f"{v['rows']:,}", v["difference"]]
                          for k, v in report["money"].items()], {1, 2}))
    if differences:
        shown = differences[:MAX_ROWS_SHOWN]
        rows = [[d["flowno"], name, values["cdr"], values["simulated"], values.get("why", "")]
                for d in shown for name, values in d["fields"].items()]
        more = "" if len(shown) == len(differences) else \
            f" (the first {len(shown):,}; --json lists all {len(differences):,})"
        parts.append(f"<h2>Differing rows{escape(more)}</h2>"
                     + _table(["flowno", "field", "CDR", "replay", "why"], rows))
    for note in report.get("notes", []):
        parts.append(f"<p>Note: {escape(note)}</p>")
    parts.append("</body></html>\n")
    return "".join(parts)


def write_html(report: dict[str, Any], path: Path) -> Path:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(render_html(report), encoding="utf-8")
    os.replace(partial, path)
    return path
