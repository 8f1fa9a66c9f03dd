"""Writing the scenario that replays rows: the minimal one a row implies (every assumption said
in a YAML comment), or the operator's own configuration with the rows' calls.

Text from the rows is data: every name and header goes into the YAML as a JSON string (a valid
YAML scalar whatever it holds), comments included, so no value can break out of its place.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, localcontext
from typing import Any

import yaml

from simulator.core import round_money
from simulator.scenario import (
    CalleeDoes,
    CallerDoes,
    MappingGateway,
    RateModel,
    RoutingGateway,
    Scenario,
    SwitchSettings,
)

from ._infer import Plan
from ._rows import Row

STANDARD_PERIODS = (1, 6, 30, 60)
PLACEHOLDER_SOURCE = "192.0.2.1"   # documentation addresses (RFC 5737) for what a row lacks
PLACEHOLDER_VENDOR = "198.51.100.1"


def q(value: object) -> str:
    """A scalar as YAML text: strings as JSON strings (escaped, one line), numbers as they are."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    return json.dumps(str(value), ensure_ascii=False)


def flow(mapping: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{key}: {q(value)}" for key, value in mapping.items()) + "}"


def supports(model: type, key: str) -> bool:
    return key in model.model_fields  # type: ignore[attr-defined]


@dataclass
class RateGuess:
    fee: Decimal           # per period
    period: int
    sure: bool
    note: str
    per_minute: Decimal | None = None


def guess_rate(fee: Decimal, feetime: int, holdtime: int, places: int) -> RateGuess:
    """The rate behind a billed row, and whether the row pins its period down."""
    if feetime <= 0 or holdtime <= 0:
        return RateGuess(Decimal(0), 60, False,
                         "assumption: the row was not billed, so its price is not in it; "
                         "0 per 60 s stands in")
    fits = [p for p in STANDARD_PERIODS if feetime % p == 0 and feetime - p < holdtime <= feetime]
    if not fits:
        fits = [feetime] if feetime >= holdtime else [1]
    fits.sort(reverse=True)  # a call ending on a whole minute is likelier billed per minute
    period = fits[0]
    per_minute = _round_price(fee, feetime, places)
    with localcontext() as context:
        context.prec = 28
        per_period = (per_minute * period / 60).normalize()
    what = f"{format(per_minute, 'f')} per 60 s" + (
        ", billed per second" if period == 1 else f", billed per {period} s")
    if len(fits) == 1 and fee > 0:
        return RateGuess(per_period, period, True,
                         f"from the row: fee {format(fee, 'f')} for feetime {feetime} s "
                         f"(holdtime {holdtime} s) is {what}", per_minute)
    others = ", ".join(f"{p} s" for p in fits[1:])
    return RateGuess(per_period, period, False,
                     f"assumption: fee {format(fee, 'f')} for feetime {feetime} s is {what}; "
                     f"the row cannot tell the period" + (f" (it may be {others})" if others
                                                          else ""), per_minute)


def _round_price(fee: Decimal, feetime: int, places: int) -> Decimal:
    """The roundest price per minute that bills ``fee`` for ``feetime`` seconds."""
    places = max(places, decimals_of(fee))
    with localcontext() as context:
        context.prec = 28
        exact = fee * 60 / feetime
        for decimals in range(0, 9):
            price = round(exact, decimals)
            if round_money(price * feetime / 60, places) == fee:
                return price.normalize()
    return exact.normalize()


def decimals_of(amount: Decimal) -> int:
    exponent = amount.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def call_id_of(plan: Plan, index: int) -> str:
    return f"flowno-{plan.row.flowno}" if plan.row.flowno is not None else f"row-{index + 1}"


def expectations(plan: Plan, rate: RateGuess | None) -> dict[str, Any]:
    row = plan.row
    expect: dict[str, Any] = {"endDirection": row.enddirection, "endReason": row.endreason,
                              "holdTime": row.holdtime}
    if rate is not None and rate.sure:
        expect.update(feeTime=row.feetime, fee=row.fee)
    return expect


@dataclass
class Written:
    """A scenario's text, the scenario it loads as, and the call id of each plan."""

    text: str
    call_ids: list[str]
    start_ms: int
    notes: list[str] = field(default_factory=list)


