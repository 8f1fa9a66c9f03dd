"""The pool of pjsua2 agent processes that play a scenario's callers and routing gateways.

pjsua2 from PyPI holds 4 calls per process, so callers are split into groups of at most
``LEGS_PER_AGENT`` calls, one process each, bound to the (loopback-mapped) address their calls
come from; each routing gateway that is not ``down`` or ``unreachable`` gets as many processes
as its busiest moment needs (``_capacity``): the first listens on the gateway's own address,
the others on free ports of the same host, and the switch spreads the INVITEs over them. A
process that dies is reported, never silently replaced: a crashed agent means the scenario did
not run as written.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from typing import Any

from simulator.core import ANSWER_AT_ONCE
from simulator.scenario import CalleeDoes, Scenario, callee_behaviour, caller_behaviour
from simulator.transports.live._addresses import AddressPlan
from simulator.transports.live._capacity import LEGS_PER_AGENT, AgentNeeds, caller_source

READY_TIMEOUT = 30.0  # s for every agent to load pjsua2 and bind
START_MARGIN = 0.3    # s between "go" and scenario time 0


class AgentProcess:
    def __init__(self, role: str, job: dict[str, Any], gateway: str | None = None) -> None:
        self.role = role
        self.job = job
        self.gateway = gateway  # the routing gateway it plays, if it plays one
        self.address: tuple[str, int] | None = None  # where it listens, once ready
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulator.transports.live._agent"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.proc.stdin.write(json.dumps(job) + "\n")
        self.proc.stdin.flush()

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                self.lines.put(json.loads(line))
            except json.JSONDecodeError:
                self.lines.put({"event": "output", "text": line.rstrip()})

    def go(self, t0: float) -> None:
        self.proc.stdin.write(json.dumps({"t0": t0}) + "\n")
        self.proc.stdin.flush()

    @property
    def exited(self) -> bool:
        return self.proc.poll() is not None


class AgentPool:
    def __init__(self, scenario: Scenario, plan: AddressPlan, *, switch_port: int,
                 speed: float, media: bool = False, needs: AgentNeeds | None = None) -> None:
        self.scenario = scenario
        self.plan = plan
        self.needs = needs or AgentNeeds()
        self.switch_port = switch_port
        self.speed = speed
        self.media = media  # real RTP (the switch anchors it) instead of loop media transport
        self.agents: list[AgentProcess] = []
        self.reported: list[str] = []

    def _jobs(self) -> list[tuple[str, dict[str, Any], str | None]]:
        scenario, plan = self.scenario, self.plan
        common = {"speed": self.speed, "switch": ["127.0.0.1", self.switch_port],
                  "deadline": _deadline(scenario), "media": self.media}
        jobs: list[tuple[str, dict[str, Any], str | None]] = []
        failing = {c.id for c in scenario.calls if c.refresh_failing_leg == "callee"}
        # What each callee does, interpreted once (``callee_behaviour``) as the simulator plays it
        behaviours = {c.id: callee_behaviour(c.callee_does).to_dict()
                      for c in scenario.calls if c.callee_does}
        # the Reason header each callee sends with its final response or BYE (None: none)
        reasons = {c.id: c.callee_does.reason_header for c in scenario.calls if c.callee_does}
        for name, gateway in scenario.routing_gateways.items():
            if gateway.status != "up":
                continue  # down: never invited; unreachable: nobody listens
            host, port = plan.local(gateway.ip)
            count = self.needs.gateway_agents.get(name, 1)
            for n in range(count):
                role = f"gateway {name}" + (f" #{n + 1}" if count > 1 else "")
                jobs.append((role, {
                    **common, "host": host, "port": port if n == 0 else 0,
                    "behaviours": behaviours, "default": _behaviour_dict(gateway.callee_does),
                    "reasons": reasons, "default_reason": gateway.callee_does.reason_header
                    if gateway.callee_does else None,
                    "refresh_fails": sorted(failing)}, name))
        groups: dict[str, list[dict[str, Any]]] = {}
        for call in sorted(scenario.calls, key=lambda c: c.at):
            source = caller_source(scenario, call)
            host, port = plan.local(source)
            spec = {"id": call.id, "at": call.at, "caller": call.caller, "callee": call.callee,
                    "caller_does": asdict(caller_behaviour(call.caller_does)),
                    "reason_header": call.caller_does.reason_header,
                    "refresh_fails": call.refresh_failing_leg,
                    "media_stops_after": call.media_stops_after,
                    "credentials": _dump(call.credentials),
                    "port": port if ":" in source else 0}
            groups.setdefault(f"{host}:{spec['port']}", []).append(spec)
        for key, specs in groups.items():
            host, port = key.rsplit(":", 1)
            # a fixed source port can be bound by one process only
            size = len(specs) if port != "0" else LEGS_PER_AGENT
            for i in range(0, len(specs), size):
                chunk = specs[i:i + size]
                jobs.append((f"callers {key} {chunk[0]['id']}…", {
                    **common, "host": host, "port": int(port), "calls": chunk}, None))
        return jobs

    def start(self) -> float:
        """Start every agent, wait until all are ready, and return the monotonic scenario t=0."""
        for role, job, gateway in self._jobs():
            self.agents.append(AgentProcess(role, job, gateway))
        deadline = time.monotonic() + READY_TIMEOUT
        for agent in self.agents:
            while True:
                try:
                    line = agent.lines.get(timeout=0.2)
                except queue.Empty:
                    if agent.exited and agent.lines.empty():
                        raise RuntimeError(f"agent {agent.role} died at start "
                                           f"(status {agent.proc.returncode}): "
                                           f"{self.reported[-8:]}") from None
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"agent {agent.role} did not start within "
                                           f"{READY_TIMEOUT:g} s: {self.reported[-8:]}") from None
                    continue
                if line.get("event") == "ready":
                    agent.address = (agent.job["host"], int(line.get("port", agent.job["port"])))
                    break
                self.reported.append(f"{agent.role}: {line.get('text', line)}")
        t0 = time.monotonic() + START_MARGIN
        for agent in self.agents:
            agent.go(t0)
        return t0

    def gateway_addresses(self) -> dict[str, list[tuple[str, int]]]:
        """Routing gateway name -> where its agents listen (the gateway's own address first)."""
        out: dict[str, list[tuple[str, int]]] = {}
        for agent in self.agents:
            if agent.gateway is not None and agent.address is not None:
                out.setdefault(agent.gateway, []).append(agent.address)
        return out

    def poll_errors(self) -> list[str]:
        out = []
        for agent in self.agents:
            while True:
                try:
                    line = agent.lines.get_nowait()
                except queue.Empty:
                    break
                if line.get("event") in ("error", "output"):
                    out.append(f"{agent.role}: {line.get('text', line)}")
            if agent.exited and agent.proc.returncode not in (0, None, -15, -9) \
                    and agent.role not in self.reported:
                self.reported.append(agent.role)
                out.append(f"{agent.role} exited with status {agent.proc.returncode}")
        return out

    def settled(self) -> bool:
        """Every caller agent has finished its calls and exited."""
        return all(a.exited for a in self.agents if a.role.startswith("callers"))

    def stop(self) -> list[str]:
        for agent in self.agents:
            if not agent.exited:
                agent.proc.stdin.close()
                agent.proc.terminate()
        for agent in self.agents:
            try:
                agent.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                agent.proc.kill()
                agent.proc.wait(timeout=5)
        return self.poll_errors()


def _behaviour_dict(spec: CalleeDoes | None) -> dict[str, Any]:
    return (callee_behaviour(spec) or ANSWER_AT_ONCE).to_dict()


def _dump(model: Any) -> Any:
    return None if model is None else model.model_dump(exclude_none=True)


def _deadline(scenario: Scenario) -> float:
    """Scenario seconds after which an agent gives up: later than anything a call can do."""
    last = max((c.at for c in scenario.calls), default=0.0)
    return last + 4 * 3600 + 600
