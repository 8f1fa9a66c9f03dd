"""One pjsua2 agent process: plays up to 4 call legs of a scenario (callers, or one gateway).

Run as ``python -m simulator.transports.live._agent``; the job arrives as one JSON line on
stdin, then a second line ``{"t0": MONOTONIC}`` says when scenario time 0 is. Progress and
problems go to stdout as JSON lines (``ready``, ``error``, ``done``).

The PyPI pjsua2 build's limits shape this file (see shared/reference/live-sip.md): 4 calls per
process, ``threadCnt = 0`` with ``libHandleEvents`` polled from this one thread, loop media
transport (real G.711 RTP with VAD off only when the switch anchors media), every Call kept
referenced until its DISCONNECTED callback and dropped there, every Call freed before
``libDestroy``. Timing runs on a simpy ``RealtimeEnvironment`` in scenario seconds
(``factor = 1/speed``); one simpy process pumps pjsua's events every POLL seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

import pjsua2 as pj
import simpy
import simpy.rt

from simulator.core import Behaviour

POLL = 0.002            # s of real time between two pjsua event polls
SESSION_EXPIRES = 1800  # s; pjsua aborts below 90. pjsua's own timer stays off (see below)
CALL_TAG = "X-Vossim-Call"


def say(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


class Agent:
    def __init__(self, job: dict[str, Any]) -> None:
        self.job = job
        self.speed = float(job["speed"])
        self.calls: dict[int, AgentCall] = {}
        self.accounts: dict[tuple[str, str, str], AgentAccount] = {}
        self.env: simpy.rt.RealtimeEnvironment | None = None
        self.finished = 0
        self.ep = pj.Endpoint()
        self.ep.libCreate()
        config = pj.EpConfig()
        config.uaConfig.threadCnt = 0
        config.uaConfig.mainThreadOnly = False
        config.logConfig.level = 0
        config.logConfig.consoleLevel = 0
        config.medConfig.threadCnt = 0
        self.media = bool(job.get("media"))
        # VAD off: a stream nothing feeds still sends a (silent) packet every 20 ms, as a phone
        # does; with VAD on, pjsua's detector would decide when RTP flows
        config.medConfig.noVad = self.media
        if self.media:
            # the null sound device clocks the conference bridge, which clocks every stream's
            # RTP: pjsua closes it after 1 s with nothing connected to it, and RTP stops
            config.medConfig.sndAutoCloseTime = -1
        self.ep.libInit(config)
        transport = pj.TransportConfig()
        transport.boundAddress = job["host"]
        transport.publicAddress = job["host"]
        transport.port = int(job.get("port", 0))
        transport_id = self.ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
        # port 0 (a gateway's extra agent): the switch must learn the port the kernel gave
        self.port = int(self.ep.transportGetInfo(transport_id).localName.rsplit(":", 1)[1])
        self.ep.libStart()
        self.ep.audDevManager().setNullDev()
        if self.media:
            # G.711 only: the cheapest codec to encode, and what a VOS3000 trunk carries
            for codec in self.ep.codecEnum2():
                self.ep.codecSetPriority(codec.codecId,
                                         255 if codec.codecId.startswith("PCMU/") else 0)

    def account(self, user: str, credentials: dict[str, str] | None = None) -> AgentAccount:
        key = (user, *(credentials or {}).values())
        found = self.accounts.get(key)
        if found is None:
            config = pj.AccountConfig()
            config.idUri = f"sip:{user}@{self.job['host']}"
            # Loop media opens no RTP sockets (real ones make pjsua abort near 30-40 CPS): real
            # RTP only when the switch anchors it, on the agent's loopback address.
            config.mediaConfig.useLoopMedTp = not self.media
            config.mediaConfig.transportConfig.boundAddress = self.job["host"]
            config.mediaConfig.transportConfig.publicAddress = self.job["host"]
            # Session timers are the switch's job in these scenarios: pjsua's own would refresh
            # on its schedule and hide what the switch does.
            config.callConfig.timerUse = pj.PJSUA_SIP_TIMER_INACTIVE
            config.callConfig.timerSessExpiresSec = SESSION_EXPIRES
            config.callConfig.timerMinSESec = 90
            if credentials:
                config.sipConfig.authCreds.append(pj.AuthCredInfo(
                    "digest", "*", credentials["user"], 0, credentials["password"]))
            found = AgentAccount(self)
            found.create(config)
            self.accounts[key] = found
        return found

    # -- time -----------------------------------------------------------------------------------
    def start_clock(self, t0: float) -> simpy.rt.RealtimeEnvironment:
        env = simpy.rt.RealtimeEnvironment(initial_time=0, factor=1 / self.speed, strict=False)
        env.real_start = t0
        self.env = env
        env.process(self._pump())
        return env

    def _pump(self) -> Iterator[simpy.Event]:
        step = POLL * self.speed
        while True:
            self.ep.libHandleEvents(0)
            yield self.env.timeout(step)

    def later(self, delay: float, key: int | None, method: str, *args: Any) -> None:
        """Call ``method(*args)`` on call ``key`` ``delay`` scenario seconds from now.

        Only the key is kept, never the Call: a Call that outlives its DISCONNECTED callback
        aborts pjsua when it is finally freed.
        """
        def wait() -> Iterator[simpy.Event]:
            yield self.env.timeout(max(0.0, delay))
            call = self.calls.get(key)
            if call is None:
                return  # ended meanwhile
            try:
                getattr(call, method)(*args)
            except pj.Error as exc:
                say(event="note", text=f"{exc.reason}")
            finally:
                del call
        self.env.process(wait())

    def shutdown(self) -> None:
        for call in list(self.calls.values()):
            with contextlib.suppress(pj.Error):
                call.hangup(pj.CallOpParam())
        deadline = time.monotonic() + 2
        while self.calls and time.monotonic() < deadline:
            self.ep.libHandleEvents(10)
        self.calls.clear()
        self.accounts.clear()
        self.ep.libDestroy()


class AgentAccount(pj.Account):
    def __init__(self, agent: Agent) -> None:
        super().__init__()
        self.agent = agent

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        agent = self.agent
        call = AgentCall(agent, self, prm.callId)
        agent.calls[prm.callId] = call
        call.tag = _header(prm.rdata.wholeMsg, CALL_TAG)
        call.play_gateway()


class AgentCall(pj.Call):
    def __init__(self, agent: Agent, account: AgentAccount, call_id: int = -1) -> None:
        super().__init__(account, call_id)
        self.agent = agent
        self.tag = ""
        self.script: dict[str, Any] = {}
        self.answered = False
        self.ignore_refresh = False
        self.media_stops_after: float | None = None
        self.reason: str | None = None  # the Reason header sent with a BYE, CANCEL or refusal
        self.key: int | None = call_id if call_id >= 0 else None

    # -- a caller -------------------------------------------------------------------------------
    def dial(self, spec: dict[str, Any]) -> None:
        agent = self.agent
        self.script = spec.get("caller_does") or {}
        self.ignore_refresh = spec.get("refresh_fails") == "caller"
        self.media_stops_after = spec.get("media_stops_after")
        self.reason = spec.get("reason_header")
        self.tag = spec["id"]
        prm = pj.CallOpParam(True)
        header = pj.SipHeader()
        header.hName = CALL_TAG
        header.hValue = spec["id"]
        prm.txOption.headers.append(header)
        host, port = agent.job["switch"]
        self.makeCall(f"sip:{spec['callee']}@{host}:{port}", prm)
        self.key = self.getId()
        agent.calls[self.key] = self
        cancel = self.script.get("cancel_after")
        if cancel is not None:
            agent.later(cancel, self.key, "_cancel")

    def _cancel(self) -> None:
        if not self.answered:
            self.hangup(self._with_reason(pj.CallOpParam()))

    def _with_reason(self, prm: pj.CallOpParam) -> pj.CallOpParam:
        """``prm`` carrying the party's Reason header, when the scenario gives it one."""
        if self.reason:
            header = pj.SipHeader()
            header.hName = "Reason"
            header.hValue = self.reason
            prm.txOption.headers.append(header)
        return prm

    # -- a gateway ------------------------------------------------------------------------------
    def play_gateway(self) -> None:
        """Answer as the scenario's callee does: the core's ``Behaviour``, as the simulator."""
        job = self.agent.job
        found = job["behaviours"].get(self.tag) or job["default"]
        behaviour = Behaviour(**found)
        self.reason = job.get("reasons", {}).get(self.tag) if self.tag in job["behaviours"] \
            else job.get("default_reason")
        self.script = {"hangup_after": behaviour.hangup_after}
        self.ignore_refresh = self.tag in job.get("refresh_fails", [])
        for after, code in behaviour.responses():
            self.agent.later(after, self.key, "_respond", code)

    def _respond(self, code: int) -> None:
        if self.answered:
            return
        prm = pj.CallOpParam()
        prm.statusCode = code
        self.answer(self._with_reason(prm) if code >= 300 else prm)

    # -- both -----------------------------------------------------------------------------------
    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        info = self.getInfo()
        agent = self.agent
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED and not self.answered:
            self.answered = True
            hangup = self.script.get("hangup_after")
            if hangup is not None:
                agent.later(hangup, self.key, "_hangup")
            if self.media_stops_after is not None and agent.media:
                agent.later(self.media_stops_after, self.key, "_stop_media")
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED:
            agent.finished += 1
            say(event="ended", call=self.tag, code=info.lastStatusCode)
            # the last reference goes here, inside the callback (live-sip.md: a Call deleted
            # later hangs up whatever call reuses its slot)
            agent.calls.pop(self.key, None)

    def _hangup(self) -> None:
        self.hangup(self._with_reason(pj.CallOpParam()))

    def _stop_media(self) -> None:
        """The party's RTP stops (one-way audio, a crashed phone's stream) and nobody hangs up.

        pjsua has no call to stop a stream in place: a re-INVITE that makes the party
        receive-only (a=recvonly) does, at once; the switch answers it itself and passes no
        SDP on. Silence fed to a VAD-on stream was tried and rejected: pjsua then sends for
        another 0.3-0.8 s, depending on how long the stream has run.
        """
        prm = pj.CallOpParam(True)
        prm.opt.flag |= pj.PJSUA_CALL_SET_MEDIA_DIR
        prm.opt.mediaDir.append(pj.PJMEDIA_DIR_DECODING)
        self.reinvite(prm)
        say(event="note", text=f"{self.tag}: RTP stopped")

    def onCallRxReinvite(self, prm: pj.OnCallRxReinviteParam) -> None:
        if self.ignore_refresh:
            prm.isAsync = True  # and never answer: the session refresh fails