def start_of(plans: list[Plan]) -> int:
    earliest = min(plan.invite_ms for plan in plans)
    return earliest - earliest % 1000


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def call_fields(plan: Plan, start_ms: int, reason_headers: bool) -> dict[str, Any]:
    """The behaviour keys of a plan's call (at, callee_does, caller_does, …)."""
    entry: dict[str, Any] = {"at": round((plan.invite_ms - start_ms) / 1000, 3)}
    callee = dict(plan.call.get("callee_does") or {})
    caller = dict(plan.call.get("caller_does") or {})
    if reason_headers and "callee_reason_header" in plan.needs and callee:
        callee["reason_header"] = plan.needs["callee_reason_header"]
    if reason_headers and "caller_reason_header" in plan.needs and caller:
        caller["reason_header"] = plan.needs["caller_reason_header"]
    if callee:
        entry["callee_does"] = callee
    if caller:
        entry["caller_does"] = caller
    for key in ("media_stops_after", "refresh_fails", "admin_disconnect_at"):
        if key in plan.call:
            entry[key] = plan.call[key]
    return entry


def reason_headers_supported() -> bool:
    return supports(CalleeDoes, "reason_header") and supports(CallerDoes, "reason_header")


def _call_lines(entry: dict[str, Any], call_id: str, gateway: str, plan: Plan,
                source_ip: str | None, expect: dict[str, Any]) -> list[str]:
    row = plan.row
    lines = [f"  - id: {q(call_id)}",
             f"    # {plan.situation}; the row: endDirection {row.enddirection}, endReason "
             f"{row.endreason}, holdtime {row.holdtime} s",
             f"    at: {q(entry['at'])}      # {iso(plan.invite_ms)} + "
             f"{plan.invite_ms % 1000} ms",
             f"    from: {q(gateway)}"]
    if source_ip:
        lines.append(f"    source_ip: {q(source_ip)}")
    lines.append(f"    caller: {q(row.caller)}")
    lines.append(f"    callee: {q(row.callee)}"
                 + ("      # assumption: the row's number lost digits in a spreadsheet"
                    if row.callee_mangled else ""))
    for key in ("callee_does", "caller_does"):
        if key in entry:
            lines.append(f"    {key}: {flow(entry[key])}")
    for key in ("media_stops_after", "refresh_fails", "admin_disconnect_at"):
        if key in entry:
            lines.append(f"    {key}: {q(entry[key])}")
    if "credentials" in entry:
        lines.append(f"    credentials: {flow(entry['credentials'])}      # the gateway's own: "
                     "the switch did not refuse them")
    for note in plan.notes:
        lines.append(f"    # {json.dumps(note, ensure_ascii=False)[1:-1]}")
    lines.append(f"    expect: {flow(expect)}")
    return lines


def _comment(text: str) -> str:
    return "# " + json.dumps(text, ensure_ascii=False)[1:-1]


