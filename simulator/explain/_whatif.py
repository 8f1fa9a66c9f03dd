"""``--what-if PATH=VALUE``: the same call run again with the scenario changed, side by side."""

from __future__ import annotations

from typing import Any

from simulator.explain._build import explain_call
from simulator.explain._model import Explanation
from simulator.scenario import Scenario, apply_paths


def _ending(ex: Explanation) -> str:
    ending = ex.ending
    return f"row {ending.get('row')}: {ending.get('situation', '')}"


def what_if(scenario: Scenario, call_id: str, changes: list[str],
            as_run: Explanation) -> dict[str, Any]:
    """The CDR fields of ``call_id`` that differ once ``changes`` are applied, and why."""
    changed = apply_paths(scenario, changes, "--what-if")
    after = explain_call(changed, call_id)
    differences = []
    for before_field, after_field in zip(as_run.cdr, after.cdr, strict=True):
        if str(before_field.value) != str(after_field.value):
            differences.append({"field": before_field.name, "before": before_field.value,
                                "after": after_field.value,
                                "why_before": before_field.provenance,
                                "why_after": after_field.provenance})
    if as_run.recorded["recorded"] != after.recorded["recorded"]:
        differences.append({"field": "recorded", "before": as_run.recorded["recorded"],
                            "after": after.recorded["recorded"],
                            "why_before": as_run.recorded["text"],
                            "why_after": after.recorded["text"]})
    return {"changes": list(changes), "differences": differences,
            "before_ending": _ending(as_run), "after_ending": _ending(after),
            "after_pipe_line": after.pipe_line,
            "after_header": {"ended": after.header["ended"], "hold_time":
                             after.header["hold_time"]}}
