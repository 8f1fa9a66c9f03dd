"""Alarms: the seeds' three end-direction rules per gateway, and thresholds the user sets.

A user threshold is ``[SCOPE:]METRIC OP VALUE[%][@MIN_CALLS]``, e.g. ``asr<40%@100`` (every
gateway with at least 100 calls whose ASR is under 40 %), ``customer:acd<30``, ``total:ner<0.9``
or ``prefix:pdd_ms>4000``. SCOPE is gateway (the default; both sides), customer, prefix, hour or
total. A gateway, customer, prefix or hour with fewer calls than the minimum (``@N``, else
``--min-calls``) raises no alarm.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from simulator.core import gateway_alarms

SCOPES = {"gateway": "gateways", "customer": "customers", "prefix": "prefixes", "hour": "hours",
          "total": None}
METRICS = ("asr", "acd", "ner", "pdd_ms", "calls", "answered", "fee", "server_hangups",
           "short_callee_hangups", "short_caller_hangups")
_SHARES = {"asr", "ner", "server_hangups", "short_callee_hangups", "short_caller_hangups"}
_PATTERN = re.compile(r"^\s*(?:(?P<scope>[a-z]+)\s*:)?\s*(?P<metric>[a-z_]+)\s*"
                      r"(?P<op><=|>=|<|>)\s*(?P<value>-?[0-9.]+)\s*(?P<pct>%)?\s*"
                      r"(?:@\s*(?P<min>[0-9]+))?\s*$")


class AlarmSyntaxError(ValueError):
    pass


@dataclass(frozen=True)
class Threshold:
    text: str
    scope: str
    metric: str
    op: str
    value: float
    min_calls: int | None

    def tripped(self, found: float) -> bool:
        return {"<": found < self.value, ">": found > self.value, "<=": found <= self.value,
                ">=": found >= self.value}[self.op]


def parse_threshold(text: str) -> Threshold:
    match = _PATTERN.fullmatch(text)
    if not match:
        raise AlarmSyntaxError(f"--alarm {text!r}: expected [SCOPE:]METRIC OP VALUE[%][@MIN_CALLS]"
                               ", e.g. asr<40%@100 or customer:acd<30")
    scope = match["scope"] or "gateway"
    if scope not in SCOPES:
        raise AlarmSyntaxError(f"--alarm {text!r}: unknown scope {scope!r}; expected one of "
                               f"{', '.join(SCOPES)}")
    metric = match["metric"]
    if metric not in METRICS:
        raise AlarmSyntaxError(f"--alarm {text!r}: unknown metric {metric!r}; expected one of "
                               f"{', '.join(METRICS)}")
    try:
        value = float(match["value"])
    except ValueError:
        raise AlarmSyntaxError(f"--alarm {text!r}: {match['value']!r} is not a number") from None
    if match["pct"]:
        if metric not in _SHARES:
            raise AlarmSyntaxError(f"--alarm {text!r}: {metric} is not a share; drop the %")
        value /= 100
    return Threshold(text.strip(), scope, metric, match["op"], value,
                     int(match["min"]) if match["min"] else None)


def _label(scope: str, entry: dict[str, Any]) -> str:
    if scope == "gateway":
        return f"{entry['side']} gateway {entry['name']}"
    if scope == "customer":
        return f"customer {entry['customer']}"
    if scope == "prefix":
        return f"prefix {entry['prefix']}"
    if scope == "hour":
        return f"hour {entry['hour']}"
    return "all calls"


def _shown(metric: str, value: float) -> str:
    if metric in _SHARES:
        return f"{value:.1%}"
    if metric == "acd":
        return f"{value:.1f} s"
    return f"{value:,.6g}"


def seed_alarms(report: dict[str, Any], min_calls: int) -> list[dict[str, Any]]:
    """The seeds' rules, per gateway (both sides), as the run summary raises them."""
    out = []
    for gateway in report["gateways"]:
        if not gateway["answered"] or gateway["calls"] < min_calls:
            continue
        label = _label("gateway", gateway)
        for metric, value, limit, message in gateway_alarms(gateway):
            out.append({"rule": f"{metric}>{limit:.0%}", "scope": "gateway",
                        "side": gateway["side"], "name": gateway["name"], "metric": metric,
                        "value": value, "threshold": limit,
                        "calls": gateway["calls"], "message": f"{label}: {message}"})
    return out


def threshold_alarms(report: dict[str, Any], thresholds: list[Threshold],
                     min_calls: int) -> list[dict[str, Any]]:
    out = []
    for threshold in thresholds:
        key = SCOPES[threshold.scope]
        entries = report[key] if key else [report]
        floor = threshold.min_calls if threshold.min_calls is not None else min_calls
        for entry in entries:
            if entry["calls"] < floor:
                continue
            found = entry[threshold.metric]
            if threshold.tripped(found):
                label = _label(threshold.scope, entry)
                shown = _shown(threshold.metric, found)
                out.append({"rule": threshold.text, "scope": threshold.scope,
                            "name": label, "metric": threshold.metric, "value": found,
                            "threshold": threshold.value, "calls": entry["calls"],
                            "message": f"{label}: {threshold.metric} {shown} "
                                       f"({threshold.text}, {entry['calls']:,} calls)"})
    return out
