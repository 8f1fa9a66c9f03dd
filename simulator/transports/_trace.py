"""The trace of a finished call as JSON lines, for both transports (``--trace``).

Each line is one message of the call's ladder (``from``, ``to``, ``message``; H.225 names for
H.323 legs) or one of the core's own events (``event`` and its details), in the order the core
recorded them, with ``t`` (s after the scenario's start) and ``time`` (ms since 1970 UTC).
"""

from __future__ import annotations

import json
from typing import IO

from simulator.core import EVENT, Call, Party, event_json


def write_trace(out: IO[str], call: Call) -> None:
    switch = call.switch
    names = {"caller": f"caller {call.attempt.source_ip}", "switch": "switch"}
    protocols = {"caller": call.caller_protocol}
    for name, load in switch.gateways.items():
        names[name] = f"{name} {load.config.ip}"
        protocols[name] = load.config.protocol
    call_id = call.attempt.call_id
    for t, src, dst, message in call.trace:
        if src is EVENT:  # a core event: dst is its kind, message the event
            out.write(json.dumps({
                "call": call_id, "t": round(float(t), 6), "time": switch.wall_ms(t),
                "event": dst, **event_json(message)}, separators=(",", ":")) + "\n")
            continue
        leg = dst if src == "switch" else src
        if protocols.get(leg) == "h323":
            message = _h225(message, call)
            if message is None:
                continue
        out.write(json.dumps({
            "call": call_id, "t": round(float(t), 6), "time": switch.wall_ms(t),
            "from": names.get(src, src), "to": names.get(dst, dst), "message": message,
        }, separators=(",", ":")) + "\n")


_H225 = {"INVITE": "Setup", "INVITE (credentials)": None, "100": "Call Proceeding",
         "180": "Alerting", "200": "Connect", "ACK": None, "401": None, "200 (CANCEL)": None,
         "200 (BYE)": None, "487": None}


def _h225(message: str, call: Call) -> str | None:
    if message in _H225:
        return _H225[message]
    if message in ("BYE", "CANCEL") or message[:3].isdigit():
        # The trace is written when the call has ended, so its verdict is known.
        verdict = call.verdict
        cause = 16 if message == "BYE" and verdict.end_direction != Party.SERVER else verdict.q850
        return f"Release Complete (cause {cause})"
    return message