# -- the minimal scenario a row implies ----------------------------------------------------------
def minimal_scenario(plans: list[Plan], profile: str, title: str) -> Written:
    """A scenario with only what ``plans`` imply; every guess is an ``assumption`` comment."""
    start_ms = start_of(plans)
    vos = profile == "vos3000"
    headers = reason_headers_supported()
    has_agent = supports(RoutingGateway, "account")
    has_area = supports(RateModel, "area_code")
    first = plans[0].row
    places = max([2, *(decimals_of(p.row.fee) for p in plans),
                  *(decimals_of(p.row.agentfee) for p in plans)])
    max_places = SwitchSettings.model_fields["SERVER_BILLING_FEE_PRECISTION"].metadata
    limit = next((int(m.le) for m in max_places if hasattr(m, "le")), 4)
    if profile == "seeds":
        limit = min(limit, 4)  # the seeds profile keeps the contract's 0-4 decimals
    places = min(places, limit)
    lines = [_comment(title),
             "# Written by vossim reproduce from the CDR row(s) below. Values the rows show are "
             "taken as they are;",
             "# everything marked 'assumption' is a guess the rows do not settle: change it if "
             "you know better.",
             "version: 1",
             f"name: {q('reproduce ' + (first.label))}",
             f"description: {q('Replays ' + ', '.join(p.row.label for p in plans))}",
             "seed: 0",
             f"start: {q(iso(start_ms))}",
             "switch:"]
    needs: dict[str, Any] = {}
    for plan in plans:
        for key, value in plan.needs.items():
            needs.setdefault(key, value)
    softswitch = str(first.fields.get("softswitchname") or "").strip()
    if softswitch:
        lines.append(f"  name: {q(softswitch)}")
    if supports(SwitchSettings, "cdr_profile"):
        why = "negative or SIP-code end reasons" if vos else "end reasons of the 1-25 table"
        lines.append(f"  cdr_profile: {q(profile)}      # assumption: the row shows {why}")
    lines.append(f"  SERVER_BILLING_FEE_PRECISTION: {places}      # the decimals the fees show")
    disputed = plans[0].row
    if disputed.answered:
        held_ms = disputed.stoptime - disputed.starttime
        remainder = held_ms % 1000
        default = 0 if vos else 50  # the profile's own SERVER_BILLING_HOLD_TIME_PRECISION
        if remainder and disputed.holdtime == math.ceil(held_ms / 1000) and remainder < default:
            lines.append("  SERVER_BILLING_HOLD_TIME_PRECISION: 1      # assumption: holdtime "
                         f"rounds {remainder} ms up, as the row shows")
        elif remainder and disputed.holdtime == held_ms // 1000 and remainder >= default:
            lines.append(f"  SERVER_BILLING_HOLD_TIME_PRECISION: {remainder + 1}      "
                         f"# assumption: holdtime drops {remainder} ms, as the row shows")
    switch_keys = {"max_call_duration": "max_call_duration", "media_timeout": "media_timeout",
                   "no_answer_timeout": "no_answer_timeout",
                   "no_timer_cap": "SS_SIP_NO_TIMER_REINVITE_INTERVAL",
                   "session_ttl": "SS_SIP_SESSION_TTL"}
    for need, key in switch_keys.items():
        if need in needs:
            lines.append(f"  {key}: {q(needs[need])}      # assumption: the switch limit that "
                         "ends the call when the row says")
    # accounts and their rates
    accounts: dict[str, list[Plan]] = {}
    for plan in plans:
        accounts.setdefault(plan.row.customeraccount or "CUSTOMER", []).append(plan)
    vendors: dict[str, list[Plan]] = {}
    for plan in plans:
        if plan.row.agentaccount and has_agent:
            vendors.setdefault(plan.row.agentaccount, []).append(plan)
    lines.append("accounts:")
    rates: dict[str, list[str]] = {}
    guesses: dict[int, RateGuess] = {}
    for name, members in accounts.items():
        row = members[0].row
        lines.append(f"  {q(name)}:" + ("" if row.customeraccount else
                                        "      # assumption: the row names no account"))
        lines.append(f"    name: {q(row.customername)}")
        refusal = {p.needs.get("refusal") for p in members}
        if "prepaid_money" in needs or 10 in refusal:
            money = needs.get("prepaid_money", Decimal(0))
            lines.append("    type: prepaid      # assumption: the switch cut the call off when "
                         "the money ran out")
            lines.append(f"    money: {q(money)}      # assumption: what the account held")
        if 3 in refusal:
            lines.append("    status: disabled      # the row says the account was disabled")
        if 4 in refusal:
            lines.append(f"    expires: {q(iso(start_ms - 86_400_000))}      # assumption: "
                         "expired before the call")
        if 9 in refusal:
            level = max(row.calllevel, 1)
            lines.append(f"    subscribed: [{level + 1}]      # assumption: not level {level}")
        if 6 in refusal:
            lines.append(f"    max_cps: {max(1, _earlier_invites(members, 1000))}      "
                         "# assumption: the INVITEs the rows show in the second before")
        if 7 in refusal:
            lines.append(f"    max_concurrent: {max(1, _in_progress(members, 7))}      "
                         "# assumption: the calls the rows show in progress")
        table = f"{name} rates"
        lines.append(f"    rate_table: {q(table)}")
        rate_lines = rates.setdefault(table, [])
        seen: set[str] = set()
        # the rows that were rated say most about the rate: they go first
        for plan in sorted(members, key=lambda p: (p.row.feetime <= 0, p.row.calllevel <= 0)):
            if plan.needs.get("refusal") == 8 or plan.row.callee in seen:
                continue
            seen.add(plan.row.callee)
            guess = guess_rate(plan.row.fee, plan.row.feetime, plan.row.holdtime, places)
            if plan.needs.get("refusal") == 10:
                guess = RateGuess(Decimal(1), 60, False, "assumption: a price the balance "
                                  "cannot pay (the row was refused before it was billed)")
            guesses[id(plan)] = guess
            level = max(plan.row.calllevel, 1) if plan.needs.get("refusal") == 9 else \
                plan.row.calllevel
            rate = {"prefix": plan.row.callee, "fee": guess.fee, "period": guess.period,
                    "call_level": level}
            area = str(plan.row.fields.get("callerareacode") or "").strip()
            if has_area and area.isdigit():  # the customer's rate names callerareacode
                rate["area_code"] = area
            rate_lines.append(f"    - {flow(rate)}")
            rate_lines.append(f"      {_comment(guess.note)}")
            rate_lines.append("      # assumption: the prefix is the whole callee number (the "
                              "rate's real prefix is not in the row)")
    for name, members in vendors.items():
        row = members[0].row
        table = f"{name} rates"
        lines.append(f"  {q(name)}:      # the vendor: its rate prices agentfee")
        lines.append(f"    name: {q(row.agentname)}")
        lines.append(f"    rate_table: {q(table)}")
        rate_lines = rates.setdefault(table, [])
        seen = set()
        for plan in members:
            if plan.row.callee in seen:
                continue
            seen.add(plan.row.callee)
            guess = guess_rate(plan.row.agentfee, plan.row.agentfeetime, plan.row.holdtime,
                               places)
            rate = {"prefix": plan.row.callee, "fee": guess.fee, "period": guess.period}
            area = str(plan.row.fields.get("calleeareacode") or "").strip()
            if has_area and area.isdigit():  # the vendor's rate names calleeareacode
                rate["area_code"] = area
            rate_lines.append(f"    - {flow(rate)}")
            rate_lines.append(f"      {_comment('agentfee: ' + guess.note)}")
    lines.append("rate_tables:")
    for table, rate_lines in rates.items():
        lines.append(f"  {q(table)}:" + ("" if rate_lines else " []      # the row says no "
                                                                "rate matched"))
        lines.extend(rate_lines)
    # customers' gateways, by the address the calls came from
    lines.append("mapping_gateways:")
    gateway_of: dict[int, tuple[str, str | None]] = {}
    by_ip: dict[str, str] = {}
    gateways: dict[str, tuple[str, list[str], bool]] = {}
    for plan in plans:
        row = plan.row
        account = row.customeraccount or "CUSTOMER"
        illegal = plan.needs.get("refusal") == 1
        name = row.callergatewayid or f"{account} gateway"
        if illegal:
            name = row.callergatewayid or "KNOWN-GATEWAY"
            ip = PLACEHOLDER_SOURCE
            gateways.setdefault(name, (account, [ip], False))
            gateway_of[id(plan)] = (name, row.callerip or "192.0.2.2")
            continue
        ip = row.callerip or PLACEHOLDER_SOURCE
        owner = by_ip.setdefault(ip, name)
        if owner != name:
            gateway_of[id(plan)] = (owner, None)
            continue
        known = gateways.setdefault(name, (account, [], 26 in {plan.needs.get("refusal")}
                                           or "no_timer_cap" in plan.needs))
        if ip not in known[1]:
            known[1].append(ip)
        gateway_of[id(plan)] = (name, None)
    first_row: dict[str, Row] = {}
    for plan in plans:
        first_row.setdefault(gateway_of[id(plan)][0], plan.row)
    for name, (account, ips, no_timer) in gateways.items():
        lines.append(f"  {q(name)}:")
        lines.append(f"    account: {q(account)}")
        lines.extend(_peer_keys(first_row.get(name), "caller", MappingGateway))
        lines.append(f"    ips: [{', '.join(q(ip) for ip in ips)}]"
                     + ("      # assumption: a documentation address; the call's source is "
                        "on no gateway" if ips == [PLACEHOLDER_SOURCE] else ""))
        if no_timer:
            lines.append("    session_timer: false      # assumption: the caller does no "
                         "session timers")
        if any(p.needs.get("refusal") == 2 for p in plans):
            lines.append('    auth: {user: "reproduce", password: "not-in-the-row"}      '
                         "# assumption: the caller's credentials were wrong")
    # vendors' gateways: they take exactly the callee numbers the rows routed to them
    routed: dict[str, tuple[str, list[str], list[Plan]]] = {}
    for plan in plans:
        row = plan.row
        refusal = plan.needs.get("refusal")
        if refusal in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11):
            continue
        name, ip = row.calleegatewayid, row.calleeip
        if not name:  # a full or down gateway is not in the row: another row's, if one shows it
            other = next((p.row for p in plans if p.row.callee == row.callee
                          and p.row.calleegatewayid), None)
            name = other.calleegatewayid if other else (
                "DOWN-VENDOR" if refusal == 12 else "VENDOR")
            ip = other.calleeip if other else ip
        ip = ip or PLACEHOLDER_VENDOR
        entry = routed.setdefault(name, (ip, [], []))
        if row.callee not in entry[1]:
            entry[1].append(row.callee)
        entry[2].append(plan)
    blocked = {p.row.callee for p in plans if p.needs.get("refusal") == 11}
    lines.append("routing_gateways:" + ("" if routed else " {}      # the row was routed "
                                                          "nowhere"))
    for name, (ip, prefixes, members) in routed.items():
        clash = blocked & set(prefixes)
        lines.append(f"  {q(name)}:")
        lines.append(f"    ip: {q(ip)}" + ("" if ip != PLACEHOLDER_VENDOR else
                                           "      # assumption: the row names no vendor address"))
        lines.append(f"    prefixes: [{', '.join(q(p) for p in prefixes)}]      # assumption: "
                     "the callee numbers the rows sent here")
        lines.extend(_peer_keys(next((p.row for p in members if p.row.calleegatewayid), None),
                                "callee", RoutingGateway))
        if clash:
            lines.append("    # the rows also show a no-route ending for these numbers: they "
                         "cannot both reproduce")
        agent = next((p.row.agentaccount for p in members if p.row.agentaccount), "")
        if agent and has_agent:
            lines.append(f"    account: {q(agent)}      # the vendor's account (agentaccount)")
        if any(p.needs.get("refusal") == 12 for p in members):
            lines.append("    status: down      # the row says every matching gateway was down")
        if any(p.needs.get("refusal") == 13 for p in members):
            lines.append(f"    capacity: {max(1, _in_progress(members, 13))}      # assumption: "
                         "the calls the rows show in progress")
    blacklist = sorted({p.row.callee for p in plans if p.needs.get("refusal") == 5})
    if blacklist:
        lines.append(f"blacklist: [{', '.join(q(n) for n in blacklist)}]      # the row says a "
                     "number was blacklisted")
    lines.append("calls:")
    call_ids = []
    for index, plan in enumerate(plans):
        call_id = call_id_of(plan, index)
        call_ids.append(call_id)
        gateway, source_ip = gateway_of[id(plan)]
        entry = call_fields(plan, start_ms, headers)
        if "refusal" in plan.needs or "switch_release" in plan.needs:
            entry = refused_call(plan, start_ms)
            plan.notes.append("were the call let through, its caller gives up when the switch "
                              "refused it (nothing else in the row says what the parties did)")
        lines.extend(_call_lines(entry, call_id, gateway, plan, source_ip,
                                 expectations(plan, guesses.get(id(plan)))))
    return Written("\n".join(lines) + "\n", call_ids, start_ms)


