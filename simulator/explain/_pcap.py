"""The call's signalling as real packets, written as a pcap with scapy.

SIP legs: every message of the ladder becomes one UDP datagram between the scenario's own
addresses: the caller's source IP, the switch (``SWITCH_ADDRESS``, the scenario names none) and
each routing gateway tried. Messages carry what a SIP peer needs to parse them: Via with a branch
per transaction, From/To tags, one Call-ID per leg, CSeq, Contact, Max-Forwards, an exact
Content-Length, CRLF line ends and SDP on INVITEs and their 200s. The switch's own BYEs carry
the server's reason (``bye_reason_header``), refusals the CDR's ``sipreasonheader``.

H.323 legs: every H.225 message of the ladder becomes one Q.931 message in a TPKT on a TCP
connection to port 1720 (``_h225``), opened with a handshake before the Setup and closed after
the leg's Release Complete. Both kinds come from ``wire_packets``, in the ladder's order, so the
ladder, the HTML page and the pcap show the same messages.

Not on the wire: the switch's local 408 for a refresh timer B (nothing is received).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.explain._build import ExplainError
from simulator.explain._h225 import (
    H225_PORT,
    H225Error,
    H225Message,
    describe,
    parse_label,
    q931,
    tpkt,
)
from simulator.explain._model import Entry, Explanation
from simulator.scenario import Scenario

SWITCH_ADDRESS = "192.0.2.1:5060"
DEFAULT_PORT = 5060
LINKTYPE_IPV4 = 228  # each record is an IPv4 datagram
SAME_INSTANT_STEP = 0.0001  # s between datagrams of one instant: timestamps strictly increase
TCP_WINDOW = 65535

REASON_PHRASES = {
    100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 408: "Request Timeout", 480: "Temporarily Unavailable",
    484: "Address Incomplete", 486: "Busy Here", 487: "Request Terminated",
    503: "Service Unavailable", 600: "Busy Everywhere", 603: "Decline",
    604: "Does Not Exist Anywhere",
}


def _split(address: str) -> tuple[str, int]:
    if address.count(":") == 1:
        host, port = address.split(":")
        return host, int(port)
    return address, DEFAULT_PORT


def _token(*parts: object) -> str:
    return hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=6).hexdigest()


def _guid(*parts: object) -> bytes:
    return hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=16).digest()


@dataclass
class _Transaction:
    method: str
    cseq: int
    branch: str
    via: str
    from_header: str
    to_header: str


@dataclass
class _Leg:
    """One SIP dialog: ``uac`` sent the first INVITE to ``uas``."""

    call_id: str
    uac: str
    uas: str
    uac_uri: str
    uas_uri: str
    from_tag: str
    to_tag: str | None = None
    cseq: dict[str, int] = field(default_factory=dict)
    open: dict[tuple[str, str], _Transaction] = field(default_factory=dict)  # (sender, method)
    invite_count: int = 0


@dataclass
class WirePacket:
    """One packet of the call: a ladder message, or a TCP segment that carries none."""

    t: float            # s after the scenario's start, strictly increasing over the call
    src: str            # "host:port"
    dst: str
    transport: str      # "udp" (SIP) or "tcp" (H.225.0)
    data: bytes         # the SIP text or the TPKT; b"" for a handshake or teardown segment
    entry: Entry | None = None   # the ladder message it carries
    text: str = ""      # the message as a person reads it (the HTML page shows it)
    flags: str = ""     # TCP: "S", "SA", "A", "PA", "FA"
    seq: int = 0
    ack: int = 0


@dataclass
class _Connection:
    """One H.225.0 call signalling connection: ``client`` opened it to port 1720."""

    client: str
    server: str
    ports: dict[str, int]
    next_seq: dict[str, int]
    call_reference: int
    call_identifier: bytes
    conference_id: bytes


class _Wire:
    """Turns the ladder's messages into packets, keeping each leg's SIP or TCP state."""

    def __init__(self, ex: Explanation) -> None:
        self.ex = ex
        self.address = {lane: ex.lane_addresses.get(lane, "") for lane in ex.lanes}
        self.address["switch"] = SWITCH_ADDRESS
        self.seed = f"{ex.scenario}/{ex.call_id}"
        self.sip_legs: dict[str, _Leg] = {}
        self.connections: dict[str, _Connection] = {}
        self.connection_count = 0
        self.sip_count = 0
        self.packets: list[WirePacket] = []
        self.last = -1.0

    def _at(self, t: float) -> float:
        self.last = t if t > self.last else self.last + SAME_INSTANT_STEP
        return self.last

    def add(self, entry: Entry) -> None:
        far = entry.dst if entry.src == "switch" else entry.src
        if self.ex.protocols.get(far, "sip") == "h323":
            self._h225(entry, far)
        else:
            self._sip(entry, far)

    # -- SIP over UDP ----------------------------------------------------------------------
    def _sip(self, entry: Entry, far: str) -> None:
        ex, address, seed = self.ex, self.address, self.seed
        leg = self.sip_legs.get(far)
        if leg is None:
            caller_number, callee_number = ex.header["caller"], ex.header["callee"]
            switch_host = _split(SWITCH_ADDRESS)[0]
            if far == "caller":
                leg = _Leg(ex.header["caller_call_id"], "caller",
                           "switch", f"sip:{caller_number}@{_split(address['caller'])[0]}",
                           f"sip:{callee_number}@{switch_host}", _token(seed, "caller-tag"))
            else:
                host = _split(address[far])[0]
                call_id = ex.header["callee_call_id"] if far == ex.header["final_gateway"] \
                    else f"{_token(seed, far)}@{switch_host}"
                leg = _Leg(call_id, "switch", far,
                           f"sip:{caller_number}@{switch_host}", f"sip:{callee_number}@{host}",
                           _token(seed, far, "tag"))
            self.sip_legs[far] = leg
        extra: list[str] = []
        bye_reason = ex.ending.get("bye_reason", "")
        if entry.src == "switch" and entry.message == "BYE" and bye_reason \
                and ex.ending.get("endDirection") == 2:
            extra.append(f"Reason: {bye_reason}")
        code = entry.message[:3]
        refusal_reason = ex.field("sipreasonheader").value
        if entry.src == "switch" and entry.dst == "caller" and code.isdigit() \
                and int(code) >= 300 and refusal_reason:
            extra.append(f"Reason: {refusal_reason}")
        data = _render(leg, entry, address, extra, seed, self.sip_count)
        self.sip_count += 1
        self.packets.append(WirePacket(self._at(entry.t), address[entry.src], address[entry.dst],
                                       "udp", data, entry, data.decode()))

    # -- H.225.0 over TCP ------------------------------------------------------------------
    def _host(self, lane: str) -> str:
        return _split(self.address[lane])[0]

    def _segment(self, connection: _Connection, sender: str, t: float, flags: str,
                 data: bytes = b"", entry: Entry | None = None, text: str = "") -> None:
        receiver = connection.server if sender == connection.client else connection.client
        seq = connection.next_seq[sender]
        ack = connection.next_seq[receiver] if flags != "S" else 0
        self.packets.append(WirePacket(
            self._at(t), f"{self._host(sender)}:{connection.ports[sender]}",
            f"{self._host(receiver)}:{connection.ports[receiver]}", "tcp", data, entry, text,
            flags, seq, ack))
        connection.next_seq[sender] = seq + len(data) + (1 if flags in ("S", "SA", "FA") else 0)

    def _open(self, client: str, server: str, t: float) -> _Connection:
        self.connection_count += 1
        token = (self.seed, client, server, self.connection_count)
        ports = {client: 1024 + int(_token(*token, "port"), 16) % 60000, server: H225_PORT}
        isn = {lane: int(_token(*token, lane, "isn"), 16) & 0xFFFFFFFF
               for lane in (client, server)}
        connection = _Connection(client, server, ports, isn,
                                 1 + int(_token(*token, "crv"), 16) % 0x7FFF,
                                 _guid(*token, "call-id"), _guid(*token, "conference"))
        self._segment(connection, client, t, "S")
        self._segment(connection, server, t, "SA")
        self._segment(connection, client, t, "A")
        return connection

    def _close(self, connection: _Connection, closer: str, t: float) -> None:
        other = connection.server if closer == connection.client else connection.client
        self._segment(connection, closer, t, "FA")
        self._segment(connection, other, t, "FA")
        self._segment(connection, closer, t, "A")

    def _h225(self, entry: Entry, far: str) -> None:
        try:
            name, cause = parse_label(entry.message)
        except H225Error as exc:
            raise ExplainError(f"call {self.ex.call_id!r}: {exc}") from None
        connection = self.connections.get(far)
        if connection is None:
            connection = self.connections[far] = self._open(entry.src, entry.dst, entry.t)
        message = H225Message(
            name, cause, connection.call_reference, entry.src == connection.client,
            connection.call_identifier, connection.conference_id, self.ex.header["caller"],
            self.ex.header["callee"], self._host(entry.src), self._host(entry.dst),
            entry.src == "switch")
        self._segment(connection, entry.src, entry.t, "PA", tpkt(q931(message)), entry,
                      describe(message))
        if name == "Release Complete":
            self._close(connection, entry.src, entry.t)
            del self.connections[far]

    def finish(self) -> list[WirePacket]:
        for connection in list(self.connections.values()):  # a leg the ladder left open
            self._close(connection, connection.client, self.last)
        self.connections.clear()
        return self.packets


def wire_packets(ex: Explanation) -> list[WirePacket]:
    """Every packet of the call's signalling, SIP and H.225.0, in the ladder's order."""
    wire = _Wire(ex)
    for entry in wire_entries(ex):
        wire.add(entry)
    return wire.finish()


def sip_messages(ex: Explanation) -> list[tuple[float, str, str, bytes, Entry]]:
    """(time, src address, dst address, datagram, ladder entry) for every SIP message."""
    return [(p.t, p.src, p.dst, p.data, p.entry) for p in wire_packets(ex)
            if p.transport == "udp" and p.entry is not None]


def wire_entries(ex: Explanation) -> list[Entry]:
    """The ladder's messages that go on the wire (see the module docstring)."""
    return [e for e in ex.messages if not e.message.startswith("408 (local")]


