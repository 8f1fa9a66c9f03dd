"""Explicit calls that nothing could end: found when the file is validated, not mid-run.

A call ``rings for ever`` when its callee never answers, nobody cancels and the switch has no
``no_answer_timeout``; it ``never ends once answered`` when neither party hangs up, no
``admin_disconnect_at`` is set and no switch limit applies (the same rule as the engine's
``Call.server_will_end``). Generated traffic always draws a hold time, so only ``calls:`` can.

The check assumes the call gets through; it cannot know statically that a source address, a
concurrency limit or a full route refuses the call first, so a call it names only *may* never end
(``simulator.run.find_run_errors`` then simulates the scenario to be sure).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulator.core import RateTable

if TYPE_CHECKING:
    from simulator.scenario._schema import CalleeDoes, CallSpec, Scenario

Errors = list[tuple[tuple[Any, ...], str]]


def ending_errors(scenario: Scenario) -> Errors:
    """(key path, message) for each explicit call that could go on for ever if it got through."""
    errors: Errors = []
    tables = {name: RateTable(rates) for name, rates in scenario.core_rate_tables().items()}
    for i, call in enumerate(scenario.calls):
        behaviours = _callee_behaviours(scenario, call)
        if call.caller_does.cancel_after is None and scenario.switch.no_answer_timeout == 0 and any(
                b is not None and b.kind == "no_answer" for b in behaviours):
            errors.append((("calls", i), f"call {call.id!r}: nothing can end it (it rings for "
                           "ever: no answer, no cancel_after, and switch.no_answer_timeout is 0)"))
        answers_for_ever = any(b is None or (b.kind == "answer_after" and b.hangup_after is None)
                               for b in behaviours)
        if not answers_for_ever or _party_ends(call) or _switch_ends(scenario, call, tables):
            continue
        errors.append((("calls", i), f"call {call.id!r}: nothing can end it once answered (no "
                       "hangup_after on either side, no admin_disconnect_at, and no switch limit "
                       "such as max_call_duration applies)"))
    return errors


def _callee_behaviours(scenario: Scenario, call: CallSpec) -> list[CalleeDoes | None]:
    """What the callee may do: the call's own ``callee_does``, else each route's default."""
    if call.callee_does is not None:
        return [call.callee_does]
    return [gateway.callee_does for gateway in scenario.routing_gateways.values()
            if any(call.callee.startswith(prefix) for prefix in gateway.prefixes)]


def _party_ends(call: CallSpec) -> bool:
    return call.caller_does.hangup_after is not None or call.admin_disconnect_at is not None


def _switch_ends(scenario: Scenario, call: CallSpec, tables: dict[str, RateTable]) -> bool:
    switch = scenario.switch
    if switch.max_call_duration > 0:
        return True
    if call.media_stops_after is not None and switch.media_timeout > 0:
        return True
    gateway = scenario.mapping_gateways.get(call.from_)
    if gateway is None:
        return True  # refused before it could be answered (and reported as a wrong name)
    if switch.SS_SIP_SESSION_TTL > 0 and gateway.protocol == "sip" and (
            call.refresh_failing_leg is not None
            or (not gateway.session_timer and switch.SS_SIP_NO_TIMER_REINVITE_INTERVAL > 0)):
        return True
    account = scenario.accounts.get(gateway.account)
    if account is None or account.type != "prepaid":
        return False
    table = tables.get(account.rate_table)
    rate = table.lookup(call.callee) if table is not None else None
    return rate is None or rate.fee > 0  # no rate: refused; a paid rate: the balance runs out
