"""``vossim analyze``: ASR, ACD, end reasons, fees and the seeds' alarms from any VOS3000 CDRs.

``analyze(paths)`` reads pipe files, e_cdr CSV, SQLite, MySQL/MariaDB, JSON lines or Parquet
(see ``_sources``), streams them through polars into small aggregates (``_report``) and returns
the report as plain data; ``_text``, ``_plots`` and ``_html`` present it.

Row reader API (for ``explain --cdr``, ``reproduce`` and ``audit``; see ``_rows``):
``read_cdr_rows(source, warnings=None) -> Iterator[dict[str, object]]`` gives every CDR of a file,
directory or ``mysql://`` URL keyed by lower-case e_cdr column names, whatever its shape;
``parse_cdr_row(text) -> dict[str, object]`` parses one row given as text (CSV/TSV line, JSON
object, pipe line). Both raise ``SourceError``.
"""

from __future__ import annotations

import time
from typing import Any

from simulator.analyze._alarms import (
    AlarmSyntaxError,
    Threshold,
    parse_threshold,
    seed_alarms,
    threshold_alarms,
)
from simulator.analyze._layouts import is_mangled_number
from simulator.analyze._reasons import (
    OBSERVED,
    OBSERVED_ROWS,
    reason_category,
    reason_name,
    resolve_style,
)
from simulator.analyze._report import Aggregates, build_report
from simulator.analyze._rows import (
    mangled_warning,
    parse_cdr_row,
    parse_row_and_shape,
    read_cdr_rows,
)
from simulator.analyze._shapes import accepted_shapes_text
from simulator.analyze._sources import SourceError, find_sources
from simulator.analyze._text import print_report

__all__ = [
    "OBSERVED",
    "OBSERVED_ROWS",
    "AlarmSyntaxError",
    "SourceError",
    "Threshold",
    "accepted_shapes_text",
    "analyze",
    "find_sources",
    "is_mangled_number",
    "parse_cdr_row",
    "parse_row_and_shape",
    "parse_threshold",
    "print_report",
    "read_cdr_rows",
    "reason_category",
    "reason_name",
    "resolve_style",
]

MAX_PREFIX_DIGITS = 32  # a number has at most 32 digits (E.164 has 15)



def analyze(paths: list[str], *, thresholds: list[Threshold] | None = None, min_calls: int = 1,
            prefix_digits: int = 4, reason_codes: str = "auto") -> dict[str, Any]:
    """The report of every CDR under ``paths`` (files, vossim output directories, mysql:// URLs)."""
    if not 1 <= prefix_digits <= MAX_PREFIX_DIGITS:
        raise AlarmSyntaxError(f"expected --prefix-digits from 1 to {MAX_PREFIX_DIGITS}, found "
                               f"{prefix_digits:,}")
    began = time.perf_counter()
    sources = find_sources(paths)
    aggregates = Aggregates(prefix_digits=prefix_digits)
    for source in sources:
        for batch in source.batches():
            aggregates.add(batch)
    report = build_report(aggregates, reason_codes)
    report["sources"] = [{"path": s.label, "format": s.kind, "cdrs": s.rows} for s in sources]
    report["alarms"] = seed_alarms(report, min_calls) + threshold_alarms(
        report, thresholds or [], min_calls)
    warnings = list(report.get("warnings", []))
    for source in sources:
        for column, (count, example) in source.mangled.items():
            warnings.append(mangled_warning(
                source.label, column, int(count), str(example),
                "those rows are left out of the per-prefix figures" if column == "calleee164"
                else "not grouped by"))
        if source.skipped:
            rows = "row" if source.skipped == 1 else "rows"
            warnings.append(f"{source.label}: skipped {source.skipped:,} {rows} without "
                            "stoptime, holdtime, enddirection or endreason (not CDRs)")
    if report["calls"] and not report["zero_duration_rows"]:
        warnings.append(
            "no zero-duration rows: failed attempts are missing from these CDRs (a switch with "
            "SERVER_BILLING_RECORD_ZERO_HOLD_TIME = 0 does not record them), so ASR looks better "
            "than it is and counts only the calls that were answered")
    report["warnings"] = warnings
    elapsed = time.perf_counter() - began
    report["analysed"] = {"cdrs": aggregates.rows, "seconds": round(elapsed, 3),
                          "cdrs_per_second": round(aggregates.rows / elapsed) if elapsed else 0}
    return report
