"""The live switch trusts no one: in-dialog requests only from the leg's own peer, and nothing
sent off loopback whatever a peer advertises (Contact, Via, Record-Route).

Both parties are raw SIP over UDP sockets in this test, so each header is exactly what the
test says; the switch is the real `vossim live` subprocess.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AUDIT = Path(__file__).with_name("sendto_audit.py")
SCENARIO = """\
version: 1
name: untrusted peers
switch: {{media_timeout: 0, SS_SIP_SESSION_TTL: 0, max_call_duration: {max_duration}}}
accounts:
  ACME: {{type: postpaid, rate_table: retail}}
rate_tables:
  retail: [{{prefix: "880", fee: 0.25, period: 60}}]
mapping_gateways:
  RAW-UAC: {{account: ACME, ips: ["127.0.0.1:{uac}"]}}
routing_gateways:
  RAW-UAS: {{ip: "127.0.0.1:{uas}", prefixes: ["880"]}}
"""
SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
       "m=audio 4000 RTP/AVP 0\r\n")


class Message:
    def __init__(self, data: bytes) -> None:
        text = data.decode()
        head, _, self.body = text.partition("\r\n\r\n")
        lines = head.split("\r\n")
        self.first = lines[0]
        self.headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers.append((name.strip().lower(), value.strip()))

    @property
    def method(self) -> str:
        return "" if self.first.startswith("SIP/2.0") else self.first.split()[0]

    @property
    def code(self) -> int:
        return int(self.first.split()[1]) if self.first.startswith("SIP/2.0") else 0

    def get(self, name: str) -> str:
        return next(v for n, v in self.headers if n == name)

    def all(self, name: str) -> list[str]:
        return [v for n, v in self.headers if n == name]


def tag_of(value: str) -> str:
    return value.split(";tag=", 1)[1].split(";")[0]


class RawPeer:
    """A SIP party on one UDP socket; a thread answers what arrives and keeps every message."""

    def __init__(self, host: str, port: int, switch_port: int, *,
                 answer_headers: str = "", contact: str = "") -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.settimeout(0.1)
        self.address = (host, port)
        self.switch = ("127.0.0.1", switch_port)
        self.answer_headers = answer_headers
        self.contact = contact or f"{host}:{port}"  # what its responses advertise
        self.received: list[Message] = []
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            msg = Message(data)
            with self.lock:
                self.received.append(msg)
            if msg.method == "INVITE":  # a gateway: answer at once
                self.sock.sendto(self.response(msg, 200, "OK", self.answer_headers, SDP,
                                               to_tag="gw1"), self.switch)
            elif msg.method == "BYE":
                self.sock.sendto(self.response(msg, 200, "OK"), self.switch)

    def response(self, req: Message, code: int, phrase: str, extra: str = "", body: str = "",
                 to_tag: str = "") -> bytes:
        to = req.get("to")
        if to_tag and ";tag=" not in to:
            to += f";tag={to_tag}"
        lines = [f"SIP/2.0 {code} {phrase}", *(f"Via: {v}" for v in req.all("via")),
                 f"From: {req.get('from')}", f"To: {to}", f"Call-ID: {req.get('call-id')}",
                 f"CSeq: {req.get('cseq')}",
                 f"Contact: <sip:peer@{self.contact}>"]
        return ("\r\n".join(lines) + "\r\n" + extra + (
            "Content-Type: application/sdp\r\n" if body else "") +
            f"Content-Length: {len(body)}\r\n\r\n{body}").encode()

    def wait_for(self, what, timeout: float = 15.0) -> Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for msg in self.received:
                    if what(msg):
                        return msg
            time.sleep(0.02)
        with self.lock:
            seen = [m.first for m in self.received]
        raise AssertionError(f"{self.address}: no such message within {timeout} s; got {seen}")

    def close(self) -> None:
        self.running = False
        self.thread.join(timeout=2)
        self.sock.close()


def request(method: str, uri: str, via: str, call_id: str, from_: str, to: str, cseq: int,
            extra: str = "", body: str = "") -> bytes:
    return (f"{method} {uri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {from_}\r\n"
            f"To: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n{extra}"
            + ("Content-Type: application/sdp\r\n" if body else "")
            + f"Content-Length: {len(body)}\r\n\r\n{body}").encode()


def start_switch(kit, max_duration: float, audit: Path | None = None) -> subprocess.Popen:
    scenario = kit.scenario(SCENARIO.format(max_duration=max_duration, uac=kit.uac_port,
                                            uas=kit.uas_port))
    head = [sys.executable, str(AUDIT), str(audit)] if audit else [
        sys.executable, "-m", "simulator.cli"]
    proc = kit.procs.start([*head, "live", str(scenario), "--port", str(kit.switch_port),
                            "--duration", "12", "-o", str(kit.tmp / "out"), "--format",
                            "jsonl", "--no-agents"])
    kit.wait_for_switch()
    return proc


def place_call(caller: RawPeer, kit, *, via_host: str = "127.0.0.1",
               contact: str = "", extra: str = "") -> dict[str, str]:
    """INVITE from the raw caller, wait for the 200, ACK it; the dialog's identifiers."""
    me = caller.address
    call_id = f"untrusted-{kit.base}-{time.monotonic_ns()}@127.0.0.1"
    from_ = "<sip:1000@127.0.0.1>;tag=caller1"
    to = f"<sip:8801711000001@127.0.0.1:{kit.switch_port}>"
    uri = f"sip:8801711000001@127.0.0.1:{kit.switch_port}"
    contact = contact or f"{me[0]}:{me[1]}"
    caller.sock.sendto(request("INVITE", uri, f"SIP/2.0/UDP {via_host}:{me[1]};rport;branch="
                               "z9hG4bKinv1", call_id, from_, to, 1,
                               f"Contact: <sip:1000@{contact}>\r\n{extra}", SDP), caller.switch)
    ok = caller.wait_for(lambda m: m.code == 200 and "INVITE" in m.get("cseq"))
    to_tagged = ok.get("to")
    caller.sock.sendto(request("ACK", uri, f"SIP/2.0/UDP 127.0.0.1:{me[1]};branch=z9hG4bKack1",
                               call_id, from_, to_tagged, 1), caller.switch)
    return {"call_id": call_id, "from": from_, "to": to_tagged, "uri": uri}