def _render(leg: _Leg, entry: Entry, address: dict[str, str], extra: list[str], seed: str,
            number: int) -> bytes:
    label = entry.message
    base, _, qualifier = label.partition(" (")
    qualifier = qualifier.rstrip(")")
    sender = entry.src
    sender_host, sender_port = _split(address[sender])
    body = ""
    headers: list[str]
    if base.isdigit():
        code = int(base)
        method = {"BYE": "BYE", "CANCEL": "CANCEL"}.get(qualifier, "INVITE")
        receiver = entry.dst
        transaction = leg.open.get((receiver, method))
        if transaction is None:
            raise ExplainError(f"cannot pair {label!r} from {sender} with a request")
        to_header = transaction.to_header
        if code > 100 and ";tag=" not in to_header:
            if leg.to_tag is None:
                leg.to_tag = _token(seed, leg.uas, "to", leg.invite_count)
            to_header += f";tag={leg.to_tag}"
        start = f"SIP/2.0 {code} {REASON_PHRASES.get(code, 'Unknown')}"
        headers = [f"Via: {transaction.via}", f"From: {transaction.from_header}",
                   f"To: {to_header}", f"Call-ID: {leg.call_id}",
                   f"CSeq: {transaction.cseq} {method}"]
        if code == 200 and method == "INVITE":
            headers.append(f"Contact: <sip:{sender_host}:{sender_port}>")
            body = _sdp(sender_host, seed, _media_owner(leg, sender))
        if code == 401:
            headers.append('WWW-Authenticate: Digest realm="vossim", '
                           f'nonce="{_token(seed, "nonce")}", algorithm=MD5')
        if code >= 300 and method == "INVITE":
            leg.open[(receiver, "ACK-non2xx")] = transaction
        if code >= 200 and method != "INVITE":
            leg.open.pop((receiver, method), None)
    else:
        method = "INVITE" if base in ("INVITE", "re-INVITE") else base
        in_dialog = base in ("re-INVITE", "BYE") or (base == "ACK" and leg.to_tag is not None)
        forward = sender == leg.uac
        if forward:
            from_header = f"<{leg.uac_uri}>;tag={leg.from_tag}"
            to_header = f"<{leg.uas_uri}>" + (f";tag={leg.to_tag}" if in_dialog and leg.to_tag
                                              else "")
            target = leg.uas_uri
        else:
            from_header = f"<{leg.uas_uri}>;tag={leg.to_tag}"
            to_header = f"<{leg.uac_uri}>;tag={leg.from_tag}"
            target = leg.uac_uri
        branch = f"z9hG4bK{_token(seed, number, label)}"
        invite = leg.open.get((sender, "INVITE"))
        if method == "ACK" and (sender, "ACK-non2xx") in leg.open:
            failed = leg.open.pop((sender, "ACK-non2xx"))
            branch, cseq, to_header = failed.branch, failed.cseq, ""
            from_header = failed.from_header
            to_header = f"<{leg.uas_uri}>;tag={leg.to_tag}"
            leg.to_tag = None  # the next INVITE (after a challenge) starts a new dialog attempt
            leg.invite_count += 1
        elif method in ("ACK", "CANCEL") and invite is not None:
            cseq = invite.cseq
            if method == "CANCEL":
                branch = invite.branch
                to_header = invite.to_header
        else:
            cseq = leg.cseq.get(sender, 0) + 1
            leg.cseq[sender] = cseq
        via = f"SIP/2.0/UDP {sender_host}:{sender_port};branch={branch}"
        start = f"{method} {target} SIP/2.0"
        headers = [f"Via: {via}", "Max-Forwards: 70", f"From: {from_header}",
                   f"To: {to_header}", f"Call-ID: {leg.call_id}", f"CSeq: {cseq} {method}"]
        if method == "INVITE":
            headers.append(f"Contact: <sip:{sender_host}:{sender_port}>")
            body = _sdp(sender_host, seed, _media_owner(leg, sender))
            if qualifier == "credentials":
                headers.append(f'Authorization: Digest username="{_token(seed, "user")}", '
                               f'realm="vossim", nonce="{_token(seed, "nonce")}", '
                               f'uri="{target}", response="{_token(seed, "response")}"')
        if method not in ("ACK",):
            leg.open[(sender, method)] = _Transaction(method, cseq, branch, via, from_header,
                                                      to_header)
    headers.extend(extra)
    headers.append("User-Agent: vossim explain")
    if body:
        headers.append("Content-Type: application/sdp")
    payload = body.encode()
    headers.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join([start, *headers]) + "\r\n\r\n").encode() + payload