def _peer_keys(row: Row | None, side: str, model: type) -> list[str]:
    """A gateway's codec, User-Agent and RTP address, as the row shows them for that side."""
    if row is None:
        return []
    lines = []
    for key, column in (("codec", f"{side}codec"), ("user_agent", f"{side}productid"),
                        ("rtp_ip", f"{side}rtpip")):
        if not supports(model, key) or column not in row.fields:
            continue
        value = str(row.fields.get(column) or "").strip()
        if key == "rtp_ip" and not value:
            continue
        lines.append(f"    {key}: {q(value)}      # {column} of the row")
    return lines


def _earlier_invites(plans: list[Plan], window_ms: int) -> int:
    """The INVITEs the rows show in the second before each refused one (the tightest)."""
    refused = [p for p in plans if p.needs.get("refusal") == 6] or plans[-1:]
    return min(sum(1 for p in plans if p is not ref and p.needs.get("refusal") != 6
                   and ref.invite_ms - window_ms < p.invite_ms <= ref.invite_ms)
               for ref in refused)


def _in_progress(plans: list[Plan], refusal: int) -> int:
    """The calls the rows show in progress when each refused one arrived (the fewest)."""
    refused = [p for p in plans if p.needs.get("refusal") == refusal] or plans[-1:]
    return min(sum(1 for p in plans if p is not ref and p.needs.get("refusal") != refusal
                   and p.invite_ms <= ref.invite_ms < p.row.stoptime)
               for ref in refused)


