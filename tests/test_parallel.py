"""--workers and --dask: shard planning, determinism, and equivalence with one process."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from multiprocessing.pool import ThreadPool
from pathlib import Path

import pytest

from cdr_writer import FLOWNO, Output
from simulator import load_scenario, run_scenario
from simulator.run import _parallel
from simulator.run._options import scale_traffic
from simulator.run._parallel import ShardingError, account_work, plan_shards, split
from traffic_support import ROOT, load_scenario_from, pipe_records, profile, tree_bytes

STANDARD = ROOT / "scenarios" / "load" / "standard.yaml"
FORMATS = ("pipe", "e_cdr", "sqlite", "jsonl")


def test_shards_split_accounts_by_load_and_capacity_adds_up() -> None:
    scenario = load_scenario(STANDARD)
    shards = plan_shards(scenario, 3)
    accounts = [a for shard in shards for a in shard.accounts]
    assert sorted(accounts) == sorted(scenario.accounts)
    # P1 and P2 pay pulses on the clock: they weigh more than a postpaid account, so the
    # three shards hold C3+C4+C6, P1+P2 and C1+C2+C5 rather than three accounts and two.
    assert [sorted(s.accounts) for s in shards] == [["C3", "C4", "C6"], ["P1", "P2"],
                                                    ["C1", "C2", "C5"]]
    for name, gateway in scenario.routing_gateways.items():
        slices = [shard.capacities[name] for shard in shards]
        assert slices == [None] * 3 if gateway.capacity is None else \
            sum(slices) == gateway.capacity
    assert plan_shards(scenario, 3) == shards  # deterministic
    assert split(7, [0.5, 0.25, 0.25]) == [3, 2, 2]  # largest remainders get the rest


def test_shards_weigh_pulses_and_money_that_runs_out() -> None:
    # Stretched to 85 minutes, P2's money (about six minutes' worth) runs out early: its later
    # calls are turned away at setup, cheap and never sent to a vendor. P1 pays pulses all day.
    scenario = scale_traffic(load_scenario(STANDARD), 85)
    work = account_work(scenario)
    postpaid = work["C1"]
    assert all(work[f"C{i}"] == postpaid for i in range(2, 7))  # the same profile, the same work
    assert work["P2"].cost < 0.75 * postpaid.cost < postpaid.cost < 0.75 * work["P1"].cost
    assert work["P1"].vendor_calls == postpaid.vendor_calls
    assert work["P2"].vendor_calls < 0.1 * postpaid.vendor_calls
    shards = plan_shards(scenario, 2)
    # P1 and P2 together against four postpaid accounts: the heavy and the light one even out
    assert [sorted(s.accounts) for s in shards] == [["C3", "C5", "P1", "P2"],
                                                    ["C1", "C2", "C4", "C6"]]
    # The shard with P2 hands vendors about 3 accounts' calls against 4: capacity follows that
    assert [s.capacities["UK-PRIME"] for s in shards] == [3888, 5112]
    assert [s.capacities["UK-BACKUP"] for s in shards] == [None, None]


def test_shard_balance_moves_and_swaps_until_the_heaviest_cannot_drop() -> None:
    costs = {"a": 7.0, "b": 7.0, "c": 4.0, "d": 4.0, "e": 4.0, "f": 4.0, "g": 4.0, "h": 4.0}
    sets = _parallel._balanced(costs, 3)
    totals = sorted(sum(costs[n] for n in group) for group in sets)
    assert totals == [12.0, 12.0, 14.0]  # heaviest-first alone gives 11, 12, 15 here
    assert sorted(n for group in sets for n in group) == sorted(costs)
    assert _parallel._balanced(costs, 3) == sets
    assert _parallel._balanced({"x": 1.0}, 2) == [{"x"}, set()]


def _mix(result) -> dict[int, float]:
    return {code: n / result.stats.calls for (code, _), n in result.stats.reasons.items()}


def test_two_workers_are_deterministic_and_match_one_process(tmp_path: Path) -> None:
    scenario = load_scenario(STANDARD)
    one = run_scenario(scenario, tmp_path / "one", FORMATS)
    first = run_scenario(scenario, tmp_path / "w2a", FORMATS, workers=2)
    second = run_scenario(scenario, tmp_path / "w2b", FORMATS, workers=2)
    assert tree_bytes(tmp_path / "w2a") == tree_bytes(tmp_path / "w2b")
    # The same files, the same order rules, the same calls; the end-reason mix within a point.
    assert sorted(tree_bytes(tmp_path / "one")) == sorted(tree_bytes(tmp_path / "w2a"))
    rows = pipe_records(tmp_path / "w2a")
    assert [int(r[17]) for r in rows] == list(range(1, len(rows) + 1))
    assert [int(r[3]) for r in rows] == sorted(int(r[3]) for r in rows)
    assert first.stats.calls == one.stats.calls == second.stats.calls
    assert len(rows) == first.stats.recorded
    one_mix, sharded_mix = _mix(one), _mix(first)
    for code in one_mix.keys() | sharded_mix.keys():
        assert abs(one_mix.get(code, 0) - sharded_mix.get(code, 0)) <= 0.01, code
    e_cdr = (tmp_path / "w2a" / "e_cdr_20261124.csv").read_text().splitlines()
    assert len(e_cdr) == len(rows) + 1 and e_cdr[1].startswith("1,")


def test_without_shared_limits_shards_give_the_same_records(tmp_path: Path) -> None:
    # No capacities to split: every call meets exactly what it meets in one process.
    scenario = load_scenario_from(
        profile(cps=15, duration=60, callee_mix={"busy": 0.2, "no_answer": 0.1},
                hold_time={"dist": "exponential", "mean": 30}),
        profile(**{"from": "BETA-GW"}, cps=10, duration=60, callee_mix={"reject": {"603": 0.3}}))
    run_scenario(scenario, tmp_path / "one", ("pipe",))
    run_scenario(scenario, tmp_path / "two", ("pipe",), workers=2)
    one, two = pipe_records(tmp_path / "one"), pipe_records(tmp_path / "two")
    assert Counter(tuple(r[:17]) for r in one) == Counter(tuple(r[:17]) for r in two)
    assert [r[3] for r in one] == [r[3] for r in two]


def test_expectations_hold_when_sharded(tmp_path: Path) -> None:
    scenario = load_scenario_from(profile(cps=5, duration=30), calls=[
        {"id": "d1", "at": 3, "from": "BETA-GW", "caller": "1", "callee": "8801911000002",
         "callee_does": {"answer_after": 1, "hangup_after": 61},
         "expect": {"holdTime": 61, "fee": 0.5, "endReason": 12}}])
    result = run_scenario(scenario, tmp_path, ("pipe",), workers=2)
    assert result.mismatches() == []
    flowno = result.cdrs["d1"].flowno
    row = next(r for r in pipe_records(tmp_path) if r[17] == str(flowno))
    assert row[4] == "61" and row[0] == "1"


def test_dask_local_cluster_runs_the_same_shards(tmp_path: Path) -> None:
    import distributed
    scenario = load_scenario(STANDARD)
    run_scenario(scenario, tmp_path / "local", FORMATS, workers=2)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        run_scenario(scenario, tmp_path / "dask", FORMATS, workers=2, dask=client)
        address_run = run_scenario(scenario, tmp_path / "by-address", ("pipe",), workers=2,
                                   dask=cluster.scheduler_address)
    assert tree_bytes(tmp_path / "dask") == tree_bytes(tmp_path / "local")
    assert pipe_records(tmp_path / "by-address") == pipe_records(tmp_path / "local")
    assert address_run.stats.calls > 10_000


def test_unreachable_dask_scheduler_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    from simulator.run import _parallel
    from simulator.run._options import RunOptionError

    monkeypatch.setattr(_parallel, "DASK_CONNECT_TIMEOUT", 1.0)
    scenario = load_scenario_from(profile(cps=1, duration=5))
    try:
        run_scenario(scenario, tmp_path / "out", ("pipe",), dask="tcp://127.0.0.1:9")
    except RunOptionError as exc:
        assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in str(exc)
    else:
        raise AssertionError("ran without a scheduler")
    assert not list((tmp_path / "out").rglob("*.txt"))


def test_the_block_merge_keeps_stoptime_shard_position_order_across_batches(
        tmp_path: Path) -> None:
    # Many records tied on a stoptime, batches cut inside the ties, an hour boundary crossed:
    # the merge must give exactly the order of (stoptime, shard, position), flowno 1, 2, 3 …
    # over the recorded ones, every record in jsonl and each kept record its final flowno.
    rng = random.Random(7)
    hour = 3_600_000
    start = 1_795_996_800_000 - 30  # 30 ms before an hour starts
    spools, expected, kept_at = [], [], []
    for shard in range(3):
        stoptimes = sorted(start + rng.randrange(60) for _ in range(rng.randrange(40, 90)))
        path = tmp_path / f"shard-{shard}.spool"
        with path.open("wb") as handle:
            position = 0
            while position < len(stoptimes):
                size = rng.randrange(1, 9)
                batch = stoptimes[position:position + size]
                recorded = [rng.random() < 0.8 for _ in batch]
                keys = [f"{t}-{shard}-{position + i + 1}" for i, t in enumerate(batch)]
                pipe = [f"{k}|{FLOWNO}\n" if r else None
                        for k, r in zip(keys, recorded, strict=True)]
                jsonl = [json.dumps({"k": k, "flowno": FLOWNO if r else None}) + "\n"
                         for k, r in zip(keys, recorded, strict=True)]
                kept_here = [position + i + 1 for i in range(len(batch))
                             if recorded[i] and (position + i) % 7 == 3]
                _parallel.write_frame(handle, (batch, recorded, [pipe, jsonl], kept_here))
                kept_at += [(shard, n) for n in kept_here]
                expected += [(t, shard, position + i + 1, r)
                             for i, (t, r) in enumerate(zip(batch, recorded, strict=True))]
                position += size
            _parallel.write_frame(handle, None)
        spools.append(str(path))
    expected.sort()
    output = Output(tmp_path / "out", ("pipe", "jsonl"), 2)
    kept = _parallel.merge_into(output, spools)
    output.commit()
    recorded = [(t, s, n) for t, s, n, r in expected if r]
    files = sorted((tmp_path / "out" / "cdr").glob("*.txt"))
    assert len(files) == 2  # the hour boundary rotated the file
    lines = [line for f in files for line in f.read_text().splitlines()]
    assert lines == [f"{t}-{s}-{n}|{i}" for i, (t, s, n) in enumerate(recorded, 1)]
    assert all(int(line.split("-")[0]) < start + 30 for line in files[0].read_text().split())
    rows = [json.loads(line) for line in (tmp_path / "out" / "cdr.jsonl").read_text().split("\n")
            if line]
    assert [row["k"] for row in rows] == [f"{t}-{s}-{n}" for t, s, n, _ in expected]
    flownos = dict(((s, n), i) for i, (_, s, n) in enumerate(recorded, 1))
    assert [row["flowno"] for row in rows] == [flownos.get((s, n)) for _, s, n, _ in expected]
    assert len(kept_at) > 10
    assert kept == {position: flownos[position] for position in kept_at}
    assert (start + 30) % hour == 0  # the boundary crossed is a whole hour


def _spool_of(path: Path, stoptimes: list[int], shard: int, end: bool = True) -> None:
    """A spool of pipe lines ``t-shard-position|flowno``, one batch per 3 records."""
    with path.open("wb") as handle:
        for at in range(0, len(stoptimes), 3):
            batch = stoptimes[at:at + 3]
            lines = [f"{t}-{shard}-{at + i + 1}|{FLOWNO}\n" for i, t in enumerate(batch)]
            _parallel.write_frame(handle, (batch, [True] * len(batch), [lines], []))
        if end:
            _parallel.write_frame(handle, None)


def test_the_merge_keeps_pace_with_a_shard_still_writing(tmp_path: Path) -> None:
    # The parent merges while a worker still writes its spool: frames come one at a time, and
    # the merge waits for each (wait_more) instead of taking a half-written one as the end.
    start = 1_795_996_800_000
    _spool_of(tmp_path / "done.spool", [start + 2 * i for i in range(40)], 0)
    _spool_of(tmp_path / "whole.spool", [start + 3 * i for i in range(40)], 1)
    frames = (tmp_path / "whole.spool").read_bytes()
    growing = tmp_path / "growing.spool"
    growing.touch()
    pool = ThreadPool(1)

    def write_slowly() -> None:
        with growing.open("ab") as handle:
            for at in range(0, len(frames), 37):  # cuts inside frames and their lengths
                handle.write(frames[at:at + 37])
                handle.flush()
                time.sleep(0.002)
    writing = pool.apply_async(write_slowly)
    waits = 0
    follow = _parallel._following(writing)

    def wait_more() -> bool:
        nonlocal waits
        waits += 1
        return follow()
    output = Output(tmp_path / "out", ("pipe",), 2)
    _parallel.merge_into(output, [str(tmp_path / "done.spool"), str(growing)], [None, wait_more])
    output.commit()
    pool.close()
    writing.wait(30)  # the merge may take the last frame before the writer's function returns
    assert waits > 10 and writing.successful()
    lines = (tmp_path / "out" / "cdr" / "2026113000.txt").read_text().splitlines()
    expected = sorted([(start + 2 * i, 0, i + 1) for i in range(40)]
                      + [(start + 3 * i, 1, i + 1) for i in range(40)])
    assert lines == [f"{t}-{s}-{n}|{flowno}" for flowno, (t, s, n) in enumerate(expected, 1)]


def test_a_spool_cut_short_or_a_failed_worker_stops_the_merge(tmp_path: Path) -> None:
    start = 1_795_996_800_000
    _spool_of(tmp_path / "cut.spool", [start + i for i in range(10)], 0, end=False)
    with pytest.raises(ShardingError, match="cut short"):
        _parallel.merge_into(Output(tmp_path / "a", ("pipe",), 2), [str(tmp_path / "cut.spool")])
    pool = ThreadPool(1)
    ended = pool.apply_async(lambda: None)
    ended.wait()
    # its worker is done, yet the spool lacks its end: one more look, then the error
    with pytest.raises(ShardingError, match="cut short"):
        _parallel.merge_into(Output(tmp_path / "b", ("pipe",), 2),
                             [str(tmp_path / "cut.spool")], [_parallel._following(ended)])

    def fail() -> None:
        raise RuntimeError("the worker's own error")
    failed = pool.apply_async(fail)
    failed.wait()
    with pytest.raises(RuntimeError, match="the worker's own error"):  # raised in the parent
        _parallel.merge_into(Output(tmp_path / "c", ("pipe",), 2),
                             [str(tmp_path / "cut.spool")], [_parallel._following(failed)])
    pool.close()
