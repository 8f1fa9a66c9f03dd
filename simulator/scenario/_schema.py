"""The scenario file's schema (spec §1), validated with pydantic. Loading lives in ``_loader``."""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from cdr_writer import EXPECTABLE
from simulator.core import EndReason, Rate, Section, observed_code_clash
from simulator.scenario._bounds import (
    DAY,
    MAX_SPAN,
    Balance,
    CdrName,
    Count,
    Credit,
    Delay,
    Fee,
    Period,
    Priority,
    ReasonCode,
    RefreshSegment,
    SectionTime,
    Seed,
    SpanSeconds,
    session_ttl,
    start_in_range,
)
from simulator.scenario._traffic import Outage, TrafficProfile

# fullmatch, never match with ^...$: "$" also matches before a final newline ("441\n").
_DIGITS = re.compile(r"[0-9]+")
# An IPv6 zone (scope id) as interfaces are named: no separator, space or line break may follow
# the "%" into the CDR's callerip/calleeip fields.
_ZONE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
SEEDS_FEE_PLACES = 4  # SERVER_BILLING_FEE_PRECISTION's range under the seeds profile
MAX_FEE_PLACES = 7    # under vos3000: real per-second fees carry 7 decimals


def _money(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected an amount of money, found a boolean")
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int):
        return Decimal(value)
    return value


def _digits(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a string of digits")
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or not _DIGITS.fullmatch(value):
        raise ValueError(f"expected a string of digits 0-9, found {value!r}")
    return value


def _address(value: Any) -> Any:
    """An IPv4/IPv6 address, optionally with ``:port`` (live mode)."""
    if not isinstance(value, str):
        raise ValueError(f"expected an IP address such as 203.0.113.10, found {value!r}")
    host = value
    if value.count(":") == 1:
        host, port = value.split(":")
        if not _DIGITS.fullmatch(port) or not 0 < int(port) < 65536:
            raise ValueError(f"expected a port 1-65535 after ':', found {port!r}")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"expected an IP address such as 203.0.113.10, found {value!r}") from None
    _, percent, zone = host.partition("%")
    if percent and not _ZONE.fullmatch(zone):
        raise ValueError("expected an IPv6 scope id of letters, digits, '_', '.' or '-' after "
                         f"'%', found {zone!r}")
    return value


