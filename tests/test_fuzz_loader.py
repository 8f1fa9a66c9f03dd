"""Property: whatever the text, the loader returns a scenario or a ScenarioError whose every
problem starts ``file:line:column:``; never another exception, never a hang (hypothesis' deadline).

The bigger campaign (thousands of cases, each also run) is ``bench/fuzz_scenarios.py``.
"""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator import ScenarioError, parse_scenario
from simulator.scenario._endings import ending_errors

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import fuzz_scenarios  # lives with the campaign it also drives

SEEDS = [text for _, text in fuzz_scenarios.seeds()]
PLACED = re.compile(r"^fuzz\.yaml:\d+:\d+: ")
FUZZ = settings(max_examples=150, deadline=2000, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def assert_loads_or_is_placed(text: str) -> None:
    try:
        scenario = parse_scenario(text, "fuzz.yaml")
    except ScenarioError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert PLACED.match(str(problem)), str(problem)
        return
    for path, message in ending_errors(scenario):
        assert path[0] == "calls" and message


@FUZZ
@given(st.sampled_from(SEEDS), st.randoms(use_true_random=False))
def test_mutated_scenarios_load_or_are_refused_with_a_place(text: str,
                                                            rng: random.Random) -> None:
    assert_loads_or_is_placed(fuzz_scenarios.mutate(rng, text))


SCALARS = st.one_of(
    st.integers(), st.integers(min_value=10 ** 18, max_value=10 ** 4000),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30), st.booleans(),
    st.none(), st.datetimes(), st.dates(), st.sampled_from(fuzz_scenarios.NASTY),
)


@FUZZ
@given(st.sampled_from(SEEDS), st.data())
def test_any_value_anywhere_is_taken_or_refused_with_a_place(text: str, data: st.DataObject,
                                                             ) -> None:
    spans = [m.span() for m in fuzz_scenarios._VALUE.finditer(text)]
    start, end = data.draw(st.sampled_from(spans))
    value = data.draw(SCALARS)
    if isinstance(value, str) and value in fuzz_scenarios.NASTY:
        written = value
    else:  # a flow scalar as yaml would write it
        written = yaml.safe_dump(value, default_flow_style=True, width=10 ** 6).strip()
        written = written.removesuffix("\n...").removesuffix("...").strip()
    assert_loads_or_is_placed(text[:start] + written + text[end:])


@FUZZ
@given(st.sampled_from(SEEDS), st.text(max_size=40), st.integers(min_value=0))
def test_any_characters_anywhere_are_refused_with_a_place(text: str, junk: str,
                                                          where: int) -> None:
    at = where % (len(text) + 1)
    assert_loads_or_is_placed(text[:at] + junk + text[at:])


@FUZZ
@given(st.sampled_from(SEEDS), st.randoms(use_true_random=False))
def test_structured_mutations_load_or_are_refused_with_a_place(text: str,
                                                               rng: random.Random) -> None:
    # type confusion, nasty strings and keys, extreme numbers, keys and sections dropped,
    # doubled or renamed, anchors and merge keys
    assert_loads_or_is_placed(fuzz_scenarios.structured(rng, text))


def _cases(strategy: str, count: int, seed: int) -> list[fuzz_scenarios.Case]:
    split = tuple(1.0 if s == strategy else 0.0 for s in fuzz_scenarios.STRATEGIES)
    return fuzz_scenarios.cases_of(count, seed, split)


def test_library_scenarios_under_random_flags_run_or_are_refused_with_a_place() -> None:
    cases = _cases("cli", 12, 7)
    outcomes = [fuzz_scenarios.classify_case(case, 300) for case in cases]
    assert all(outcome in ("ran", "refused") for outcome, _ in outcomes), outcomes
    assert {outcome for outcome, _ in outcomes} == {"ran", "refused"}  # both kinds were drawn


def test_mutated_cdr_files_are_read_or_refused_naming_the_file() -> None:
    cases = _cases("cdr", 15, 3)
    assert {case[1] for case in cases} == set(fuzz_scenarios.CDR_KINDS)
    outcomes = [fuzz_scenarios.classify_case(case, 300) for case in cases]
    assert all(outcome in ("ran", "refused") for outcome, _ in outcomes), outcomes
