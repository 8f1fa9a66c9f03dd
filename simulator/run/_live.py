"""``vossim live``: a run over real SIP. The switch (``transports.live``) plays every call through
the core on loopback; this run owns what a run owns, as ``run_scenario`` does for a simulated
one: its outputs (``RunOutputs``: the sinks, the statistics, the trace file, and their commit or
abort), the capture and the signals that stop it.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cdr_writer import DEFAULT_FORMATS, Cdr
from simulator.core import Call
from simulator.run._outputs import RunOutputs
from simulator.run._stats import RunStats
from simulator.scenario import Scenario
from simulator.transports.live import (
    AddressPlan,
    LiveError,
    LiveOptions,
    LiveSwitch,
    console,
    stack_errors,
)

POLL = 0.1  # s: how often the loop looks whether the scenario's calls are all done
SETTLE_GRACE = 3.0  # s after the last caller agent exited before missing CDRs are reported


@dataclass
class LiveResult:
    scenario: Scenario
    stats: RunStats
    cdrs: list[Cdr] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    agent_errors: list[str] = field(default_factory=list)
    released_at_shutdown: int = 0  # calls the switch released because it stopped
    stack_errors: int = 0          # exceptions inside the SIP stack (each one a bug)

    def by_call(self) -> dict[str, Cdr]:
        return {cdr.call_id: cdr for cdr in self.cdrs}


def run_live(scenario: Scenario, *, stats: RunStats | None = None, port: int = 5060,
             speed: float = 1.0, duration: float | None = None, gateway_port: int = 5060,
             out_dir: str | Path | None = "out",
             formats: tuple[str, ...] = DEFAULT_FORMATS, pcap: str | Path | None = None,
             agents: bool = True, media: bool | None = None, echo: Callable[[str], None] = print,
             on_call_end: Callable[[Call, Cdr], None] | None = None,
             trace: str | Path | None = None) -> LiveResult:
    """Run ``scenario`` over real SIP on loopback.

    With ``calls:`` and no ``duration`` the run ends when every scenario call has its CDR; with
    ``duration`` it serves external peers for that many seconds; with neither, until Ctrl-C.
    ``media``: anchor every call's RTP at the switch (True), none (False), or only when a call
    of the scenario stops its RTP under a media timeout (None). ``trace``: write every call's
    ladder and the core's events as JSON lines, the same lines as ``vossim run --trace``.
    ``stats``: the run's tally (a new one by default); every CDR the switch writes is added.
    """
    if not 1 <= gateway_port <= 65535:
        raise LiveError(f"gateway port {gateway_port} is not a UDP port (1-65535)")
    plan = AddressPlan.for_scenario(scenario, gateway_port)
    needs = None
    if agents and scenario.calls:
        from simulator.transports.live import agent_needs

        needs = agent_needs(scenario, speed)  # refuses what cannot be played, before anything
    places = scenario.switch.SERVER_BILLING_FEE_PRECISTION
    outputs: RunOutputs | None = None
    stats = RunStats() if stats is None else stats
    result = LiveResult(scenario, stats)

    wanted = {call.id for call in scenario.calls}
    done: set[str] = set()
    written: Callable[[Cdr], None] | None = None

    def record(cdr: Cdr) -> None:
        # only the scenario's own calls are kept in memory: a switch serving external peers
        # for hours would otherwise hold every CDR it ever wrote
        if cdr.call_id in wanted:
            result.cdrs.append(cdr)
            done.add(cdr.call_id)
        if written is not None:
            written(cdr)

    # bind first: a port that cannot be had is refused before anything is written
    live = LiveSwitch(scenario, plan, LiveOptions(port=port, speed=speed, media=media), record,
                      trace=trace is not None)
    try:  # the statistics, the sinks and the trace file, staged and committed at the end
        outputs = RunOutputs(places, out_dir=out_dir, formats=formats, trace_path=trace,
                             stats=stats)
    except BaseException:
        live.shutdown()
        raise
    live.trace = outputs.trace_handle
    # sippy's loop runs the switch: the stop a signal asks for is taken by ``interrupt`` below
    written = outputs.on_cdr(takes_stops=False)
    port = live.port
    capture = None
    if pcap is not None:
        from simulator.transports.live._capture import Capture

        capture = Capture(pcap, ports={port, *_gateway_ports(scenario, plan)})
        capture.start()
    live.on_call_end = on_call_end
    echo(f"vossim live: switch on 127.0.0.1:{port} (speed x{speed:g})")
    echo(plan.describe())
    if live.media:
        echo("  media: RTP anchored at the switch (real RTP between the agents and the switch)")
    for name, gateway in scenario.routing_gateways.items():
        host, gw_port = plan.local(gateway.ip)
        served = ""
        if needs is not None and needs.gateway_agents.get(name, 1) > 1:
            served = (f" ({needs.gateway_agents[name]} agents: up to "
                      f"{needs.gateway_peaks[name].legs} calls at once)")
        echo(f"  routing gateway {name}: {gateway.ip} -> {host}:{gw_port}{served}")
    for name, gateway in scenario.mapping_gateways.items():
        echo(f"  mapping gateway {name}: " + ", ".join(
            f"{ip} -> {plan.local(ip)[0]}{ip[len(ip.split(':')[0]):]}" for ip in gateway.ips))

    pool = None
    if agents and scenario.calls:
        from simulator.transports.live import AgentPool

        pool = AgentPool(scenario, plan, switch_port=port, speed=speed, media=live.media,
                         needs=needs)
        try:
            live.started_mono = pool.start()
            live.set_gateways(pool.gateway_addresses())
        except BaseException as exc:
            pool.stop()
            live.shutdown()
            if capture is not None:
                capture.stop()
            outputs.abort(exc)  # not direct: the staged files and trace go, whatever it was
            raise

    from sippy.Time.Timeout import Timeout

    settled_since: float | None = None

    def watch() -> None:
        nonlocal settled_since
        if pool is not None:
            result.agent_errors.extend(pool.poll_errors())
        if duration is None and wanted and wanted <= done and (pool is None or pool.settled()):
            live.stop()
            return
        if duration is None and pool is not None and pool.settled():
            # every caller agent is gone but some calls have no CDR: wait for the switch's
            # own timers a while, then give up rather than hang
            now = time.monotonic()
            settled_since = settled_since or now
            if now - settled_since > SETTLE_GRACE + 40 / speed:
                for call_id in sorted(wanted - done):
                    result.agent_errors.append(f"call {call_id}: no CDR (never reached the "
                                               "switch, or never ended)")
                live.stop()
                return
        Timeout(watch, POLL)

    if wanted or pool is not None:
        Timeout(watch, POLL)
    interrupted: list[int] = []

    def interrupt(signum: int, _frame: object) -> None:
        # sippy's loop swallows KeyboardInterrupt: end the loop ourselves, then write the CDRs
        interrupted.append(signum)
        live.stop()

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    errors_before = stack_errors.count
    try:
        live.run(duration)
    except BaseException as exc:
        outputs.abort(exc)  # not direct: the staged files and trace go, whatever the error
        raise
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if interrupted:
            echo("vossim live: interrupted; calls in progress released, writing the CDRs")
        if pool is not None:
            result.agent_errors.extend(pool.stop())
        live.shutdown()
        result.released_at_shutdown = live.released_at_shutdown
        result.stack_errors = stack_errors.count - errors_before
        if result.stack_errors:
            result.agent_errors.append(f"switch: {stack_errors.summary()}")
        for summary in (live.shutdown_summary(), live.media_summary(), live.trust_summary(),
                        live.memory_summary(), console.summary()):
            if summary is not None:
                echo(f"vossim live: {summary}")
        if capture is not None:
            time.sleep(0.2)  # let the last datagrams reach the sniffer
            capture.stop()
    try:
        result.files = outputs.commit()
    except BaseException as exc:
        outputs.abort(exc)
        raise
    if capture is not None:
        result.files.append(Path(pcap))
    return result


def _gateway_ports(scenario: Scenario, plan: AddressPlan) -> set[int]:
    return {plan.local(g.ip)[1] for g in scenario.routing_gateways.values()}