# -- the operator's configuration with the rows' calls -----------------------------------------
def check_config(config: Scenario, path: str) -> None:
    """A configuration the rows can be replayed against: it has customers' gateways."""
    if not config.mapping_gateways:
        from ._rows import RowError

        raise RowError(f"{path}: expected a configuration with mapping_gateways (the customers' "
                       "gateways the rows' calls come through), found none")


def gateway_for(scenario: Scenario, row_ip: str, row_gateway: str) -> tuple[str, str | None]:
    """(the mapping gateway a call comes from, a source_ip when it is not that gateway's)."""
    for name, gateway in scenario.mapping_gateways.items():
        if gateway.ips[0] == row_ip:
            return name, None  # the gateway's first address is where its calls come from
        if row_ip in gateway.ips or any(ip.split(":")[0] == row_ip for ip in gateway.ips):
            return name, row_ip
    if row_gateway in scenario.mapping_gateways:
        return row_gateway, row_ip or None
    first = next(iter(scenario.mapping_gateways), "")
    return first, row_ip or PLACEHOLDER_SOURCE


def refused_call(plan: Plan, start_ms: int, scenario: Scenario | None = None
                 ) -> dict[str, Any]:
    """A refusal replayed: were it let through, the caller gives up when the switch refused
    (so the comparison shows that the switch does not refuse it)."""
    row = plan.row
    return {"at": round((plan.invite_ms - start_ms) / 1000, 3),
            "callee_does": {"no_answer": True},
            "caller_does": {"cancel_after": max(round((row.stoptime - plan.invite_ms) / 1000, 3),
                                                0.001)}}