Money = Annotated[Decimal, BeforeValidator(_money)]
Digits = Annotated[str, BeforeValidator(_digits)]
Address = Annotated[str, BeforeValidator(_address)]
Seconds = Delay
Flag = Literal[0, 1]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class SwitchSettings(_Model):
    """The ``switch:`` section as written (the core reads ``core._config.SwitchConfig``)."""

    name: CdrName = "VOS3000-SIM"
    SERVER_BILLING_RECORD_SERVER_HANG_UP: Flag = 1
    SERVER_BILLING_RECORD_ZERO_HOLD_TIME: Flag = 1
    SERVER_BILLING_RECORD_ILLEGAL_CALL: Flag = 1
    SERVER_BILLING_FEE_PRECISTION: int = Field(2, ge=0, le=MAX_FEE_PLACES)
    # None: 50 ms under the seeds profile, 0 (every started second counts) under vos3000
    SERVER_BILLING_HOLD_TIME_PRECISION: int | None = Field(None, ge=0, le=1000)
    SS_SIP_SESSION_TTL: Annotated[Seconds, AfterValidator(session_ttl)] = 1800
    SS_SIP_SESSION_UPDATE_SEGMENT: RefreshSegment = 2
    SS_SIP_NO_TIMER_REINVITE_INTERVAL: Seconds = 7200
    max_call_duration: Seconds = 0
    media_timeout: Seconds = 60
    no_answer_timeout: Seconds = 60
    # None: server-code under the seeds profile, negative (the observed numbers) under vos3000
    end_reason_style: Literal["server-code", "protocol", "negative"] | None = None
    end_reason_codes: dict[str, ReasonCode] = {}
    cdr_profile: Literal["seeds", "vos3000"] = "seeds"
    address: Address = "192.0.2.1"  # the switch's own (vos3000: calleecallid ends in it)
    # live mode: calls one source address may hold unACKed before its INVITEs get 503 (0: any)
    live_source_max_unacked: int = Field(128, ge=0, le=1_000_000)

    @model_validator(mode="after")
    def _fee_places(self) -> SwitchSettings:
        places = self.SERVER_BILLING_FEE_PRECISTION
        if self.cdr_profile == "seeds" and places > SEEDS_FEE_PLACES:
            raise ValueError(f"expected SERVER_BILLING_FEE_PRECISTION from 0 to "
                             f"{SEEDS_FEE_PLACES} under cdr_profile seeds (up to "
                             f"{MAX_FEE_PLACES} under vos3000), found {places}")
        if self.reason_style == "negative":
            clash = observed_code_clash(self.reason_overrides())
            if clash is not None:
                raise ValueError(f"end_reason_codes: {clash}; no code may mean two things")
        return self

    @property
    def reason_style(self) -> str:
        """The end-reason style in force (the profile's when none is set)."""
        if self.end_reason_style is not None:
            return self.end_reason_style
        return "negative" if self.cdr_profile == "vos3000" else "server-code"

    @property
    def hold_time_precision(self) -> int:
        if self.SERVER_BILLING_HOLD_TIME_PRECISION is not None:
            return self.SERVER_BILLING_HOLD_TIME_PRECISION
        return 0 if self.cdr_profile == "vos3000" else 50

    @field_validator("end_reason_codes", mode="before")
    @classmethod
    def _reason_keys(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out = {}
        for key, number in value.items():
            reason = _reason_by_key(key)
            if reason is None:
                names = ", ".join(r.title for r in EndReason)
                raise ValueError(f"unknown end reason {key!r}; expected a number 1-25 or one "
                                 f"of: {names}")
            out[reason.name] = number
        return out

    def reason_overrides(self) -> dict[EndReason, int]:
        return {EndReason[name]: number for name, number in self.end_reason_codes.items()}

    def reason_numbers(self) -> dict[EndReason, int]:
        numbers = {reason: int(reason) for reason in EndReason}
        for name, number in self.end_reason_codes.items():
            numbers[EndReason[name]] = number
        return numbers


def _reason_by_key(key: Any) -> EndReason | None:
    if isinstance(key, int) and not isinstance(key, bool):
        return EndReason(key) if 1 <= key <= 25 else None
    if isinstance(key, str):
        if _DIGITS.fullmatch(key):
            return _reason_by_key(int(key))
        wanted = re.sub(r"[^a-z]", "", key.lower())
        for reason in EndReason:
            if re.sub(r"[^a-z]", "", reason.name.lower()) == wanted:
                return reason
    return None


class Credentials(_Model):
    user: str
    password: str


class Account(_Model):
    name: CdrName = ""
    type: Literal["prepaid", "postpaid"] = "postpaid"
    money: Annotated[Money, Balance] = Decimal(0)
    limit_money: Annotated[Money, Credit] = Decimal(0)
    rate_table: str
    status: Literal["active", "disabled"] = "active"
    expires: datetime | date | None = None
    max_concurrent: Count | None = None
    max_cps: Count | None = None
    subscribed: list[int] | None = None

    @property
    def expires_epoch(self) -> float | None:
        expires = self.expires
        if expires is None:
            return None
        if not isinstance(expires, datetime):
            expires = datetime(expires.year, expires.month, expires.day)
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        return expires.timestamp()


class SectionModel(_Model):
    time: SectionTime
    fee: Annotated[Money, Fee]


class RateModel(_Model):
    prefix: Digits
    fee: Annotated[Money, Fee]
    period: Period = 60
    call_level: Count = 0
    sections: list[SectionModel] = []
    area_code: Digits | None = None  # vos3000 profile: callerareacode / calleeareacode

    def core(self) -> Rate:
        return Rate(self.prefix, self.fee, self.period, self.call_level,
                    tuple(Section(s.time, s.fee) for s in self.sections), self.area_code or "")


class MappingGateway(_Model):
    account: str
    ips: list[Address] = Field(min_length=1)
    protocol: Literal["sip", "h323"] = "sip"
    session_timer: bool = True
    auth: Credentials | None = None
    codec: CdrName = "g729"
    user_agent: CdrName = ""
    rtp_ip: Address | None = None


class CalleeDoes(_Model):
    answer_after: Seconds | None = None
    hangup_after: Seconds | None = None
    ring_after: Seconds | None = None
    busy: Literal[True] | None = None
    reject: int | None = Field(None, ge=300, le=699)  # a 3xx: the gateway redirects
    after: Seconds | None = None
    no_answer: Literal[True] | None = None
    unreachable: Literal[True] | None = None
    # sent with its final response or BYE; the vos3000 profile copies it into sipreasonheader
    reason_header: CdrName | None = None

    @model_validator(mode="after")
    def _one_behaviour(self) -> CalleeDoes:
        kinds = [k for k in ("answer_after", "busy", "reject", "no_answer", "unreachable")
                 if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("expected exactly one of answer_after, busy, reject, no_answer, "
                             f"unreachable; found {', '.join(kinds) or 'none'}")
        allowed = {"answer_after": {"hangup_after", "ring_after"},
                   "busy": {"after", "ring_after"}, "reject": {"after", "ring_after"},
                   "no_answer": {"ring_after"}, "unreachable": set()}
        kind = kinds[0]
        for extra in ("hangup_after", "ring_after", "after"):
            if getattr(self, extra) is not None and extra not in allowed[kind]:
                raise ValueError(f"{extra!r} cannot go with {kind!r}; {kind} takes "
                                 f"{', '.join(sorted(allowed[kind])) or 'nothing else'}")
        if kind == "answer_after" and (self.ring_after or 0) > self.answer_after:
            raise ValueError(f"ring_after ({self.ring_after}) must not be later than "
                             f"answer_after ({self.answer_after})")
        if kind in ("busy", "reject") and self.ring_after is not None and not (
                0 < self.ring_after <= (self.after or 0)):
            raise ValueError(f"expected ring_after above 0 and not later than after "
                             f"({self.after or 0}) for a callee that rings, then refuses; "
                             f"found {self.ring_after}")
        return self

    @property
    def kind(self) -> str:
        for k in ("answer_after", "busy", "reject", "no_answer", "unreachable"):
            if getattr(self, k) is not None:
                return k
        raise AssertionError("validated")


class CallerDoes(_Model):
    hangup_after: Seconds | None = None
    cancel_after: Seconds | None = None
    reason_header: CdrName | None = None  # sent with its BYE or CANCEL (see CalleeDoes)

    @model_validator(mode="after")
    def _at_most_one(self) -> CallerDoes:
        if self.hangup_after is not None and self.cancel_after is not None:
            raise ValueError("expected one of hangup_after or cancel_after, found both")
        return self


class RoutingGateway(_Model):
    ip: Address
    protocol: Literal["sip", "h323"] = "sip"
    prefixes: list[Digits] = Field(min_length=1)
    priority: Priority = 1
    capacity: Count | None = None
    status: Literal["up", "down", "unreachable"] = "up"
    outages: list[Outage] = []  # time windows with another status (load scenarios)
    callee_does: CalleeDoes | None = None
    account: str | None = None  # the vendor's account: its rate table prices agentfee
    codec: CdrName = "g729"
    user_agent: CdrName = ""
    rtp_ip: Address | None = None


class CallSpec(_Model):
    """One ``calls:`` entry as written (the core's call is ``core._state.Call``)."""

    id: CdrName
    # s after the scenario's start, or a wall-clock time ("2026-11-20T10:15:00Z", disputes
    # arrive that way) that the scenario turns into seconds after its start
    at: SpanSeconds | datetime = 0
    from_: str = Field(alias="from")
    source_ip: Address | None = None
    caller: Digits
    callee: Digits
    credentials: Credentials | None = None
    callee_does: CalleeDoes | None = None
    caller_does: CallerDoes = CallerDoes()
    media_stops_after: Seconds | None = None
    refresh_fails: bool | Literal["caller", "callee"] = False
    admin_disconnect_at: Seconds | None = None
    expect: dict[str, Any] = {}

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @property
    def refresh_failing_leg(self) -> str | None:
        if self.refresh_fails is True:
            return "caller"
        return self.refresh_fails or None


class Scenario(_Model):
    version: Literal[1]
    name: str = ""
    description: str = ""
    seed: Seed = 0
    start: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    switch: SwitchSettings = SwitchSettings()
    accounts: dict[CdrName, Account] = {}
    rate_tables: dict[str, list[RateModel]] = {}
    mapping_gateways: dict[CdrName, MappingGateway] = {}
    routing_gateways: dict[CdrName, RoutingGateway] = {}
    blacklist: list[Digits] = []
    calls: list[CallSpec] = []
    traffic: list[TrafficProfile] = []
    # where each key path is in the file it was loaded from (None when built in code)
    _source: Any = PrivateAttr(default=None)

    @field_validator("start")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return start_in_range(value if value.tzinfo else value.replace(tzinfo=UTC))

    @model_validator(mode="after")
    def _wall_clock_arrivals(self) -> Scenario:
        """``at: "2026-11-20T10:15:00Z"`` -> seconds after ``start``. A time before the start
        stays as it is and ``cross_reference_errors`` reports it where it was written, as does
        one more than 366 days after it."""
        calls = []
        for call in self.calls:
            if isinstance(call.at, datetime):
                at = call.at if call.at.tzinfo else call.at.replace(tzinfo=UTC)
                offset = (at - self.start).total_seconds()
                if 0 <= offset <= MAX_SPAN:  # the bound of a numeric ``at``
                    call = call.model_copy(update={"at": offset})
            calls.append(call)
        object.__setattr__(self, "calls", calls)
        return self

    def core_rate_tables(self) -> dict[str, list[Rate]]:
        return {name: [rate.core() for rate in rates] for name, rates in self.rate_tables.items()}


def cross_reference_errors(scenario: Scenario) -> list[tuple[tuple[Any, ...], str]]:
    """Checks between sections that one model cannot make: (key path, message) pairs."""
    errors: list[tuple[tuple[Any, ...], str]] = []

    def unknown(path: tuple[Any, ...], what: str, name: str, known: dict[str, Any]) -> None:
        if name not in known:
            choices = ", ".join(sorted(known)) or "none defined"
            errors.append((path, f"expected the name of {what} ({choices}), found {name!r}"
                                 + _did_you_mean(name, known)))

    for name, account in scenario.accounts.items():
        unknown(("accounts", name, "rate_table"), "a rate table", account.rate_table,
                scenario.rate_tables)
    for name, gateway in scenario.mapping_gateways.items():
        unknown(("mapping_gateways", name, "account"), "an account", gateway.account,
                scenario.accounts)
    for name, vendor in scenario.routing_gateways.items():
        if vendor.account is not None:
            unknown(("routing_gateways", name, "account"), "an account", vendor.account,
                    scenario.accounts)
    owner: dict[str, str] = {}
    for name, gateway in scenario.mapping_gateways.items():
        for i, ip in enumerate(gateway.ips):
            if ip in owner and owner[ip] != name:
                errors.append((("mapping_gateways", name, "ips", i),
                               f"expected an address no other mapping gateway uses, found {ip!r} "
                               f"(also on {owner[ip]})"))
            owner[ip] = name
    for name, rates in scenario.rate_tables.items():
        seen: set[str] = set()
        for i, rate in enumerate(rates):
            if rate.prefix in seen:
                errors.append((("rate_tables", name, i, "prefix"),
                               f"expected each prefix once per table, found {rate.prefix!r} again"))
            seen.add(rate.prefix)
    ids: set[str] = set()
    for i, call in enumerate(scenario.calls):
        if isinstance(call.at, datetime):
            errors.append((("calls", i, "at"), _wall_clock_error(call.at, scenario.start)))
        unknown(("calls", i, "from"), "a mapping gateway", call.from_, scenario.mapping_gateways)
        if call.id in ids:
            errors.append((("calls", i, "id"), f"expected a unique call id, found {call.id!r} "
                                                "a second time"))
        ids.add(call.id)
        for key in call.expect:
            if key not in EXPECTABLE:
                errors.append((("calls", i, "expect", key),
                               "expected a CDR field (pipe name such as holdTime, an e_cdr column "
                               f"such as calleegatewayid, or recorded), found {key!r}"
                               + _did_you_mean(key, EXPECTABLE)))
    errors.extend(traffic_errors(scenario))
    return errors


def _wall_clock_error(at: datetime, start: datetime) -> str:
    """Why a wall-clock ``at`` stayed a time: before the start or too far after it."""
    aware = at if at.tzinfo else at.replace(tzinfo=UTC)
    if aware < start:
        return (f"expected a time at or after the scenario's start ({start.isoformat()}), "
                f"found {at.isoformat()}")
    return (f"expected a time at most {MAX_SPAN // DAY} days after the scenario's start "
            f"({start.isoformat()}), found {at.isoformat()}")


def traffic_errors(scenario: Scenario) -> list[tuple[tuple[Any, ...], str]]:
    """Checks between ``traffic:`` and the rest of the scenario: (key path, message) pairs."""
    errors: list[tuple[tuple[Any, ...], str]] = []
    for i, profile in enumerate(scenario.traffic):
        gateways = scenario.mapping_gateways
        if profile.from_ not in gateways:
            choices = ", ".join(sorted(gateways)) or "none defined"
            errors.append((("traffic", i, "from"), f"expected the name of a mapping gateway "
                           f"({choices}), found {profile.from_!r}"
                           + _did_you_mean(profile.from_, gateways)))
        if profile.callee_mix.no_answer > 0 and scenario.switch.no_answer_timeout == 0 and (
                profile.cancel is None or profile.cancel.share < 1):
            errors.append((("traffic", i, "callee_mix", "no_answer"),
                           "expected switch.no_answer_timeout > 0 (or cancel: 1) when callees "
                           "may not answer: those calls would ring for ever"))
    return errors


def _did_you_mean(name: str, known: Any) -> str:
    import difflib

    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