def _header(message: str, name: str) -> str:
    wanted = name.lower() + ":"
    for line in message.split("\r\n"):
        if line.lower().startswith(wanted):
            return line.split(":", 1)[1].strip()
    return ""


def _die_with_parent() -> None:
    """An agent must not outlive the switch that started it (a killed test, a Ctrl-C)."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the parent-pid check in the loop still ends the agent


def main() -> int:
    _die_with_parent()
    parent = os.getppid()
    job = json.loads(sys.stdin.readline())
    agent = Agent(job)
    say(event="ready", pid=os.getpid(), port=agent.port)
    go = json.loads(sys.stdin.readline())
    t0 = float(go["t0"])
    env = agent.start_clock(t0)
    callers = job.get("calls", [])
    if not callers:
        agent.account("gateway")  # a routing gateway: incoming calls land on this account
    deadline = float(job.get("deadline", 3600))

    def place(spec: dict[str, Any]) -> Iterator[simpy.Event]:
        yield env.timeout(spec["at"])
        account = agent.account(spec["caller"], spec.get("credentials"))
        call = AgentCall(agent, account)
        try:
            call.dial(spec)
        except pj.Error as exc:
            say(event="error", call=spec["id"], text=exc.info())

    for spec in callers:
        env.process(place(spec))
    last_at = max((spec["at"] for spec in callers), default=0.0)
    try:
        while env.now < deadline:
            env.run(until=env.now + 0.2 * agent.speed)
            if callers and env.now > last_at and not agent.calls:
                break  # every call this caller agent placed has ended
            if os.getppid() != parent:
                break
    except KeyboardInterrupt:
        pass
    agent.shutdown()
    say(event="done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
