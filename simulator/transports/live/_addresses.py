"""Where scenario addresses live on this machine: everything is put on 127.0.0.0/8.

A scenario names public addresses (``203.0.113.10``, ``198.51.100.20:5070``). Live mode never
sends anywhere but loopback, so each non-loopback host is given its own 127.0.0.x (x from 10 up,
in the order the scenario names them) and keeps its port; loopback hosts are used as they are.
Mapping gateways are recognised by the source of an INVITE: by ``host:port`` when the scenario
gives a port, by host alone otherwise.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from simulator.scenario import Scenario

SIP_PORT = 5060
_FIRST_MAPPED = 10


def is_loopback(host: str) -> bool:
    """An IP literal on 127.0.0.0/8 (or ::1). A name is not: live mode never resolves one."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def split_address(address: str) -> tuple[str, int | None]:
    if address.count(":") == 1:
        host, port = address.split(":")
        return host, int(port)
    return address, None


@dataclass
class AddressPlan:
    """Scenario host -> loopback host, and back for recognising INVITE sources."""

    hosts: dict[str, str] = field(default_factory=dict)
    default_port: int = SIP_PORT  # for scenario addresses without a port

    @classmethod
    def for_scenario(cls, scenario: Scenario, default_port: int = SIP_PORT) -> AddressPlan:
        plan = cls(default_port=default_port)
        for gateway in scenario.mapping_gateways.values():
            for ip in gateway.ips:
                plan.add(split_address(ip)[0])
        for gateway in scenario.routing_gateways.values():
            plan.add(split_address(gateway.ip)[0])
        for call in scenario.calls:
            if call.source_ip:
                plan.add(split_address(call.source_ip)[0])
        return plan

    def add(self, host: str) -> str:
        if host not in self.hosts:
            if ipaddress.ip_address(host).is_loopback:
                self.hosts[host] = host
            else:
                mapped = sum(1 for h, m in self.hosts.items() if h != m)
                number = _FIRST_MAPPED + mapped
                if number > 254:
                    raise ValueError("too many distinct addresses to map onto 127.0.0.x")
                self.hosts[host] = f"127.0.0.{number}"
        return self.hosts[host]

    def local(self, address: str) -> tuple[str, int]:
        """Where a scenario address is on loopback: (host, port)."""
        host, port = split_address(address)
        return self.add(host), port if port is not None else self.default_port

    def mapped(self) -> list[tuple[str, str]]:
        """(scenario host, loopback host) pairs that were actually moved."""
        return [(h, m) for h, m in self.hosts.items() if h != m]

    def describe(self) -> str:
        pairs = self.mapped()
        if not pairs:
            return "addresses: all scenario addresses are loopback; nothing mapped"
        return "addresses mapped onto loopback: " + ", ".join(f"{h} -> {m}" for h, m in pairs)


@dataclass
class SourceIndex:
    """Recognise the scenario address an INVITE came from (for the core's gateway lookup)."""

    by_host_port: dict[tuple[str, int], str] = field(default_factory=dict)
    by_host: dict[str, str] = field(default_factory=dict)
    unmapped: dict[str, str] = field(default_factory=dict)  # loopback host -> scenario host

    @classmethod
    def build(cls, scenario: Scenario, plan: AddressPlan) -> SourceIndex:
        index = cls()
        index.unmapped = {local: host for host, local in plan.hosts.items()}
        for gateway in scenario.mapping_gateways.values():
            for ip in gateway.ips:
                host, port = split_address(ip)
                local = plan.add(host)
                if port is None:
                    index.by_host[local] = ip
                else:
                    index.by_host_port[(local, port)] = ip
        return index

    def scenario_address(self, host: str, port: int) -> str:
        """The scenario's name for a packet source; unknown sources keep their own address."""
        found = self.by_host_port.get((host, port)) or self.by_host.get(host)
        if found is None:
            found = self.unmapped.get(host, host)
        return found