def _media_owner(leg: _Leg, sender: str) -> str:
    """Whose RTP port an SDP offers: the party's own, or the switch's for that one leg."""
    if sender != "switch":
        return sender
    far = leg.uas if leg.uac == "switch" else leg.uac
    return f"{far}/switch"


def _rtp_port(seed: str, who: str) -> int:
    return 10000 + 2 * (int(_token(seed, who, "rtp"), 16) % 5000)


def _sdp(host: str, seed: str, who: str) -> str:
    session = int(_token(seed, who, "sdp"), 16) % 10**9
    port = _rtp_port(seed, who)
    return "\r\n".join([
        "v=0", f"o=vossim {session} {session} IN IP4 {host}", "s=vossim", f"c=IN IP4 {host}",
        "t=0 0", f"m=audio {port} RTP/AVP 0 8 101", "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000", "a=rtpmap:101 telephone-event/8000", "a=sendrecv", ""])


RTP_INTERVAL = 0.020   # s: one G.711 packet of 20 ms
RTP_PAYLOAD = 160      # bytes of PCMU per packet (8000 Hz x 20 ms)


def rtp_streams(ex: Explanation) -> list[tuple[str, str, float, float]]:
    """(sender lane, receiver lane, first, last packet time) of each RTP stream of the call.

    Media flows from the answer to the release on both legs, relayed by the switch; when the
    caller's RTP stops (``media_stops_after``) the caller's stream, and the switch's relay of it
    towards the gateway, stop there: that is what the media timeout then observes.
    """
    answer = next((e for e in ex.messages if e.src == "switch" and e.dst == "caller"
                   and e.message == "200"), None)
    gateway = ex.header["final_gateway"]
    if answer is None or not gateway or ex.protocols.get(gateway, "sip") != "sip":
        return []
    end = ex.ending.get("t", answer.t)
    stopped = next((e.t for e in ex.entries if e.message == "rtp_stopped"), end)
    return [("caller", "switch", answer.t, stopped), ("switch", gateway, answer.t, stopped),
            (gateway, "switch", answer.t, end), ("switch", "caller", answer.t, end)]


