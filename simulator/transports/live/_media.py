"""RTP anchoring for live mode (VOS3000's ``rtpforward``): the switch relays every packet itself.

When a call is anchored, the switch rewrites the SDP it passes on so that each party sends its
RTP to a socket of the switch on 127.0.0.1: the offer sent to the gateway names the socket that
faces the gateway, the answer sent to the caller the one that faces the caller. One thread relays
the packets of every anchored call and stamps the arrival time of the last packet from each side,
so the switch can *observe* that RTP stopped flowing instead of being told.

RTCP is not relayed: ``a=rtcp`` lines are dropped, so a party sends its RTCP to the RTP port + 1,
a socket the relay holds and never reads; only RTP decides the media timeout.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from typing import Any

from sippy.SdpConnecton import SdpConnecton

from simulator.transports.live._addresses import is_loopback

HOST = "127.0.0.1"
SELECT_TIMEOUT = 0.05  # s; how soon the relay thread sees a newly opened or closed anchor


class Anchor:
    """The relay of one call: a socket facing the caller and one facing the gateway."""

    def __init__(self, relay: MediaRelay) -> None:
        self.relay = relay
        self.to_caller, self.caller_rtcp = _rtp_pair()
        self.to_callee, self.callee_rtcp = _rtp_pair()
        # where each party said it receives RTP (its SDP), where the relay sends it
        self.caller_rtp: tuple[str, int] | None = None
        self.callee_rtp: tuple[str, int] | None = None
        now = time.monotonic()
        self.last_from_caller = now  # monotonic time of the last packet from each side
        self.last_from_callee = now
        self.from_caller = 0  # packets relayed, per direction
        self.from_callee = 0
        # where each party's RTP really comes from: used instead of an SDP address off loopback
        self.caller_source: tuple[str, int] | None = None
        self.callee_source: tuple[str, int] | None = None

    @property
    def caller_port(self) -> int:
        return self.to_caller.getsockname()[1]

    @property
    def callee_port(self) -> int:
        return self.to_callee.getsockname()[1]

    def restart_watch(self) -> None:
        """The media timer counts from the answer: silence before it is ringing, not loss."""
        now = time.monotonic()
        self.last_from_caller = max(self.last_from_caller, now)
        self.last_from_callee = max(self.last_from_callee, now)

    def silent_since(self) -> float:
        """Monotonic time since which at least one direction has carried no RTP."""
        return min(self.last_from_caller, self.last_from_callee)

    def relay_packet(self, sock: socket.socket) -> None:
        try:
            data, source = sock.recvfrom(2048)
        except OSError:
            return
        if sock is self.to_caller:
            self.last_from_caller = time.monotonic()
            self.from_caller += 1
            self.caller_source = source
            target, out, latched = self.callee_rtp, self.to_callee, self.callee_source
        else:
            self.last_from_callee = time.monotonic()
            self.from_callee += 1
            self.callee_source = source
            target, out, latched = self.caller_rtp, self.to_caller, self.caller_source
        self.relay.packets += 1
        if target is not None and not is_loopback(target[0]):
            # live mode sends nothing off loopback, whatever the SDP says: answer the party
            # where its own RTP comes from (symmetric RTP), or not at all
            self.relay.refused += latched is None
            target = latched
        if target is not None:
            with contextlib.suppress(OSError):  # the party closed its port: drop, as a NAT would
                out.sendto(data, target)

    def close(self) -> None:
        self.relay.forget(self)


class MediaRelay:
    """One thread relaying the RTP of every anchored call of a switch."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.pending: list[tuple[bool, Anchor]] = []  # (open?, anchor) for the relay thread
        self.running = True
        self.anchors_opened = 0
        self.packets = 0  # received from the parties, over all anchors (only this thread adds)
        self.refused = 0  # packets not sent: the SDP named an address off loopback
        self.thread = threading.Thread(target=self._run, name="vossim-rtp", daemon=True)
        self.thread.start()

    def open(self) -> Anchor:
        anchor = Anchor(self)
        self.anchors_opened += 1
        with self.lock:
            self.pending.append((True, anchor))
        return anchor

    def forget(self, anchor: Anchor) -> None:
        with self.lock:
            self.pending.append((False, anchor))

    def _apply_pending(self) -> None:
        with self.lock:
            pending, self.pending = self.pending, []
        for opening, anchor in pending:
            for sock in (anchor.to_caller, anchor.to_callee):
                if opening:
                    self.selector.register(sock, selectors.EVENT_READ, anchor)
                else:
                    with contextlib.suppress(KeyError, ValueError):
                        self.selector.unregister(sock)
                    sock.close()
            if not opening:
                anchor.caller_rtcp.close()
                anchor.callee_rtcp.close()

    def _run(self) -> None:
        while self.running:
            self._apply_pending()
            if not self.selector.get_map():
                time.sleep(SELECT_TIMEOUT)
                continue
            for key, _ in self.selector.select(SELECT_TIMEOUT):
                key.data.relay_packet(key.fileobj)
        self._apply_pending()

    def stop(self) -> None:
        self.running = False
        self.thread.join(timeout=2)
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()
        self.selector.close()


def _rtp_pair() -> tuple[socket.socket, socket.socket]:
    """An RTP socket on an even port and the RTCP one above it.

    Holding port + 1 keeps a party's RTCP (sent there, RFC 3550) out of any other call's RTP
    socket, where it would pass for RTP and hide a silence.
    """
    for _ in range(100):
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind((HOST, 0))
        port = rtp.getsockname()[1]
        if port % 2 == 0 and port < 65535:
            rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                rtcp.bind((HOST, port + 1))
            except OSError:
                rtcp.close()
            else:
                rtp.setblocking(False)
                return rtp, rtcp
        rtp.close()
    raise OSError("no free pair of RTP/RTCP ports on 127.0.0.1")


def anchor_sdp(body: Any, port: int) -> tuple[Any, tuple[str, int] | None]:
    """A copy of ``body`` whose audio stream goes to ``HOST:port``, and where it went before.

    ``body`` is sippy's MsgBody; only the first audio section is anchored (vossim's agents offer
    one), other sections are passed on unchanged. Returns (body, None) when there is no SDP.
    """
    if body is None:
        return None, None
    copy = body.getCopy()
    copy.parse()
    sdp = copy.content
    sections = getattr(sdp, "sections", None)
    if not sections:
        return body, None
    for section in sections:
        media = section.m_header
        if media.stype.lower() != "audio":
            continue
        connection = section.c_header or sdp.c_header
        if connection is None:
            return body, None
        original = (connection.addr, media.port)
        media.port = port
        section.c_header = SdpConnecton(f"IN IP4 {HOST}")
        section.a_headers = [a for a in section.a_headers if a.name != "rtcp"]
        copy.needs_update = True
        return copy, original
    return body, None
