"""The per-CDR path of a load run, made cheap, still gives what the plain code gives.

``cdr_from_call`` stores the record slot by slot (``Records`` calls it for every released
call), ``RunStats.add``
counts CDRs per key and folds them into its fields when read: each is checked here against a
straightforward version of itself (what they were before they were made fast).
"""

from __future__ import annotations

import copy
import pickle
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from simulator.core._cdr import host_of
from simulator.core._decisions import Party, callee_rejection
from simulator.core._record import CDR_FIELDS, Cdr
from simulator.core._state import Call
from simulator.run._options import scale_traffic
from simulator.run._stats import GatewayStats, RunStats
from simulator.scenario._loader import load_scenario
from simulator.scenario._schema import Scenario
from simulator.transports._simulated import Simulation, expected_arrivals

ROOT = Path(__file__).resolve().parent.parent


def plain_cdr(call: Call, flowno: int | None, seed: int) -> Cdr:
    """The record the plain way: keywords, ``Switch.wall_ms`` and ``Switch.ending_fields``."""
    switch = call.switch
    wall_ms = switch.wall_ms
    stop = wall_ms(call.end_at)
    start = wall_ms(call.answer_at) if call.answer_at is not None else stop
    invite = wall_ms(call.invite_at)
    account, rate, verdict, attempt = call.account, call.rate, call.verdict, call.attempt
    rated = rate is not None and verdict.rated
    named = account is not None and call.gateway_name
    end_reason, end_direction, sip_header, reason_name, reason_category = \
        switch.ending_fields(verdict, call.caller_protocol)
    return Cdr(
        callere164=attempt.caller, calleee164=attempt.callee, starttime=start, stoptime=stop,
        holdtime=call.hold_time, endreason=end_reason, enddirection=end_direction,
        callergatewayid=call.gateway_name, calleegatewayid=call.final_gateway,
        callerip=attempt.source_ip, calleeip=host_of(call.final_gateway_ip),
        customeraccount=account.name if named else "",
        customername=account.config.name if named else "",
        feeprefix=rate.prefix if rated else "", feetime=call.fee_time, fee=call.fee,
        callerpdd=wall_ms(call.caller_pdd_at) - invite if call.caller_pdd_at is not None else 0,
        calleepdd=wall_ms(call.callee_pdd_at) - wall_ms(call.gateway_invite_at)
        if call.callee_pdd_at is not None and call.gateway_invite_at is not None else 0,
        billingmode=1 if call.billed else -1, calllevel=rate.call_level if rated else 0,
        flowno=flowno if call.recorded else None, softswitchname=switch.config.name,
        recordstarttime=invite, sipreasonheader=sip_header, end_reason_name=reason_name,
        end_reason_category=reason_category, recorded=call.recorded, call_id=attempt.call_id,
        seed_key=f"{seed}/{call.index}")


def fields(cdr: Cdr) -> list[tuple[str, type, Any]]:
    return [(name, type(getattr(cdr, name)), getattr(cdr, name)) for name in CDR_FIELDS]


class Both(Simulation):
    """A simulation whose every record is also built the plain way; it keeps the pairs."""

    def __init__(self, scenario: Scenario, **options: Any) -> None:
        super().__init__(scenario, lambda cdr: None, **options)
        self.pairs: list[tuple[Cdr, Cdr]] = []
        self.records.also = self._pair

    def _pair(self, call: Call, cdr: Cdr) -> None:
        records = self.records
        self.pairs.append((plain_cdr(call, records.flowno, records.seed), cdr))


def load(name: str, calls: int | None = None) -> Scenario:
    scenario = load_scenario(ROOT / "scenarios" / name)
    if calls is not None:
        scenario = scale_traffic(scenario, calls / expected_arrivals(scenario) * 1.02)
    return scenario


@pytest.fixture(scope="module")
def standard() -> list[tuple[Cdr, Cdr]]:
    simulation = Both(load("load/standard.yaml", 3000), calls=3000)
    simulation.run()
    return simulation.pairs


@pytest.mark.parametrize("name", ["demo.yaml", "billing/revenue-gap.yaml",
                                  "billing/h323-protocol-codes.yaml",
                                  "decision-table/16-call-rejected.yaml"])
def test_the_record_is_what_the_plain_code_builds(name: str) -> None:
    simulation = Both(load(name))
    simulation.run()
    assert simulation.pairs
    for plain, fast in simulation.pairs:
        assert fields(fast) == fields(plain)  # every slot set (getattr would raise), same types


def test_the_records_of_a_load_run_are_what_the_plain_code_builds(standard) -> None:
    assert len(standard) == 3000
    for plain, fast in standard:
        assert fields(fast) == fields(plain)


def test_each_switch_writes_its_own_name_and_epoch() -> None:
    first = load("demo.yaml")
    second = first.model_copy(update={
        "switch": first.switch.model_copy(update={"name": "OTHER-SWITCH"}),
        "start": first.start.replace(year=first.start.year + 1)})
    runs = [Both(first), Both(second)]
    for simulation in runs:
        simulation.run()
    names = {fast.softswitchname for simulation in runs for _, fast in simulation.pairs}
    assert names == {first.switch.name, "OTHER-SWITCH"}
    for simulation in runs:
        for plain, fast in simulation.pairs:
            assert fields(fast) == fields(plain)