def _rtp_packets(ex: Explanation, start: float) -> list[tuple[float, bytes]]:
    """(time, IPv4 datagram) of every RTP packet; one packet is built per stream with scapy
    and the rest are that template with their sequence number and timestamp (no UDP checksum,
    which IPv4 allows), so a long call stays quick to write."""
    from scapy.layers.inet import IP, UDP
    from scapy.layers.rtp import RTP
    from scapy.packet import Raw

    seed = f"{ex.scenario}/{ex.call_id}"
    address = {lane: ex.lane_addresses.get(lane, "") for lane in ex.lanes}
    address["switch"] = SWITCH_ADDRESS
    packets = []
    silence = b"\xff" * RTP_PAYLOAD  # PCMU silence
    for number, (src, dst, first, last) in enumerate(rtp_streams(ex)):
        # The switch sends with the port it offered on the leg it sends on.
        src_port = _rtp_port(seed, src if src != "switch" else dst + "/switch")
        dst_port = _rtp_port(seed, dst if dst != "switch" else src + "/switch")
        ssrc = int(_token(seed, src, dst, "ssrc"), 16) & 0xFFFFFFFF
        template = bytearray(bytes(
            IP(src=_split(address[src])[0], dst=_split(address[dst])[0])
            / UDP(sport=src_port, dport=dst_port, chksum=0)
            / RTP(version=2, payload_type=0, sequence=0, timestamp=0, sourcesync=ssrc)
            / Raw(silence)))
        rtp_at = len(template) - RTP_PAYLOAD - 12
        offset = 0.0025 * (number + 1)  # streams never share an instant with SIP or each other
        for index in range(int((last - first) / RTP_INTERVAL)):
            packet = bytearray(template)
            packet[rtp_at + 1] = 0x80 if index == 0 else 0x00  # marker on the first, PCMU (0)
            packet[rtp_at + 2:rtp_at + 4] = (index & 0xFFFF).to_bytes(2, "big")
            packet[rtp_at + 4:rtp_at + 8] = ((index * RTP_PAYLOAD) & 0xFFFFFFFF).to_bytes(4, "big")
            packets.append((start + first + offset + index * RTP_INTERVAL, bytes(packet)))
    return packets


