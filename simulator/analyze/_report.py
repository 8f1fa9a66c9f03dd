"""The analysis: one pass over the CDR batches into small partial aggregates, then the report.

Each batch is reduced by polars to a *cube*: one row per (hour, mapping gateway, routing gateway,
customer, prefix, endDirection, endReason) with the sums the report is made of. Cubes of
successive batches are concatenated and re-reduced, so memory follows the number of distinct
keys, never the number of CDRs. Beside the cube: the hold-time histogram (answered calls, 1 s
bins), the per-second starts and ends of answered calls (concurrency) and the time range.

Definitions (the same as the run summary's):
- answered: starttime != stoptime or holdtime > 0; ASR = answered / calls;
  ACD = Σ holdtime / answered (seconds).
- NER (network effectiveness): calls that reached the user (answered, or ended with an end
  reason of the Normal category: busy, no answer, caller/callee hangup) / calls.
- PDD: mean and maximum callerpdd (ms) of the calls that have one (> 0).
- short calls: shares of answered calls; the seeds' patterns are callee hangups under 5 s and
  caller hangups under 3 s.
- hour: the UTC hour in which the call ended (the hour of its CDR file).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl

from simulator.analyze._reasons import reason_category, reason_name, resolve_style
from simulator.core import DIRECTION_NAMES, SHORT_CALLEE_SECONDS, SHORT_CALLER_SECONDS, ratio

KEYS = ("hour", "callergatewayid", "calleegatewayid", "customeraccount", "agentaccount",
        "prefix", "enddirection", "endreason")
DIRECTIONS = DIRECTION_NAMES
_REDUCE_AT = 200_000  # re-reduce the cube when its pieces add up to this many rows
_HOUR_MS = 3_600_000


@dataclass
class Aggregates:
    """The partial aggregates of every batch seen so far."""

    prefix_digits: int = 4
    pieces: list[pl.DataFrame] = field(default_factory=list)
    holds: list[pl.DataFrame] = field(default_factory=list)
    edges: list[pl.DataFrame] = field(default_factory=list)
    pieces_rows: int = 0
    rows: int = 0
    has_recorded: bool = False
    names: dict[int, str] = field(default_factory=dict)  # endReasonName given by the source
    first_stop: int | None = None
    last_stop: int | None = None
    pdd_max: int = 0

    def add(self, frame: pl.DataFrame) -> None:
        self.rows += frame.height
        answered = (pl.col("starttime") != pl.col("stoptime")) | (pl.col("holdtime") > 0)
        recorded = pl.col("recorded").fill_null(True)
        prefix = pl.when(pl.col("feeprefix") != "").then(pl.col("feeprefix")) \
            .otherwise(pl.col("calleee164").str.slice(0, self.prefix_digits))
        frame = frame.with_columns(
            answered=answered, recorded=recorded, prefix=prefix,
            hour=(pl.col("stoptime") // _HOUR_MS) * _HOUR_MS,
            fee=pl.col("fee").fill_null(0.0), feetime=pl.col("feetime").fill_null(0),
            agentfee=pl.col("agentfee").fill_null(0.0),
            callerpdd=pl.col("callerpdd").fill_null(0))
        if frame["recorded"].null_count() < frame.height and not frame["recorded"].all():
            self.has_recorded = True
        named = frame.filter(pl.col("endreasonname") != "").select(
            "endreason", "endreasonname").unique("endreason")
        for code, name in named.iter_rows():
            self.names.setdefault(code, name)
        hold = pl.col("holdtime")
        ans = pl.col("answered")
        direction = pl.col("enddirection")
        cube = frame.group_by(KEYS).agg(
            calls=pl.len(),
            answered=ans.sum(),
            talk=hold.filter(ans).sum(),
            fee=pl.col("fee").sum(),
            agentfee=pl.col("agentfee").sum(),
            fee_recorded=pl.col("fee").filter(pl.col("recorded")).sum(),
            recorded=pl.col("recorded").sum(),
            feetime=pl.col("feetime").sum(),
            pdd_sum=pl.col("callerpdd").filter(pl.col("callerpdd") > 0).sum(),
            pdd_calls=(pl.col("callerpdd") > 0).sum(),
            zero_hold=(hold == 0).sum(),
            under_3s=(ans & (hold < 3)).sum(),
            under_5s=(ans & (hold < 5)).sum(),
            under_10s=(ans & (hold < 10)).sum(),
            under_30s=(ans & (hold < 30)).sum(),
            short_callee=(ans & (direction == 1) & (hold < SHORT_CALLEE_SECONDS)).sum(),
            short_caller=(ans & (direction == 0) & (hold < SHORT_CALLER_SECONDS)).sum(),
        )
        self.pieces.append(cube)
        self.pieces_rows += cube.height
        answered_only = frame.filter(ans)
        self.holds.append(answered_only.group_by("holdtime").agg(calls=pl.len()))
        starts = answered_only.select(second=pl.col("starttime") // 1000, delta=pl.lit(1))
        ends = answered_only.select(second=pl.col("stoptime") // 1000, delta=pl.lit(-1))
        self.edges.append(pl.concat([starts, ends]).group_by("second").agg(pl.col("delta").sum()))
        stops = frame["stoptime"]
        low, high = stops.min(), stops.max()
        self.first_stop = low if self.first_stop is None else min(self.first_stop, low)  # type: ignore[type-var,assignment]
        self.last_stop = high if self.last_stop is None else max(self.last_stop, high)  # type: ignore[type-var,assignment]
        self.pdd_max = max(self.pdd_max, int(frame["callerpdd"].max() or 0))  # type: ignore[arg-type]
        if self.pieces_rows >= _REDUCE_AT or len(self.pieces) > 64:
            self._reduce()

    def _reduce(self) -> None:
        if len(self.pieces) > 1:
            self.pieces = [_sum_by(pl.concat(self.pieces), list(KEYS))]
        if len(self.holds) > 1:
            self.holds = [_sum_by(pl.concat(self.holds), ["holdtime"])]
        if len(self.edges) > 1:
            self.edges = [_sum_by(pl.concat(self.edges), ["second"])]
        self.pieces_rows = self.pieces[0].height if self.pieces else 0

    def cube(self) -> pl.DataFrame:
        self._reduce()
        return self.pieces[0] if self.pieces else pl.DataFrame()


def _sum_by(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    return frame.group_by(keys).agg(pl.exclude(keys).sum())


# -- from aggregates to the report --------------------------------------------------------------
def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _normal_codes(codes: list[int], names: dict[int, str], style: str) -> set[int]:
    return {c for c in codes if reason_category(c, names.get(c), style) == "Normal"}


def _metrics(group: dict[str, Any], normal_calls: int) -> dict[str, Any]:
    calls, answered = group["calls"], group["answered"]
    return {
        "calls": calls,
        "answered": answered,
        "asr": ratio(answered, calls),
        "acd": ratio(group["talk"], answered),
        "ner": ratio(normal_calls, calls),
        "talk_seconds": group["talk"],
        "pdd_ms": ratio(group["pdd_sum"], group["pdd_calls"]),
        "fee": round(group["fee"], 6),
        "billed_seconds": group["feetime"],
        "ended_by": {DIRECTIONS[d]: group.get(f"ended_{d}", 0) for d in DIRECTIONS},
        "short_callee_hangups": ratio(group["short_callee"], answered),
        "short_caller_hangups": ratio(group["short_caller"], answered),
        "server_hangups": ratio(group.get("ended_2", 0), answered),
    }


_SUMS = ("calls", "answered", "talk", "fee", "agentfee", "fee_recorded", "recorded", "feetime",
         "pdd_sum", "pdd_calls", "zero_hold", "under_3s", "under_5s", "under_10s", "under_30s",
         "short_callee", "short_caller")


def _grouped(cube: pl.DataFrame, keys: list[str], normal: set[int]) -> list[dict[str, Any]]:
    """The metrics of each value of ``keys`` (answered calls ended by each side included)."""
    ans = pl.col("answered")
    table = cube.group_by(keys).agg(
        *(pl.col(c).sum() for c in _SUMS),
        *(ans.filter(pl.col("enddirection") == d).sum().alias(f"ended_{d}") for d in DIRECTIONS),
        normal_unanswered=pl.when(pl.col("endreason").is_in(list(normal)))
        .then(pl.col("calls") - ans).otherwise(0).sum(),
    ).sort(keys)
    out = []
    for row in table.iter_rows(named=True):
        entry = {k: row[k] for k in keys}
        entry.update(_metrics(row, row["normal_unanswered"] + row["answered"]))
        out.append(entry)
    return out


def _margins(cube: pl.DataFrame) -> dict[str, Any]:
    """fee − agentfee (what the customer paid less what the vendor charged), in total and per
    customer, vendor (agentaccount) and prefix."""
    def rows(column: str, label: str) -> list[dict[str, Any]]:
        table = cube.filter(pl.col(column) != "").group_by(column).agg(
            pl.col("calls").sum(), pl.col("answered").sum(), pl.col("fee").sum(),
            pl.col("agentfee").sum()).sort(column)
        return [_margin_entry({label: name}, calls, answered, fee, agentfee)
                for name, calls, answered, fee, agentfee in table.iter_rows()]

    sums = cube.select(pl.col("calls").sum(), pl.col("answered").sum(), pl.col("fee").sum(),
                       pl.col("agentfee").sum()).row(0)
    vendor_side = bool((cube["agentaccount"] != "").any() or sums[3])
    return {"vendor_side": vendor_side, "total": _margin_entry({}, *sums),
            "customers": rows("customeraccount", "customer"),
            "vendors": rows("agentaccount", "vendor"), "prefixes": rows("prefix", "prefix")}


def _margin_entry(key: dict[str, Any], calls: int, answered: int, fee: float,
                  agentfee: float) -> dict[str, Any]:
    return {**key, "calls": calls, "answered": answered, "fee": round(fee, 7),
            "agentfee": round(agentfee, 7), "margin": round(fee - agentfee, 7),
            "margin_share": round(ratio(fee - agentfee, fee), 6)}


def build_report(agg: Aggregates, style: str = "auto") -> dict[str, Any]:
    """The whole report as plain data (what ``--json`` prints)."""
    cube = agg.cube()
    if cube.is_empty():
        return _empty_report()
    codes = sorted(cube["endreason"].unique().to_list())
    style = resolve_style(style, [c for c in codes if c not in agg.names])
    normal = _normal_codes(codes, agg.names, style)
    (total,) = _grouped(cube.with_columns(all=pl.lit(1)), ["all"], normal)
    del total["all"]
    sums = cube.select(pl.col(c).sum() for c in _SUMS).row(0, named=True)
    calls, answered = sums["calls"], sums["answered"]

    by_direction = cube.group_by("enddirection").agg(pl.col("calls").sum(),
                                                     pl.col("answered").sum()).sort("enddirection")
    by_reason = cube.group_by("endreason").agg(pl.col("calls").sum()).sort("endreason")
    pivot = cube.group_by("enddirection", "endreason").agg(pl.col("calls").sum()) \
        .sort("enddirection", "endreason")

    def reason(code: int) -> dict[str, Any]:
        return {"code": code, "name": reason_name(code, agg.names.get(code), style),
                "category": reason_category(code, agg.names.get(code), style)}

    gateways = []
    for side, column in (("caller", "callergatewayid"), ("callee", "calleegatewayid")):
        for entry in _grouped(cube.filter(pl.col(column) != ""), [column], normal):
            gateways.append({"side": side, "name": entry.pop(column), **entry})
    gateways.sort(key=lambda g: (g["side"], g["name"]))  # as the run summary orders them
    reasons_by_gateway = []
    for side, column in (("caller", "callergatewayid"), ("callee", "calleegatewayid")):
        mix = cube.filter(pl.col(column) != "").group_by(column, "endreason") \
            .agg(pl.col("calls").sum()).sort(column, "endreason")
        for name, code, count in mix.iter_rows():
            reasons_by_gateway.append({"side": side, "gateway": name, "endreason": code,
                                       "calls": count})
    heatmap = []
    for side, column in (("caller", "callergatewayid"), ("callee", "calleegatewayid")):
        cells = cube.filter(pl.col(column) != "").group_by("hour", column).agg(
            pl.col("calls").sum(), pl.col("answered").sum()).sort("hour", column)
        for hour, name, count, ans in cells.iter_rows():
            heatmap.append({"hour": _iso(hour), "side": side, "gateway": name, "calls": count,
                            "asr": ratio(ans, count)})

    hours = _grouped(cube, ["hour"], normal)
    for entry in hours:
        entry["hour"] = _iso(entry["hour"])
    customers = [{"customer": e.pop("customeraccount"), **e}
                 for e in _grouped(cube.filter(pl.col("customeraccount") != ""),
                                   ["customeraccount"], normal)]
    prefixes = _grouped(cube.filter(pl.col("prefix") != ""), ["prefix"], normal)

    holds = agg.holds[0].sort("holdtime") if agg.holds else pl.DataFrame()
    report: dict[str, Any] = {
        **total,
        "records": sums["recorded"],
        "suppressed": calls - sums["recorded"],
        "charged": round(sums["fee_recorded"], 6),
        "revenue_gap": round(sums["fee"] - sums["fee_recorded"], 6),
        "fees": {
            "total": round(sums["fee"], 6),
            "charged": round(sums["fee_recorded"], 6),
            "billed_seconds": sums["feetime"],
            "per_answered_minute": round(ratio(sums["fee"], total["talk_seconds"] / 60), 9),
            "per_call": round(ratio(sums["fee"], calls), 9),
        },
        "pdd": {"mean_ms": total["pdd_ms"], "max_ms": agg.pdd_max,
                "calls_with_pdd": sums["pdd_calls"]},
        "short_calls": {
            "under_3s": ratio(sums["under_3s"], answered),
            "under_5s": ratio(sums["under_5s"], answered),
            "under_10s": ratio(sums["under_10s"], answered),
            "under_30s": ratio(sums["under_30s"], answered),
            "callee_hangups_under_5s": ratio(sums["short_callee"], answered),
            "caller_hangups_under_3s": ratio(sums["short_caller"], answered),
        },
        "zero_duration_rows": sums["zero_hold"],
        "time_range": {"first_stop": _iso(agg.first_stop), "last_stop": _iso(agg.last_stop)},
        "by_end_direction": {
            str(d): {"name": DIRECTIONS.get(d, str(d)), "calls": c, "share": ratio(c, calls),
                     "answered": a}
            for d, c, a in by_direction.iter_rows()},
        "by_end_reason": [{**reason(code), "calls": count, "share": ratio(count, calls)}
                          for code, count in by_reason.iter_rows()],
        "pivot": [{"enddirection": d, "direction": DIRECTIONS.get(d, str(d)), **reason(code),
                   "calls": count} for d, code, count in pivot.iter_rows()],
        "gateways": gateways,
        "customers": customers,
        "prefixes": prefixes,
        "hours": hours,
        "hour_gateway_asr": heatmap,
        "end_reasons_by_gateway": reasons_by_gateway,
        "holdtime_histogram": {"bin_seconds": 1,
                               "counts": [[h, n] for h, n in holds.iter_rows()]},
        "concurrency": _concurrency(agg),
        "margins": _margins(cube),
        "reason_codes": style,
    }
    return report


def _empty_report() -> dict[str, Any]:
    """The report of no CDRs: every key, all zero."""
    zero = {"calls": 0, "answered": 0, "asr": 0.0, "acd": 0.0, "ner": 0.0, "talk_seconds": 0,
            "pdd_ms": 0.0, "fee": 0.0, "billed_seconds": 0,
            "ended_by": dict.fromkeys(DIRECTIONS.values(), 0), "short_callee_hangups": 0.0,
            "short_caller_hangups": 0.0, "server_hangups": 0.0}
    return {
        **zero, "records": 0, "suppressed": 0, "charged": 0.0, "revenue_gap": 0.0,
        "fees": {"total": 0.0, "charged": 0.0, "billed_seconds": 0, "per_answered_minute": 0.0,
                 "per_call": 0.0},
        "pdd": {"mean_ms": 0.0, "max_ms": 0, "calls_with_pdd": 0},
        "short_calls": dict.fromkeys(("under_3s", "under_5s", "under_10s", "under_30s",
                                      "callee_hangups_under_5s", "caller_hangups_under_3s"), 0.0),
        "zero_duration_rows": 0, "time_range": {"first_stop": None, "last_stop": None},
        "by_end_direction": {}, "by_end_reason": [], "pivot": [], "gateways": [],
        "customers": [], "prefixes": [], "hours": [], "hour_gateway_asr": [],
        "end_reasons_by_gateway": [], "holdtime_histogram": {"bin_seconds": 1, "counts": []},
        "concurrency": {"peak": 0, "peak_at": None, "bucket_seconds": 0, "series": []},
        "margins": {"vendor_side": False, "total": _margin_entry({}, 0, 0, 0.0, 0.0),
                    "customers": [], "vendors": [], "prefixes": []},
        "reason_codes": "auto", "alarms": [], "warnings": ["no CDRs found"]}


def _concurrency(agg: Aggregates, points: int = 720) -> dict[str, Any]:
    """Answered calls in progress, second by second; the series keeps each bucket's peak."""
    if not agg.edges or agg.edges[0].is_empty():
        return {"peak": 0, "peak_at": None, "bucket_seconds": 0, "series": []}
    level = agg.edges[0].sort("second").with_columns(active=pl.col("delta").cum_sum())
    first, last = level["second"].min(), level["second"].max()
    span = max(1, int(last) - int(first) + 1)  # type: ignore[arg-type]
    bucket = max(60, -(-span // points // 60) * 60)
    peak_row = level.row(int(level["active"].arg_max()), named=True)  # type: ignore[arg-type]
    buckets = level.group_by((pl.col("second") // bucket) * bucket).agg(
        peak=pl.col("active").max(), last=pl.col("active").last()).sort("second")
    series, carried = [], 0
    by_start = {int(s): (int(p), int(e)) for s, p, e in buckets.iter_rows()}
    for start in range(int(first) // bucket * bucket, int(last) + 1, bucket):  # type: ignore[arg-type]
        peak, end = by_start.get(start, (carried, carried))
        series.append([_iso(start * 1000), max(peak, carried)])  # calls still up from before
        carried = end
    return {"peak": int(peak_row["active"]), "peak_at": _iso(peak_row["second"] * 1000),
            "bucket_seconds": bucket, "series": series}
