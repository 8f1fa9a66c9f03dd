"""Malformed SIP never crashes or wedges `vossim live`: it answers 400/481/501 where RFC 3261
says so, drops what cannot be answered, and calls in progress (and after) complete."""

from __future__ import annotations

import os
import socket
import subprocess
import time


def request(method: str, me: int, port: int, n: int, *, drop: str = "", extra: str = "",
            to_tag: str = "", body: str = "", length: int | None = None,
            cseq: str | None = None) -> bytes:
    headers = {
        "via": f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bKbad{n}x{os.getpid()}",
        "from": f"From: <sip:bad@127.0.0.1:{me}>;tag=bad{n}",
        "to": f"To: <sip:8801711@127.0.0.1:{port}>" + (f";tag={to_tag}" if to_tag else ""),
        "call-id": f"Call-ID: malformed-{n}-{os.getpid()}@127.0.0.1",
        "cseq": f"CSeq: {cseq or '1'} {method}",
        "max-forwards": "Max-Forwards: 70",
    }
    headers.pop(drop, None)
    length = len(body) if length is None else length
    text = (f"{method} sip:8801711@127.0.0.1:{port} SIP/2.0\r\n" + "\r\n".join(headers.values())
            + "\r\n" + extra + f"Content-Length: {length}\r\n\r\n" + body)
    return text.encode()


def kinds(me: int, port: int) -> list[tuple[str, bytes, tuple[int, ...] | None]]:
    """(what, datagram, acceptable response codes; None = must be dropped silently)."""
    invite = request("INVITE", me, port, 0)
    sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    return [
        ("binary garbage", bytes(range(256)) * 4, None),
        ("text garbage", b"Hello, is this the switch? " * 20, None),
        ("missing Call-ID", request("OPTIONS", me, port, 1, drop="call-id"), (400,)),
        ("missing CSeq", request("OPTIONS", me, port, 2, drop="cseq"), (400,)),
        ("non-numeric CSeq", request("OPTIONS", me, port, 3, cseq="abc"), (400,)),
        ("missing Via", request("OPTIONS", me, port, 4, drop="via"), None),
        ("oversized header", request("OPTIONS", me, port, 5,
                                     extra="X-Padding: " + "a" * 9000 + "\r\n"), "any"),
        ("Content-Length larger than body", request("INVITE", me, port, 6, body=sdp,
                                                    length=len(sdp) + 500), (400,)),
        ("truncated in the headers", invite[: invite.index(b"CSeq")], (400,)),
        ("no request URI", b"INVITE SIP/2.0\r\n" + invite.split(b"\r\n", 1)[1], (400,)),
        ("BYE for an unknown dialog", request("BYE", me, port, 7, to_tag="nosuch"), (481,)),
        ("re-INVITE for an unknown dialog", request("INVITE", me, port, 8, to_tag="nosuch"),
         (481,)),
        ("CANCEL for an unknown transaction", request("CANCEL", me, port, 9), (481,)),
        ("unknown method", request("FROBNICATE", me, port, 10), (501, 405)),
        ("stray response", b"SIP/2.0 200 OK\r\n" + request("BYE", me, port, 11).split(
            b"\r\n", 1)[1], None),
        ("invalid UTF-8 in a header", request("OPTIONS", me, port, 12,
                                              extra="Subject: \xff\xfe\r\n").replace(
            b"\xc3\xbf\xc3\xbe", b"\xff\xfe"), (400,)),
    ]


def answer(sock: socket.socket, timeout: float) -> int | None:
    sock.settimeout(timeout)
    try:
        data = sock.recv(65535)
    except TimeoutError:
        return None
    return int(data.split(b" ", 2)[1]) if data.startswith(b"SIP/2.0 ") else -1


def test_malformed_sip_is_answered_or_dropped_and_calls_go_on(kit) -> None:
    scenario = kit.sipp_pair_scenario("malformed")
    switch = kit.switch(scenario, duration=14)
    kit.uas("-sn", "uas")
    # 10 calls of 2 s at 2 CPS run while the bad datagrams arrive
    during = subprocess.Popen(
        [*kit_uac_command(kit), "-m", "10", "-r", "2", "-d", "2000"], cwd=kit.tmp,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    kit.procs.started.append(during)  # type: ignore[arg-type]
    time.sleep(1.0)
    problems = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", kit.base + 5))
        me = kit.base + 5
        cases = kinds(me, kit.switch_port)
        assert len(cases) >= 10
        for what, datagram, wanted in cases:
            sock.sendto(datagram, ("127.0.0.1", kit.switch_port))
            got = answer(sock, 0.3 if wanted is None else 1.0)
            if wanted == "any":
                continue
            if wanted is None and got is not None:
                problems.append(f"{what}: expected no answer, got {got}")
            elif wanted is not None and got not in wanted:
                problems.append(f"{what}: expected {wanted}, got {got}")
    out, _ = during.communicate(timeout=30)
    assert during.returncode == 0, out[-3000:]
    after = kit.uac("-sn", "uac", "-s", "8801711000009", "-d", "500")
    assert after.returncode == 0, after.stdout[-3000:]
    cdrs = switch.finish()
    answered = [c for c in cdrs if c["callergatewayid"] == "SIPP-UAC" and c["holdtime"] > 0]
    assert len(answered) == 11, cdrs
    assert all((c["enddirection"], c["endreason"]) == (0, 11) for c in answered)
    assert not problems, "\n".join(problems)


def kit_uac_command(kit) -> list[str]:
    return ["sipp", "-nostdin", "-i", "127.0.0.1", "-p", str(kit.uac_port),
            f"127.0.0.1:{kit.switch_port}", "-sn", "uac", "-s", "8801711000008",
            "-timeout", "30s", "-timeout_error"]
