"""The scenario, validated, translated once into the core's plain records (``core._config``).

This is the only place that reads the schema on the core's behalf: the transports call
``core_config`` and give the result to ``simulator.core.Switch``. ``callee_behaviour`` is the one
interpretation of a ``callee_does`` (busy is 486, a reject its code) for the simulator, the
traffic generator and the live agents.
"""

from __future__ import annotations

from dataclasses import fields

from simulator.core import (
    ANSWER,
    NO_ANSWER,
    UNREACHABLE,
    AccountConfig,
    Behaviour,
    CallerBehaviour,
    CoreConfig,
    Credentials,
    MappingGatewayConfig,
    Outage,
    RoutingGatewayConfig,
    SwitchConfig,
)
from simulator.scenario._schema import (
    Account,
    CalleeDoes,
    CallerDoes,
    MappingGateway,
    RoutingGateway,
    Scenario,
    SwitchSettings,
)

BUSY = 486


def core_config(scenario: Scenario) -> CoreConfig:
    return CoreConfig(
        start_epoch=scenario.start.timestamp(),
        switch=switch_config(scenario.switch),
        accounts={name: account_config(a) for name, a in scenario.accounts.items()},
        rate_tables={name: tuple(rate.core() for rate in rates)
                     for name, rates in scenario.rate_tables.items()},
        mapping_gateways={name: mapping_gateway_config(g)
                          for name, g in scenario.mapping_gateways.items()},
        routing_gateways={name: routing_gateway_config(g)
                          for name, g in scenario.routing_gateways.items()},
        blacklist=tuple(scenario.blacklist),
        seed=scenario.seed,
    )


# Fields the schema does not hold as they are: worked out below.
_RESOLVED = ("reason_numbers", "end_reason_overrides", "end_reason_style",
             "SERVER_BILLING_HOLD_TIME_PRECISION")
_SWITCH_FIELDS = tuple(f.name for f in fields(SwitchConfig) if f.name not in _RESOLVED)


def switch_config(settings: SwitchSettings) -> SwitchConfig:
    return SwitchConfig(**{name: getattr(settings, name) for name in _SWITCH_FIELDS},
                        reason_numbers=settings.reason_numbers(),
                        end_reason_overrides=settings.reason_overrides(),
                        end_reason_style=settings.reason_style,
                        SERVER_BILLING_HOLD_TIME_PRECISION=settings.hold_time_precision)


def account_config(account: Account) -> AccountConfig:
    return AccountConfig(
        rate_table=account.rate_table, name=account.name, type=account.type,
        money=account.money, limit_money=account.limit_money, status=account.status,
        expires_epoch=account.expires_epoch, max_concurrent=account.max_concurrent,
        max_cps=account.max_cps,
        subscribed=None if account.subscribed is None else tuple(account.subscribed))


def mapping_gateway_config(gateway: MappingGateway) -> MappingGatewayConfig:
    auth = gateway.auth
    return MappingGatewayConfig(
        account=gateway.account, ips=tuple(gateway.ips), protocol=gateway.protocol,
        session_timer=gateway.session_timer,
        auth=Credentials(auth.user, auth.password) if auth is not None else None,
        codec=gateway.codec, user_agent=gateway.user_agent, rtp_ip=gateway.rtp_ip or "")


def routing_gateway_config(gateway: RoutingGateway) -> RoutingGatewayConfig:
    return RoutingGatewayConfig(
        ip=gateway.ip, prefixes=tuple(gateway.prefixes), protocol=gateway.protocol,
        priority=gateway.priority, capacity=gateway.capacity, status=gateway.status,
        outages=tuple(Outage(o.at, o.until, o.status) for o in gateway.outages),
        callee_does=callee_behaviour(gateway.callee_does), account=gateway.account,
        codec=gateway.codec, user_agent=gateway.user_agent, rtp_ip=gateway.rtp_ip or "")


def callee_behaviour(spec: CalleeDoes | None) -> Behaviour | None:
    """A ``callee_does`` as the parties play it (None: the gateway's default)."""
    if spec is None:
        return None
    kind = spec.kind
    if kind == "answer_after":
        return Behaviour(ANSWER, spec.ring_after or 0.0, spec.answer_after or 0.0,
                         spec.hangup_after)
    if kind == "no_answer":
        return Behaviour(NO_ANSWER, spec.ring_after or 0.0)
    if kind == "unreachable":
        return Behaviour(UNREACHABLE)
    code = BUSY if kind == "busy" else spec.reject
    return Behaviour(code, spec.ring_after or 0.0, reply_after=spec.after or 0.0)


def caller_behaviour(spec: CallerDoes) -> CallerBehaviour:
    return CallerBehaviour(spec.hangup_after, spec.cancel_after)
