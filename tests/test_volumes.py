"""Exact volumes: ``--calls N`` keeps the first N call attempts, ``--rate X`` multiplies cps."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

from simulator import load_scenario, run_scenario
from simulator.cli import main
from simulator.traffic._generator import all_calls, arrival_cutoff
from traffic_support import ROOT, load_scenario_from, pipe_records, profile

WHOLESALE_DAY = ROOT / "scenarios" / "load" / "wholesale-day.yaml"


def _two_profiles_and_calls():
    return load_scenario_from(
        profile(cps=15, duration=60, callee_mix={"busy": 0.2, "no_answer": 0.1},
                hold_time={"dist": "exponential", "mean": 30}),
        profile(**{"from": "BETA-GW"}, cps=10, duration=60,
                callee_mix={"reject": {"603": 0.3}}),
        calls=[{"id": f"x{i}", "at": 10 * i, "from": "BETA-GW", "caller": "1",
                "callee": "8801911000002", "callee_does": {"answer_after": 1,
                                                           "hangup_after": 20}}
               for i in range(4)])


def _ids(out: Path) -> list[str]:
    return [json.loads(line)["callId"] for line in (out / "cdr.jsonl").read_text().splitlines()]


def test_calls_keeps_exactly_the_first_n_attempts_in_arrival_order() -> None:
    scenario = _two_profiles_and_calls()
    every = list(all_calls(scenario))
    assert len(every) > 1000
    first = [s.call_id for s in all_calls(scenario, limit=700)]
    assert first == [s.call_id for s in every[:700]]
    assert arrival_cutoff(scenario, 700)[0] == every[699].at
    assert arrival_cutoff(scenario, len(every) + 1) is None
    # A shard keeps exactly its accounts' share of the same 700 attempts.
    acme = [s.call_id for s in all_calls(scenario, frozenset({"ACME"}), limit=700)]
    beta = [s.call_id for s in all_calls(scenario, frozenset({"BETA"}), limit=700)]
    assert sorted(acme + beta) == sorted(first)
    assert {s.call_id for s in every[:700] if s.account == "ACME"} == set(acme)
    # The explicit calls are numbered before any account filter: x0..x3 arrive at 0, 10, 20, 30.
    assert [i for i in beta if i.startswith("x")] == \
        [s.call_id for s in every[:700] if s.call_id.startswith("x")]


def test_calls_gives_n_cdrs_in_one_process_and_sharded(tmp_path: Path) -> None:
    scenario = _two_profiles_and_calls()
    one = run_scenario(scenario, tmp_path / "one", ("pipe", "jsonl"), calls=500)
    two = run_scenario(scenario, tmp_path / "two", ("pipe", "jsonl"), workers=2, calls=500)
    assert one.stats.calls == two.stats.calls == 500
    assert sorted(_ids(tmp_path / "one")) == sorted(_ids(tmp_path / "two"))
    assert sorted(_ids(tmp_path / "one")) == sorted(s.call_id for s in
                                                   list(all_calls(scenario))[:500])
    # Without shared limits every kept call meets exactly what it meets unsharded.
    records = Counter(tuple(r[:17]) for r in pipe_records(tmp_path / "one"))
    assert records == Counter(tuple(r[:17]) for r in pipe_records(tmp_path / "two"))


def test_rate_multiplies_every_profile_and_keeps_the_span() -> None:
    scenario = load_scenario_from(profile(cps=4, duration=600),
                                  profile(**{"from": "BETA-GW"}, cps=2, duration=300))
    base = Counter(s.account for s in all_calls(scenario))
    from simulator.run._options import scale_rate

    faster = scale_rate(scenario, 3)
    times = Counter()
    counts = Counter()
    for script in all_calls(faster):
        counts[script.account] += 1
        times[script.account] = max(times[script.account], script.at)
    for account, expected in (("ACME", 3 * 4 * 600), ("BETA", 3 * 2 * 300)):
        assert abs(counts[account] - expected) < 4 * math.sqrt(expected), account
        assert counts[account] > 2 * base[account]
    assert 590 < times["ACME"] < 600 and 290 < times["BETA"] < 300


def test_one_day_of_a_million_calls_is_one_command(tmp_path: Path, capsys) -> None:
    # The same command, smaller: a day of wholesale-day at 12x its rate, cut at 20,000 calls.
    code = main(["run", str(WHOLESALE_DAY), "--rate", "12", "--calls", "20000", "-o",
                 str(tmp_path), "--format", "jsonl", "--workers", "2"])
    assert code == 0
    lines = (tmp_path / "cdr.jsonl").read_text().splitlines()
    assert len(lines) == 20000
    invites = sorted(json.loads(line)["recordstarttime"] for line in lines)
    start = load_scenario(WHOLESALE_DAY).start.timestamp() * 1000
    # 12x the day's ~8,300 attempts is ~100,000: 20,000 are used up within the day's first half.
    assert start <= invites[0] and invites[-1] - start < 86_400_000
    assert "calls" in capsys.readouterr().out


def test_volume_options_are_checked(tmp_path: Path, capsys) -> None:
    scenario = str(ROOT / "scenarios" / "demo.yaml")
    for bad in (["--calls", "0"], ["--calls", "many"], ["--rate", "0"], ["--rate", "-2"]):
        try:
            code = main(["run", scenario, "-o", str(tmp_path / "bad"), *bad])
        except SystemExit as exc:  # argparse refuses it with a usage line
            code = exc.code
        assert code == 2, bad
        err = capsys.readouterr().err
        assert "expected" in err and "Traceback" not in err, bad
        assert not (tmp_path / "bad" / "cdr").exists()
    assert main(["run", scenario, "-o", str(tmp_path / "few"), "--calls", "1000000"]) == 0
    assert "fewer than --calls 1,000,000" in capsys.readouterr().out  # before the file list