def write_pcap(ex: Explanation, scenario: Scenario, path: Path, *, rtp: bool = False) -> int:
    """Write the call's signalling (and, with ``rtp``, its media) to ``path``, all or nothing;
    returns how many packets."""
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.packet import Raw
    from scapy.utils import PcapWriter

    start = scenario.start.timestamp()
    packets: list[tuple[float, bytes]] = []
    for packet in wire_packets(ex):
        src_host, src_port = _split(packet.src)
        dst_host, dst_port = _split(packet.dst)
        layer: Any
        if packet.transport == "udp":
            layer = UDP(sport=src_port, dport=dst_port)
        else:
            layer = TCP(sport=src_port, dport=dst_port, flags=packet.flags, seq=packet.seq,
                        ack=packet.ack, window=TCP_WINDOW)
        frame = IP(src=src_host, dst=dst_host) / layer
        if packet.data:
            frame = frame / Raw(packet.data)
        packets.append((start + packet.t, bytes(frame)))
    if rtp and packets:
        packets.extend(_rtp_packets(ex, start))
        packets.sort(key=lambda item: item[0])
    if not packets:
        raise ExplainError(f"call {ex.call_id!r} has no message to write")
    partial = path.with_name(path.name + ".partial")
    writer = PcapWriter(str(partial), linktype=LINKTYPE_IPV4, sync=False)
    writer.write_header(None)
    try:
        last = 0
        for at, data in packets:
            micros = max(round(at * 1_000_000), last + 1)  # strictly increasing, to the µs
            last = micros
            writer.write_packet(data, sec=micros // 1_000_000, usec=micros % 1_000_000)
    finally:
        writer.close()
    os.replace(partial, path)
    return len(packets)