def cdrs(kit, proc: subprocess.Popen) -> tuple[list[dict], str]:
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    lines = (kit.tmp / "out" / "cdr.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines], output


def test_a_bye_from_another_address_is_refused_and_the_call_goes_on(kit) -> None:
    proc = start_switch(kit, max_duration=30)
    gateway = RawPeer("127.0.0.1", kit.uas_port, kit.switch_port)
    caller = RawPeer("127.0.0.1", kit.uac_port, kit.switch_port)
    spoofer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        spoofer.bind(("127.0.0.9", kit.base + 5))
        spoofer.settimeout(5)
        dialog = place_call(caller, kit)
        answered = time.monotonic()
        invite = gateway.wait_for(lambda m: m.method == "INVITE")
        gateway.wait_for(lambda m: m.method == "ACK")
        spoof_via = f"SIP/2.0/UDP 127.0.0.9:{kit.base + 5};branch="
        # the caller's dialog, right Call-ID and both tags, from 127.0.0.9
        spoofer.sendto(request("BYE", dialog["uri"], spoof_via + "z9hG4bKspoof1",
                               dialog["call_id"], dialog["from"], dialog["to"], 2),
                       caller.switch)
        assert Message(spoofer.recv(65535)).code == 403
        # the gateway's dialog likewise, as if the gateway hung up
        gw_to = invite.get("from")
        gw_from = invite.get("to") + ";tag=gw1"
        spoofer.sendto(request("BYE", "sip:switch@127.0.0.1", spoof_via + "z9hG4bKspoof2",
                               invite.get("call-id"), gw_from, gw_to, 1), caller.switch)
        assert Message(spoofer.recv(65535)).code == 403
        # a CANCEL and a re-INVITE from there are refused as well
        spoofer.sendto(request("INVITE", dialog["uri"], spoof_via + "z9hG4bKspoof3",
                               dialog["call_id"], dialog["from"], dialog["to"], 3, body=SDP),
                       caller.switch)
        assert Message(spoofer.recv(65535)).code == 403
        time.sleep(2.0)
        assert not [m for m in caller.received + gateway.received if m.method == "BYE"], \
            "the switch ended the call on a spoofed BYE"
        me = caller.address
        caller.sock.sendto(request("BYE", dialog["uri"], f"SIP/2.0/UDP 127.0.0.1:{me[1]};"
                                   "branch=z9hG4bKbye1", dialog["call_id"], dialog["from"],
                                   dialog["to"], 2), caller.switch)
        caller.wait_for(lambda m: m.code == 200 and "BYE" in m.get("cseq"))
        held = time.monotonic() - answered
        gateway.wait_for(lambda m: m.method == "BYE")
    finally:
        spoofer.close()
        caller.close()
        gateway.close()
    records, output = cdrs(kit, proc)
    assert len(records) == 1, records
    cdr = records[0]
    assert cdr["enddirection"] == 0, cdr  # the caller hung up: its own BYE, not the spoofed one
    assert abs(cdr["holdtime"] - held) <= 1.0 and cdr["holdtime"] >= 2, (cdr, held)
    assert "refused 3 in-dialog requests from another address" in output, output


def test_nothing_is_sent_off_loopback_whatever_the_peers_advertise(kit) -> None:
    audit = kit.tmp / "sendto.jsonl"
    proc = start_switch(kit, max_duration=2, audit=audit)
    off_loopback = "Record-Route: <sip:198.51.100.99;lr>\r\n"
    gateway = RawPeer("127.0.0.1", kit.uas_port, kit.switch_port, answer_headers=off_loopback,
                      contact="192.0.2.55:5060")
    caller = RawPeer("127.0.0.1", kit.uac_port, kit.switch_port)
    try:
        place_call(caller, kit, via_host="192.0.2.55", contact="192.0.2.55:5060",
                   extra=off_loopback)
        gateway.wait_for(lambda m: m.method == "ACK")
        # max_call_duration ends the call: the switch's BYEs must reach both real peers
        bye_caller = caller.wait_for(lambda m: m.method == "BYE")
        bye_gateway = gateway.wait_for(lambda m: m.method == "BYE")
        time.sleep(0.5)
    finally:
        caller.close()
        gateway.close()
    records, output = cdrs(kit, proc)
    assert [r["enddirection"] for r in records] == [2], records
    assert bye_caller.get("route") == "<sip:198.51.100.99;lr>"  # the route set is kept as text
    assert bye_gateway.first.startswith("BYE sip:peer@192.0.2.55:5060")
    sent = [tuple(json.loads(line)) for line in audit.read_text().splitlines()]
    assert sent, "the audit saw no datagram at all"
    off = sorted({f"{h}:{p}" for h, p in sent if not h.startswith("127.")})
    assert not off, f"the switch tried to send off loopback: {off}"
    assert ("127.0.0.1", kit.uac_port) in sent and ("127.0.0.1", kit.uas_port) in sent
    assert "sent to the leg's own peer instead" in output, output