def configured_call(plan: Plan, start_ms: int, scenario: Scenario, gateway: str = ""
                    ) -> dict[str, Any]:
    if "refusal" in plan.needs or "switch_release" in plan.needs:
        entry = refused_call(plan, start_ms, scenario)
    else:
        entry = call_fields(plan, start_ms, reason_headers_supported())
    auth = scenario.mapping_gateways[gateway].auth if gateway in scenario.mapping_gateways \
        else None
    if auth is not None and plan.needs.get("refusal") not in (1, 2):
        # the row does not show credentials: a call the switch did not refuse for them had
        # the right ones
        entry["credentials"] = {"user": auth.user, "password": auth.password}
    if "refusal" in plan.needs or "switch_release" in plan.needs:
        return entry
    if "media_stops_after" in entry:  # the configuration's own media timeout
        held = (plan.row.stoptime - plan.row.starttime) / 1000
        entry["media_stops_after"] = round(max(held - scenario.switch.media_timeout, 0), 3)
    return entry


def configured_scenario(config_text: str, config: Scenario, plans: list[Plan],
                        title: str) -> Written:
    """The configuration file with its own calls and traffic replaced by the rows' calls."""
    data = yaml.safe_load(config_text) or {}
    data.pop("calls", None)
    data.pop("traffic", None)
    start_ms = round(config.start.timestamp() * 1000)
    notes = []
    if min(p.invite_ms for p in plans) < start_ms:
        start_ms = start_of(plans)
        data["start"] = iso(start_ms)
        notes.append("the rows are older than the configuration's start, so the start moved to "
                     f"{iso(start_ms)} (outages given in seconds move with it)")
    body = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    lines = [_comment(title),
             "# Written by vossim reproduce: the configuration given with --config, its own "
             "calls and traffic",
             "# replaced by the call(s) of the CDR row(s).", body.rstrip("\n"), "calls:"]
    call_ids = []
    for index, plan in enumerate(plans):
        call_id = call_id_of(plan, index)
        call_ids.append(call_id)
        gateway, source_ip = gateway_for(config, plan.row.callerip, plan.row.callergatewayid)
        entry = configured_call(plan, start_ms, config, gateway)
        lines.extend(_call_lines(entry, call_id, gateway, plan, source_ip,
                                 expectations(plan, None)))
    return Written("\n".join(lines) + "\n", call_ids, start_ms, notes)