def test_a_rejection_code_has_one_verdict_so_the_ending_cache_stays_small() -> None:
    """The switch caches ending fields by the verdict's identity: a Verdict made per call
    would add an entry per call."""
    assert callee_rejection(599) is callee_rejection(599)
    assert callee_rejection(486) is callee_rejection(486)
    simulation = Both(load("load/standard.yaml", 2000), calls=2000)
    simulation.run()
    # Equal verdicts made call by call would each add an entry: the entries differ by value,
    # and there are far fewer of them than rejected calls.
    entries = simulation.switch._endings
    assert len({(verdict, protocol) for (_, protocol), (verdict, _) in entries.items()}) == \
        len(entries)
    rejected = sum(1 for _, cdr in simulation.pairs if cdr.endreason == 23)
    rejections = [v for v, _ in entries.values() if v.situation.startswith("callee rejects")]
    assert rejected > 2 * len(rejections) > 0


# -- statistics ----------------------------------------------------------------------------------
_CALLER, _CALLEE = int(Party.CALLER), int(Party.CALLEE)


def plain_add(stats: dict[str, Any], cdr: Cdr, fee: Decimal) -> None:
    """``RunStats.add`` one CDR at a time, into plain values."""
    hold = cdr.holdtime
    answered = cdr.starttime != cdr.stoptime or hold
    direction = cdr.enddirection
    stats["calls"] += 1
    if answered:
        stats["answered"] += 1
        stats["talk_seconds"] += hold
    stats["directions"][direction] += 1
    stats["reasons"][(cdr.endreason, cdr.end_reason_name)] += 1
    if cdr.recorded:
        stats["recorded"] += 1
        if fee:
            stats["charged"] += fee
    else:
        stats["suppressed"] += 1
        if fee:
            stats["revenue_gap"] += fee
    for side, name in (("caller", cdr.callergatewayid), ("callee", cdr.calleegatewayid)):
        if not name:
            continue
        gateway = stats["gateways"].setdefault((side, name), GatewayStats())
        gateway.calls += 1
        if answered:
            gateway.answered += 1
            gateway.talk_seconds += hold
            gateway.ended_by[direction] += 1
            if direction == _CALLEE and hold < 5:
                gateway.short_callee_hangups += 1
            elif direction == _CALLER and hold < 3:
                gateway.short_caller_hangups += 1


def plain_stats() -> dict[str, Any]:
    return {"calls": 0, "answered": 0, "talk_seconds": 0, "recorded": 0,
            "charged": Decimal(0), "suppressed": 0, "revenue_gap": Decimal(0),
            "directions": Counter(), "reasons": Counter(), "gateways": {}}


def seen(stats: RunStats | dict[str, Any]) -> list[Any]:
    """Every number a reader can get, in the order a reader iterates them."""
    get = stats.get if isinstance(stats, dict) else lambda name: getattr(stats, name)
    return [
        *(get(name) for name in ("calls", "answered", "talk_seconds", "recorded", "suppressed")),
        str(get("charged")), str(get("revenue_gap")),  # the exponent too
        list(get("directions").items()), list(get("reasons").items()),
        [(key, g.calls, g.answered, g.talk_seconds, list(g.ended_by.items()),
          g.short_callee_hangups, g.short_caller_hangups) for key, g in get("gateways").items()],
    ]


def suppressed_share(records: list[Cdr]) -> list[Cdr]:
    """The records with every seventh one suppressed, so both money totals have something."""
    out = []
    for i, cdr in enumerate(records):
        if i % 7 == 3:
            cdr = copy.copy(cdr)
            cdr.recorded, cdr.flowno = False, None
        out.append(cdr)
    return out


def test_stats_read_at_any_point_are_those_of_one_cdr_at_a_time(standard) -> None:
    records = suppressed_share([fast for _, fast in standard])
    stats, plain = RunStats(), plain_stats()
    for i, cdr in enumerate(records):
        stats.add(cdr)
        plain_add(plain, cdr, cdr.fee)
        if i in (0, 1, 500, 2000):
            assert seen(stats) == seen(plain)
            assert stats.asr == plain["answered"] / plain["calls"]
    assert seen(stats) == seen(plain)
    assert stats.suppressed and stats.revenue_gap and stats.charged
    assert any(g.short_callee_hangups for g in stats.gateways.values())
    assert any(g.short_caller_hangups for g in stats.gateways.values())


def test_stats_pickle_copy_compare_and_merge_whole(standard) -> None:
    records = suppressed_share([fast for _, fast in standard])
    half = len(records) // 2
    shards = [RunStats(), RunStats()]
    whole, plain = RunStats(), plain_stats()
    for i, cdr in enumerate(records):
        shards[i >= half].add(cdr)
        whole.add(cdr)
        plain_add(plain, cdr, cdr.fee)
    shipped = pickle.loads(pickle.dumps(shards[1]))  # what a worker process sends back
    assert shipped == shards[1] and seen(shipped) == seen(shards[1])
    assert copy.deepcopy(whole) == whole and repr(copy.copy(whole)) == repr(whole)
    merged = RunStats()
    merged.merge(shards[0])
    merged.merge(shipped)
    assert seen(merged)[:7] == seen(plain)[:7]
    assert sorted(merged.directions.items()) == sorted(plain["directions"].items())
    assert merged.gateways == plain["gateways"]
    assert merged != RunStats() and RunStats() == RunStats()


def test_setting_a_field_keeps_what_was_added_before(standard) -> None:
    stats = RunStats()
    for _, cdr in standard[:10]:
        stats.add(cdr)
    stats.calls += 5
    assert stats.calls == 15
    stats.add(standard[10][1])
    stats.sim_seconds = 3.0
    stats.answered = 0  # a plain assignment replaces the total, as it always did
    assert stats.calls == 16 and stats.answered == 0 and stats.sim_seconds == 3.0
