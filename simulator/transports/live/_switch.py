"""The softswitch on a real SIP stack: a sippy B2BUA that is the ``Signalling`` port of the core.

Everything runs in one thread, on sippy's event loop (``ED2``): sippy calls us when a message
arrives, we hand what it means to the same ``simulator.core._state.Call`` the simulator uses
(``call.deliver``), and the core's own timers (timer B, no-answer, prepaid pulses, refreshes,
max duration ...) are sippy ``Timeout``s armed for ``call.next_wakeup``. No rule lives here: this
file only translates between SIP and the core.

Clock: core time ``t`` = (monotonic seconds since the run began) x ``speed``, taken from the
receive time sippy stamps on each message, so the CDR's times are when messages passed.
"""

from __future__ import annotations

import os

os.environ.setdefault("SIPLOG_BEND", "none")  # sippy logs every message to stderr otherwise

import gc
import hashlib
import json
import re
import socket
import sys
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import IO, Any

import sippy.Core.EventDispatcher as _sippy_ed
import sippy.SipTransactionManager as _sippy_tm
import sippy.UacStateTrying as _sippy_uac_trying
import sippy.UaStateConnected as _sippy_connected
import sippy.Udp_server as _sippy_udp
from sippy.CCEvents import (
    CCEventConnect,
    CCEventDisconnect,
    CCEventFail,
    CCEventInfo,
    CCEventPreConnect,
    CCEventRedirect,
    CCEventRing,
    CCEventTry,
    CCEventUpdate,
)
from sippy.Core.EventDispatcher import ED2
from sippy.SipAuthorization import DigestCalcHA1, DigestCalcResponse
from sippy.SipCallId import SipCallId
from sippy.SipConf import SipConf
from sippy.SipHeader import SipHeader
from sippy.SipLogger import SipLogger
from sippy.SipTransactionManager import SipTransactionManager
from sippy.SipWWWAuthenticate import SipWWWAuthenticate
from sippy.Time.clock_dtime import CLOCK_MONOTONIC as CLOCK_MONOTONIC_RAW
from sippy.Time.clock_dtime import clock_getdtime
from sippy.Time.Timeout import Timeout
from sippy.UA import UA
from sippy.Udp_server import Udp_server, Udp_server_opts

from cdr_writer import Cdr
from simulator.core import (
    TIMER_B,
    Call,
    CallAttempt,
    Kind,
    Leg,
    Party,
    Phase,
    RoutingGatewayConfig,
    Switch,
    bye_reason_header,
    cdr_from_call,
    sip_phrase,
)
from simulator.scenario import Scenario, core_config
from simulator.transports._trace import write_trace
from simulator.transports.live._addresses import AddressPlan, SourceIndex, is_loopback
from simulator.transports.live._media import Anchor, MediaRelay, anchor_sdp
from simulator.transports.live._offerless import OfferlessConnected

CALL_TAG_HEADER = "x-vossim-call"  # scenario call id, set by vossim's own agents, passed on
MIN_SESSION_EXPIRES = 90           # RFC 4028 default Min-SE; pjsua refuses anything lower
RECEIVE_BUFFER = 4 * 1024 * 1024   # a bigger UDP buffer: bursts at 200 CPS overflow the default
MAX_BACKLOG = 4096                 # datagrams read from the socket but not yet handled
# New requests outside any dialog are answered 503 (no state kept) while this many server
# transactions are open: an unacknowledged INVITE holds about 20 KB (its call, both UAs, the
# transaction) for 32 s (timer H); a BYE's transaction lingers 32 s too (timer J), so at 400 CPS
# some 13,000 are open, all in dialogs and never refused.
MAX_OPEN_INVITES = 10_000
MAX_OPEN_TRANSACTIONS = 50_000
# New INVITEs are refused at once, from the raw datagram, while this many datagrams wait for the
# loop: it is that far behind, and every INVITE it takes on now only makes it later
SHED_BACKLOG = 1024
# INVITE datagrams a second the switch takes on, at most (sippy's loop serves about 175-250 calls
# a second on these machines; bench/live/run.py goes up to 275): past it, refused early (503)
MAX_INVITE_RATE = 300
RETRY_AFTER = 30                   # s: what a 503 of an overloaded switch asks callers to wait
MAX_RETRANSMIT_CACHE = 50_000      # sippy's cache of answers to retransmissions, rotated early
FULL_COLLECTION_EVERY = 10.0       # s between two full garbage collections (see _collect)
REALM = "vossim"
# s after the switch is done with a gateway leg before that agent's pjsua2 slot counts as free
# (pjsua frees it once its DISCONNECTED callback returns); _capacity plans with the same margin
SLOT_RELEASE = 1.0
PEER_LINGER = 40.0  # s a leg's peer stays bound after its call ended: BYE retransmissions
SHUTDOWN_GRACE = 2.0  # s the switch waits for the BYEs and CANCELs of its shutdown to complete
STACK_ERROR_EVERY = 10.0  # s between two reports of exceptions inside the SIP stack
# Headers of a mid-call request that are passed on to the other leg with it (identity, DTMF)
RELAYED_HEADERS = ("p-asserted-identity", "p-preferred-identity", "privacy", "content-type",
                   "info-package", "reason")


def _find_malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None (another C library: nothing to trim with)."""
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


_malloc_trim = _find_malloc_trim()


class _OneWorker(Udp_server_opts):
    # sippy's default 3 reader threads reorder datagrams (a 180 after its 200): read with one.
    nworkers = 1


class _BoundedReads:
    """The switch's socket as sippy's reader thread sees it: reading waits while MAX_BACKLOG
    datagrams are queued for the event loop.

    sippy's reader thread moves each datagram into an unbounded queue of the loop; when the
    loop falls behind (a flood of junk), that queue grew without limit (measured: 5,900
    datagrams queued at once). Waiting instead leaves them in the kernel's receive buffer
    (RECEIVE_BUFFER), which drops what does not fit, as a busy switch would.
    """

    def __init__(self, skt: socket.socket, slots: threading.Semaphore) -> None:
        self._skt = skt
        self._slots = slots

    def recvfrom(self, size: int) -> tuple[bytes, Any]:
        self._slots.acquire()
        try:
            data, address = self._skt.recvfrom(size)
        except BaseException:
            self._slots.release()
            raise
        if not data and address is None:  # the socket closed under sippy: nothing queued
            self._slots.release()
        return data, address

    def __getattr__(self, name: str) -> Any:
        return getattr(self._skt, name)


class _Udp(Udp_server):
    def __init__(self, global_config: dict[str, Any], uopts: Udp_server_opts) -> None:
        super().__init__(global_config, uopts)
        self.skt.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        self.backlog = threading.Semaphore(MAX_BACKLOG)
        self.skt = _BoundedReads(self.skt, self.backlog)

    def handle_read(self, data: bytes, address: Any, rtime: Any, delayed: bool = False) -> None:
        if not delayed:
            self.backlog.release()  # one queued datagram less
        super().handle_read(data, address, rtime, delayed)


def _lowercase_transport(msg: Any) -> None:
    """SIPp sends ``Contact: <sip:..;transport=UDP>``; sippy only knows ``udp``."""
    try:
        if msg.countHFs("contact") == 0:
            return
        url = msg.getHFBody("contact").getUrl()
        if url.transport is not None and url.transport != url.transport.lower():
            url.transport = url.transport.lower()
    except Exception:  # a Contact sippy cannot parse: leave it to the dialog layer to refuse
        return


_receiving: list[tuple[bytes, Any, Any] | None] = [None]  # the datagram being handled


class StackErrors:
    """Exceptions inside the SIP stack (sippy's ``dump_exception``): counted, and reported on
    stderr at most once every STACK_ERROR_EVERY seconds, so a bug is never silent and a
    flood that triggers one per datagram cannot fill the console."""

    def __init__(self) -> None:
        self.count = 0
        self.unparseable = 0  # datagrams that are not SIP: bad input, not a bug of the stack
        self.first = ""
        self.unreported = 0
        self.reported_at = -STACK_ERROR_EVERY

    def exception(self, message: str) -> None:
        import traceback

        self.count += 1
        detail = traceback.format_exc() if sys.exc_info()[0] is not None else ""
        if not self.first:
            last = detail.strip().splitlines()[-1] if detail.strip() else ""
            self.first = f"{message}: {last}" if last else message
        now = time.monotonic()
        if now - self.reported_at < STACK_ERROR_EVERY:
            self.unreported += 1
            return
        more = f" ({self.unreported} more since the last report)" if self.unreported else ""
        self.reported_at, self.unreported = now, 0
        print(f"vossim live: exception inside the SIP stack{more}: {message}\n{detail}",
              file=sys.stderr, end="" if detail.endswith("\n") else "\n")

    def summary(self) -> str | None:
        if not self.count:
            return None
        return (f"{self.count} exceptions inside the SIP stack (calls may have lost their CDR); "
                f"the first: {self.first}")


stack_errors = StackErrors()


class Console:
    """What sippy prints on the console (stuck transactions, odd responses): at most one line
    every STACK_ERROR_EVERY seconds, with the count of those held back; all are counted."""

    def __init__(self) -> None:
        self.count = 0
        self.unshown = 0
        self.shown_at = -STACK_ERROR_EVERY

    def print(self, *args: Any, **kwargs: Any) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self.shown_at < STACK_ERROR_EVERY:
            self.unshown += 1
            return
        more = f" ({self.unshown} more lines held back)" if self.unshown else ""
        self.shown_at, self.unshown = now, 0
        text = " ".join(str(a) for a in args).strip().replace("\n", " ")[:300]
        print(f"vossim live: sippy says{more}: {text}", file=sys.stderr)

    def summary(self) -> str | None:
        if not self.count:
            return None
        return f"sippy wrote {self.count} console lines (at most one shown every " \
               f"{STACK_ERROR_EVERY:g} s)"


console = Console()


def _dump_exception(message: str, *_: Any, **__: Any) -> None:
    """sippy reports here every exception it catches: a datagram it cannot parse (answered
    400 when it is a request), or an exception anywhere else (counted and logged)."""
    if message.startswith(("can't parse SIP request", "can't parse SIP response")):
        stack_errors.unparseable += 1
        current = _receiving[0]
        if current is not None and message.startswith("can't parse SIP request"):
            _receiving[0] = None
            data, server, address = current
            response = bad_request_response(data)
            if response is not None and is_loopback(str(address[0])):
                server.send_to(response, address)
        return
    stack_errors.exception(message)


def _parse_failed(message: str) -> None:
    _dump_exception(message)


# sippy prints a traceback on stdout for every bad datagram and answers none of them, and
# prints any other exception the same way: answer the first, count and log the others.
_sippy_tm.dump_exception = _dump_exception
_sippy_ed.dump_exception = _dump_exception
if hasattr(_sippy_udp, "dump_exception"):
    _sippy_udp.dump_exception = _dump_exception
# and its console lines (one per stuck transaction in a flood) go through Console
for _module in (_sippy_tm, _sippy_ed, _sippy_udp, _sippy_uac_trying, _sippy_connected):
    _module.print = console.print  # type: ignore[attr-defined]


class _ServerTransactions(dict):  # type: ignore[type-arg]
    """sippy's table of server transactions, counting the INVITE ones as they come and go."""

    invites = 0

    def __setitem__(self, tid: Any, transaction: Any) -> None:
        if tid not in self and transaction.method == "INVITE":
            self.invites += 1
        super().__setitem__(tid, transaction)

    def __delitem__(self, tid: Any) -> None:
        if self[tid].method == "INVITE":
            self.invites -= 1
        super().__delitem__(tid)


class _TransactionManager(SipTransactionManager):
    """sippy's transaction layer, plus the two rules of a switch that trusts no one.

    - A dialog's requests and responses are taken only from that leg's own peer (the address
      its INVITE came from, or the one the switch sent its INVITE to): a BYE with the right
      Call-ID and tags from anywhere else gets 403 and the call goes on.
    - Nothing is sent off loopback, whatever a peer advertises in Contact, Via or
      Record-Route: such a message goes to the leg's peer instead, or nowhere.
    """

    model_udp_server = (_Udp, _OneWorker)

    def __init__(self, global_config: dict[str, Any], req_cb: Any) -> None:
        self.peers: dict[str, tuple[tuple[str, int], object]] = {}  # Call-ID -> (peer, owner)
        self.refused_from = 0  # requests refused (403) for coming from another address
        self.redirected = 0    # messages sent to the leg's peer instead of an off-loopback target
        self.dropped = 0       # messages not sent at all: off loopback and no peer known
        self.shed = 0          # new requests answered 503 at MAX_OPEN_TRANSACTIONS
        self.held: list[tuple[Any, ...]] | None = None  # sends waiting for an ACK to go first
        self.tokens = float(MAX_INVITE_RATE)  # see admit()
        self.refilled = time.monotonic()
        # calls of each source neither ACKed nor ended, and how many one source may hold
        # before its new INVITEs are refused early (switch.live_source_max_unacked; 0: any)
        self.unacked: dict[tuple[str, int], int] = {}
        self.max_unacked = 0
        # digests of the new INVITEs refused early, as sippy keeps its answers: one generation
        # per 32 s, two kept, so a retransmission is answered again but never recorded twice.
        # A digest (about 100 bytes) instead of sippy's cached answer object (about 800).
        self.refused_now: set[bytes] = set()
        self.refused_before: set[bytes] = set()
        # --trace: what went over the wire, by Call-ID, for the legs of calls (see wire_lines)
        self.wire: dict[str, list[tuple[float, str, tuple[str, int], str]]] | None = None
        # records an INVITE refused 503: (Call-ID, caller, callee, source, receive time)
        self.on_shed: Callable[[str, str, str, Any, Any], None] | None = None
        super().__init__(global_config, req_cb)
        self.tserver = _ServerTransactions()

    def bind_peer(self, call_id: str, peer: tuple[str, int], owner: object) -> None:
        self.peers[call_id] = ((peer[0], int(peer[1])), owner)
        if self.wire is not None:
            self.wire.setdefault(call_id, [])

    def log_wire(self, data: bytes | str, direction: str, address: Any) -> None:
        """--trace: one datagram of a traced leg (its first line and CSeq) and when."""
        wire = self.wire
        if not wire:
            return
        found = wire.get(_call_id_of(data) or "")
        if found is None:
            return
        text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
        head = text.split("\r\n\r\n", 1)[0].split("\r\n")
        cseq = next((line.split(":", 1)[1].strip() for line in head[1:]
                     if line.lower().startswith("cseq:")), "")
        found.append((time.monotonic(), direction, (str(address[0]), int(address[1])),
                      f"{head[0]} ({cseq})" if cseq else head[0]))

    def unbind_peer(self, call_id: str, owner: object) -> None:
        found = self.peers.get(call_id)
        if found is not None and found[1] is owner:
            del self.peers[call_id]

    def peer_of(self, call_id: str | None) -> tuple[str, int] | None:
        found = self.peers.get(call_id) if call_id is not None else None
        return None if found is None else found[0]

    def handleIncoming(self, data_in: bytes, ra: Any, server: Any, rtime: Any) -> None:
        if len(self.l1rcache) + len(self.refused_now) >= MAX_RETRANSMIT_CACHE:
            self.rCachePurge()  # a flood: absorb retransmissions for less than 32 s
        if data_in[:7] == b"INVITE " and self._refuse_early(data_in, ra, server, rtime):
            return
        if self.wire:
            self.log_wire(data_in, "received", ra.address)
        _receiving[0] = (data_in, server, ra.address)
        try:
            super().handleIncoming(data_in, ra, server, rtime)
        except Exception as exc:
            if _raised_by_vossim(exc):  # a bug of the switch, not a bad datagram: never silent
                stack_errors.exception(f"handling a datagram from {ra.address[0]}:"
                                       f"{ra.address[1]}")
            else:
                # sippy's own 400 path raises (SipParseError.getResponse() lacks its
                # argument), sippy parses headers lazily and a bad byte can fail the
                # decoding: answer 400 when the request can be answered.
                _parse_failed("can't parse SIP request")
        finally:
            _receiving[0] = None

    def overloaded(self, server: Any) -> bool:
        """Too many INVITE transactions open, or the loop far behind its socket."""
        backlog = getattr(server, "backlog", None)
        queued = MAX_BACKLOG - backlog._value if backlog is not None else 0
        return queued >= SHED_BACKLOG or self.tserver.invites >= MAX_OPEN_INVITES

    def owes_acks(self, source: Any) -> bool:
        """The source holds ``max_unacked`` calls it has not ACKed (0: no limit)."""
        return 0 < self.max_unacked <= self.unacked.get(_address(source), 0)

    def ack_owed(self, source: tuple[str, int], change: int) -> None:
        """One call more (+1) or less (-1) that ``source`` has not ACKed."""
        left = self.unacked.get(source, 0) + change
        if left > 0:
            self.unacked[source] = left
        else:
            self.unacked.pop(source, None)

    def rCachePurge(self) -> None:
        self.refused_before, self.refused_now = self.refused_now, set()
        super().rCachePurge()

    def admit(self) -> bool:
        """One more INVITE within the switch's rate (a token bucket of MAX_INVITE_RATE a second,
        as deep as one second of it): beyond it new calls cost more than they can be served."""
        now = time.monotonic()
        self.tokens = min(MAX_INVITE_RATE, self.tokens + (now - self.refilled) * MAX_INVITE_RATE)
        self.refilled = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def _refuse_early(self, data: bytes, ra: Any, server: Any, rtime: Any) -> bool:
        """A new INVITE while overloaded, or from a source that owes too many ACKs: 503 +
        Retry-After from the raw datagram, its CDR, and no state but its digest, so that its
        retransmissions get the same answer (overloaded or not by then) and no second CDR.
        False: not such an INVITE (a retransmission of one sippy took, or in a dialog), for
        sippy to handle."""
        checksum = hashlib.md5(data).digest()  # sippy's retransmission key
        again = checksum in self.refused_now or checksum in self.refused_before
        if not again and (not (self.overloaded(server) or self.owes_acks(ra.address)
                               or not self.admit())
                          or checksum in self.l1rcache or checksum in self.l2rcache):
            return False
        refused = overload_refusal(data)
        if refused is None:
            return False
        response, call_id, caller, callee = refused
        if is_loopback(str(ra.address[0])):
            server.send_to(response, ra.address)  # the same bytes again for a retransmission
        if checksum in self.refused_now or checksum in self.refused_before:
            return True  # a retransmission of an INVITE refused and recorded already
        self.refused_now.add(checksum)
        self.shed += 1
        if self.on_shed is not None:
            self.on_shed(call_id, caller, callee, ra.address, rtime)
        return True

    def incomingRequest(self, msg: Any, checksum: Any, tids: Any, server: Any) -> None:
        peer = self.peer_of(str(tids[0][0]))
        method = msg.getMethod()
        if peer is None and method not in ("ACK", "CANCEL") and (
                self.tserver.invites >= MAX_OPEN_INVITES if method == "INVITE"
                else len(self.tserver) >= MAX_OPEN_TRANSACTIONS) \
                and msg.getTId(wBRN=True) not in self.tserver:
            self.shed += 1  # overloaded: a new call or request, refused without any state
            resp = msg.genResponse(503, "Service Unavailable")
            resp.appendHeader(SipHeader(name="retry-after", bodys=str(RETRY_AFTER)))
            self.transmitMsg(server, resp, resp.getHFBody("via").getTAddr(), checksum)
            if method == "INVITE" and self.on_shed is not None:  # as VOS3000 does, a
                try:                                                # refused attempt has a CDR
                    call_id = str(msg.getHFBody("call-id"))
                    caller = msg.getHFBody("from").getUrl().username or ""
                    callee = msg.getRURI().username or ""
                except Exception:  # a header sippy cannot read: the record says what is known
                    call_id, caller, callee = "", "", ""
                self.on_shed(call_id, caller, callee, msg.getSource(),
                             getattr(msg, "rtime", None))
            return
        if peer is not None and _address(msg.getSource()) != peer:
            self.refused_from += 1
            if msg.getMethod() == "ACK":
                self.l1rcache[checksum] = _sippy_tm.SipTMRetransmitO()
                return
            resp = msg.genResponse(403, "Forbidden")
            self.transmitMsg(server, resp, resp.getHFBody("via").getTAddr(), checksum)
            return
        super().incomingRequest(msg, checksum, tids, server)

    def incomingResponse(self, msg: Any, t: Any, checksum: Any) -> None:
        peer = self.peer_of(str(msg.getHFBody("call-id")))
        if peer is not None and _address(msg.getSource()) != peer:
            self.refused_from += 1
            return  # a response from someone the request was not sent to: not the peer's
        if getattr(t, "needack", False) and msg.getSCode()[0] >= 300:
            # RFC 3261 §17.1.1.3: the ACK of a non-2xx final response goes where the INVITE
            # went, with its Request-URI; sippy would route it by the response's Contact and
            # Record-Route (a 302's Contact is somewhere else). The switch does not follow a
            # redirect either: without its Contact a 3xx is that gateway's failure.
            msg.delHFs("contact")
            msg.delHFs("record-route")
        _lowercase_transport(msg)
        if getattr(t, "needack", False) and 200 <= msg.getSCode()[0] < 300:
            # A 2xx crossing a CANCEL: sippy's cancelling UA sends its BYE from the response
            # callback, before the transaction layer sends the ACK; the peer then sees a BYE
            # for a dialog it does not know yet. Hold what goes out until the ACK is sent.
            self.held = []
            try:
                super().incomingResponse(msg, t, checksum)
            finally:
                held, self.held = self.held, None
                for args in held:
                    self.transmitData(*args)
            return
        super().incomingResponse(msg, t, checksum)

    def transmitData(self, userv: Any, data: Any, address: Any, cachesum: Any = None,
                     lossemul: int = 0) -> None:
        if self.held is not None and not data.startswith(b"ACK " if isinstance(data, bytes)
                                                         else "ACK "):
            self.held.append((userv, data, address, cachesum, lossemul))
            return
        if not is_loopback(str(address[0])):
            peer = self.peer_of(_call_id_of(data))
            if peer is None:
                self.dropped += 1
                return
            self.redirected += 1
            address = peer
        if self.wire:
            self.log_wire(data, "sent", address)
        super().transmitData(userv, data, address, cachesum, lossemul)


# Our own frames that only pass a datagram on to sippy: an exception under them alone is sippy's
_PASS_THROUGH = frozenset(("handleIncoming", "incomingRequest", "incomingResponse",
                           "transmitData", "recvfrom", "handle_read"))


def _raised_by_vossim(exc: BaseException) -> bool:
    """Whether a frame of vossim's own handlers (not the pass-through ones) raised ``exc``."""
    frame = exc.__traceback__
    own = os.sep + "simulator" + os.sep
    while frame is not None:
        code = frame.tb_frame.f_code
        if own in code.co_filename and code.co_name not in _PASS_THROUGH:
            return True
        frame = frame.tb_next
    return False


_CALL_ID_LINE = re.compile(r"^(?:call-id|i)[ \t]*:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)


def _reason_text(event: Any) -> str:
    """The Reason header that came with a BYE, CANCEL or final response, as it was written."""
    reason = getattr(event, "reason_rfc3326", None)
    if reason is None:
        return ""
    return str(getattr(reason, "body", None) or reason)


def _timer_h_ended(event: Any) -> bool:
    """The caller leg's disconnect came of sippy's timer H on the first 200, not of a request.

    sippy stamps every event it makes of the caller's requests (a BYE before the ACK included)
    with the leg's origin, "caller", set when the INVITE came; only ``UA.disconnect()``, which
    the INVITE transaction calls when no ACK came for timer H (its no-ACK callback), leaves it
    None. No other sippy timer that disconnects is armed on the caller's leg (no credit,
    expiry or no-progress time is given to it).
    """
    return event.origin is None


def _call_id_of(data: str | bytes) -> str | None:
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    found = _CALL_ID_LINE.search(text.split("\r\n\r\n", 1)[0])
    return found.group(1) if found else None


def _address(source: Any) -> tuple[str, int]:
    host, port = source
    return str(host), int(port)


_COPIED = ("via", "from", "to", "call-id", "cseq")
_COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id"}


def bad_request_response(data: bytes) -> bytes | None:
    """A 400 for a request sippy could not parse (RFC 3261 §8.2, §21.4.1), or None.

    The response copies Via, From, To, Call-ID and CSeq as far as the request has them; without
    a Via it could not be routed back, so it is dropped, as are responses (§18.1.2: a stray
    response is discarded) and ACKs (never answered).
    """
    head = _request_head(data)
    if head is None:
        return None
    lines_out = ["SIP/2.0 400 Bad Request", *(head[1][k] for k in _COPIED if k in head[1]),
                 "Content-Length: 0", "", ""]
    return "\r\n".join(lines_out).encode()


def _request_head(data: bytes) -> tuple[list[str], dict[str, str]] | None:
    """(request line, the copied headers as ``Name: value`` lines by lower-case name) of a
    request that can be answered (it has a Via), or None."""
    text = data.decode("utf-8", errors="replace")
    head = text.replace("\r\n", "\n").split("\n\n", 1)[0]
    lines = head.split("\n")
    first = lines[0].split() if lines else []
    if len(first) < 2 or first[0] in ("ACK", "SIP/2.0") or not first[-1].startswith("SIP/"):
        return None
    kept: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            continue
        key = name.strip().lower()
        key = _COMPACT.get(key, key)
        if key in _COPIED and key not in kept:
            kept[key] = f"{name.strip()}: {value.strip()}"
    if "via" not in kept:
        return None
    return first, kept


_USER = re.compile(r"sips?:([^@;>\s]+)@", re.IGNORECASE)


def overload_refusal(data: bytes) -> tuple[bytes, str, str, str] | None:
    """For a new INVITE (no To tag) read raw, without sippy's parser: (its stateless 503 with
    Retry-After, Call-ID, caller, callee); None for anything else."""
    head = _request_head(data)
    if head is None or head[0][0] != "INVITE":
        return None
    first, kept = head
    to = kept.get("to", "")
    if ";tag=" in to.replace(" ", "").lower():
        return None  # in a dialog: never shed
    call_id = kept.get("call-id", "").partition(":")[2].strip()
    tag = f"{zlib.crc32(data):08x}"
    if to:
        kept["to"] = f"{to};tag={tag}"
    lines_out = ["SIP/2.0 503 Service Unavailable", *(kept[k] for k in _COPIED if k in kept),
                 f"Retry-After: {RETRY_AFTER}", "Content-Length: 0", "", ""]
    caller = _USER.search(kept.get("from", ""))
    callee = _USER.search(first[1])
    return ("\r\n".join(lines_out).encode(), call_id,
            caller.group(1) if caller else "", callee.group(1) if callee else "")


@dataclass
class LiveOptions:
    port: int = 5060
    speed: float = 1.0
    host: str = "127.0.0.1"
    # RTP anchoring: True relays every call's RTP through the switch, False none, None (the
    # default) only when the scenario needs it to observe a media timeout (needs_media)
    media: bool | None = None


def needs_media(scenario: Scenario) -> bool:
    """Some call stops its RTP and the switch has a media timer that must notice it."""
    return scenario.switch.media_timeout > 0 and any(
        call.media_stops_after is not None for call in scenario.calls)


class LiveError(Exception):
    """Live mode cannot start or cannot play the scenario as written; the message says why."""


class LiveSwitch:
    """Serves SIP on 127.0.0.1 and runs every call through the core. Implements ``Signalling``."""

    def __init__(self, scenario: Scenario, plan: AddressPlan, options: LiveOptions,
                 on_cdr: Callable[[Cdr], None], *, trace: bool = False) -> None:
        if options.host != "127.0.0.1" and not options.host.startswith("127."):
            raise ValueError("live mode listens on loopback only")
        if not 0 <= options.port <= 65535:
            raise LiveError(f"switch port {options.port} is not a UDP port (0-65535; 0 picks "
                            "a free one)")
        self.scenario = scenario
        self.plan = plan
        self.options = options
        self.speed = options.speed
        self.on_cdr = on_cdr
        self.switch = Switch(core_config(scenario), self, trace=trace)
        self.trace: IO[str] | None = None  # where each ended call's trace lines go (--trace)
        self.sources = SourceIndex.build(scenario, plan)
        self.scripts = {spec.id: spec for spec in scenario.calls}  # for the operator's actions
        self.bridges: dict[int, Bridge] = {}
        self.calls_started = 0
        self.calls_ended = 0
        self.flowno = 0
        self.on_call_end: Callable[[Call, Cdr], None] | None = None
        self.started_mono = time.monotonic()
        self.media = needs_media(scenario) if options.media is None else options.media
        # where each routing gateway is served: its own address, or its agents' (set_gateways)
        self.gateway_targets: dict[str, list[tuple[str, int]]] = {
            name: [plan.local(gw.ip)] for name, gw in scenario.routing_gateways.items()}
        self.legs_open: dict[tuple[str, int], int] = {}  # gateway target -> legs it holds
        self.stopping = False
        self.stop_started = 0.0
        self.released_at_shutdown = 0
        self.relay = MediaRelay() if self.media else None
        SipConf.my_address = options.host
        SipConf.my_port = options.port
        SipConf.my_uaname = "vossim-live"
        self.global_config: dict[str, Any] = {
            "_sip_address": options.host, "_sip_port": options.port,
            "_sip_logger": SipLogger("vossim"),
        }
        try:
            self.tm = _TransactionManager(self.global_config, self.recv_request)
        except OSError as exc:
            raise LiveError(f"cannot listen on {options.host}:{options.port}: "
                            f"{exc.strerror or exc}") from None
        self.global_config["_sip_tm"] = self.tm
        self.tm.on_shed = self.shed_invite
        self.tm.max_unacked = scenario.switch.live_source_max_unacked  # Bridge.count_unacked
        if trace:
            self.tm.wire = {}
        # --trace: calls whose wire lines are written once their legs are unbound
        self.wire_pending: dict[object, tuple[Call, tuple[tuple[str, str], ...]]] = {}
        # --port 0: the kernel chose; Via and Contact must carry the port actually bound
        self.port = int(self.tm.l4r.getServer(None, is_local=True).uopts.laddress[1])
        SipConf.my_port = self.port
        self.global_config["_sip_port"] = self.port
        # Full collections of sippy's cyclic objects stall the loop for hundreds of ms at load:
        # collect the young generations rarely, and the old one on a clock (_collect).
        gc.freeze()
        gc.set_threshold(50_000, 50, 1000)
        self.collections = 0
        self.longest_collection = 0.0  # s
        self.collector = Timeout(self._collect, FULL_COLLECTION_EVERY, -1)

    def _collect(self) -> None:
        """A full collection, every FULL_COLLECTION_EVERY seconds.

        With the thresholds above the oldest generation is in effect never collected, and
        sippy's objects form cycles: a UA kept 32 s after its call (godead_timeout) has been
        promoted by then, and its cycle, once dead, stayed for good. Measured after 11,000
        refused INVITEs: 73 MB of RSS held only by such garbage.
        """
        started = time.monotonic()
        gc.collect()
        if _malloc_trim is not None:
            # hand the C heap's free pages back to the system: after a flood the process
            # would otherwise keep its peak RSS for good (a few ms on a 100 MB heap)
            _malloc_trim(0)
        self.collections += 1
        self.longest_collection = max(self.longest_collection, time.monotonic() - started)

    # -- clock ----------------------------------------------------------------------------------
    def now(self) -> float:
        return (time.monotonic() - self.started_mono) * self.speed

    def at(self, rtime: Any) -> float:
        """Core time of a sippy receive stamp (MonoTime).

        sippy's MonoTime reads CLOCK_MONOTONIC_RAW, which is not time.monotonic()'s clock and
        drifts from it, so the offset is measured at each use.
        """
        try:
            raw = rtime.monot
        except AttributeError:
            return self.now()
        now = time.monotonic()
        mono = raw - (clock_getdtime(CLOCK_MONOTONIC_RAW) - now)
        return max(0.0, (min(mono, now) - self.started_mono) * self.speed)

    # -- incoming requests outside any dialog -----------------------------------------------------
    def recv_request(self, req: Any, sip_t: Any) -> Any:
        _lowercase_transport(req)
        method = req.getMethod()
        if req.getHFBody("to").getTag() is not None:
            return (req.genResponse(481, "Call/Transaction Does Not Exist"), None, None)
        if method == "INVITE":
            bridge = Bridge(self, req)
            return bridge.caller_ua.recvRequest(req, sip_t)
        if method == "OPTIONS":
            return (req.genResponse(200, "OK"), None, None)
        if method in ("BYE", "CANCEL", "UPDATE", "INFO", "PRACK"):
            return (req.genResponse(481, "Call/Transaction Does Not Exist"), None, None)
        return (req.genResponse(501, "Not Implemented"), None, None)

    def shed_invite(self, call_id: str, caller: str, callee: str, source: Any,
                    rtime: Any) -> None:
        """An INVITE refused 503 because the switch is overloaded: recorded all the same."""
        host, port = source
        attempt = CallAttempt(call_id, self.at(rtime),
                              self.sources.scenario_address(str(host), int(port)),
                              caller, callee)
        call = self.switch.new_call(attempt, self.calls_started)
        self.calls_started += 1
        call.refuse_overloaded()

    # -- where a gateway's legs go ---------------------------------------------------------------
    def set_gateways(self, targets: dict[str, list[tuple[str, int]]]) -> None:
        """Serve these gateways by several agents each (the CDR still names the gateway)."""
        self.gateway_targets.update(targets)

    def take_target(self, gateway_name: str) -> tuple[str, int]:
        """The gateway's target holding the fewest legs (the first on a tie), now one more."""
        targets = self.gateway_targets[gateway_name]
        target = min(targets, key=lambda t: self.legs_open.get(t, 0))
        self.legs_open[target] = self.legs_open.get(target, 0) + 1
        return target

    def leg_over(self, target: tuple[str, int]) -> None:
        """A leg on ``target`` is done; its pjsua2 slot counts as free a moment later."""
        def free() -> None:
            left = self.legs_open.get(target, 0) - 1
            if left > 0:
                self.legs_open[target] = left
            else:
                self.legs_open.pop(target, None)
        Timeout(free, SLOT_RELEASE)

    # -- the Signalling port --------------------------------------------------------------------
    def invite_gateway(self, call: Call, gateway: RoutingGatewayConfig) -> None:
        self.bridges[call.index].invite(gateway, call.attempts)

    def answered(self, call: Call) -> None:
        spec = self.scripts.get(call.attempt.call_id)
        if spec is not None and spec.admin_disconnect_at is not None:
            # the operator's "disconnect" click, scripted by the scenario
            call.schedule(call.answer_at + spec.admin_disconnect_at, Kind.ADMIN_DISCONNECT)
        self.bridges[call.index].answered()

    def send_refresh(self, call: Call, leg: Leg) -> None:
        self.bridges[call.index].send_refresh(leg)

    def released(self, call: Call) -> None:
        bridge = self.bridges.pop(call.index, None)
        if bridge is not None:
            bridge.released()
        if call.recorded:
            self.flowno += 1
        if self.switch.vos3000 and bridge is not None:
            # what went over the wire: the Reason headers the parties sent, the caller's Call-ID
            cdr = cdr_from_call(call, self.flowno, self.scenario.seed,
                                reason_headers=(bridge.reasons[0], bridge.reasons[1]),
                                caller_call_id=bridge.legs[0])
        else:
            cdr = cdr_from_call(call, self.flowno, self.scenario.seed)  # no flowno if suppressed
        if bridge is not None:
            cdr = bridge.wire_cdr(cdr)
        self.calls_ended += 1
        self.on_cdr(cdr)
        if self.trace is not None:
            write_trace(self.trace, call)
        if self.on_call_end is not None:
            self.on_call_end(call, cdr)

    # -- running --------------------------------------------------------------------------------
    def run(self, duration: float | None = None) -> None:
        """Serve until ``stop()`` or ``duration`` seconds of real time."""
        if duration is not None:
            Timeout(self.stop, duration)
        ED2.loop()

    def stop(self) -> None:
        """Stop serving: every call in progress is released by the server (BYE on both legs,
        or CANCEL and 503 before answer) and recorded, then the loop ends once their
        transactions are done, SHUTDOWN_GRACE seconds at most. A second stop ends it now."""
        if self.stopping:
            ED2.breakLoop()
            return
        self.stopping = True
        self.stop_started = time.monotonic()
        now = self.now()
        for bridge in list(self.bridges.values()):
            call = bridge.call
            if call is None or call.phase is Phase.ENDED:
                continue
            self.released_at_shutdown += 1
            try:
                call.deliver(max(now, call.now), Kind.SHUTDOWN)
            except Exception:  # one call's failure must not keep the others from their CDR
                stack_errors.exception(f"releasing call {call.attempt.call_id} at shutdown")
        self._wait_for_releases()

    def _wait_for_releases(self) -> None:
        open_ = [t for t in self.tm.tclient.values()
                 if t.state not in (_sippy_tm.TERMINATED, _sippy_tm.UACK)]
        if not open_ or time.monotonic() - self.stop_started >= SHUTDOWN_GRACE:
            ED2.breakLoop()
            return
        Timeout(self._wait_for_releases, 0.05)

    def shutdown_summary(self) -> str | None:
        if not self.released_at_shutdown:
            return None
        return (f"{self.released_at_shutdown} calls in progress at shutdown released by the "
                "switch (BYE on both legs, or CANCEL and 503 before answer) and recorded as "
                "server releases (Server Forced Release)")

    def write_wire(self, token: object) -> None:
        """--trace: the wire lines of a call's legs, once no message of theirs can still come
        (or at shutdown): ``{"wire": "sent"|"received", "leg", "peer", "sip"}`` beside the
        core's events and ladder in the call's trace."""
        pending = self.wire_pending.pop(token, None)
        wire = self.tm.wire
        if pending is None or wire is None:
            return
        call, legs = pending
        entries = sorted((entry, name) for call_id, name in legs
                         for entry in wire.pop(call_id, ()))
        if self.trace is None:
            return
        for (mono, direction, address, message), leg in entries:
            t = max(0.0, (mono - self.started_mono) * self.speed)
            self.trace.write(json.dumps({
                "call": call.attempt.call_id, "t": round(t, 6),
                "time": self.switch.wall_ms(t), "wire": direction,
                "leg": leg, "peer": f"{address[0]}:{address[1]}", "sip": message,
            }, separators=(",", ":")) + "\n")

    def shutdown(self) -> None:
        for token in list(self.wire_pending):
            self.write_wire(token)
        self.collector.cancel()
        self.tm.shutdown()
        if self.relay is not None:
            for bridge in list(self.bridges.values()):
                bridge.close_media()
            self.relay.stop()

    def trust_summary(self) -> str | None:
        """What the switch refused or redirected because it trusts no peer (None: nothing)."""
        tm = self.tm
        refused_rtp = self.relay.refused if self.relay is not None else 0
        if not (tm.refused_from or tm.redirected or tm.dropped or refused_rtp):
            return None
        return (f"untrusted peers: refused {tm.refused_from} in-dialog requests from another "
                f"address than the leg's peer; {tm.redirected} messages meant for addresses off "
                f"loopback sent to the leg's own peer instead, {tm.dropped} not sent; "
                f"{refused_rtp} RTP packets not sent off loopback")

    def memory_summary(self) -> str:
        shed = f"; {self.tm.shed} new requests refused (503, Retry-After) under overload" \
            if self.tm.shed else ""
        return (f"memory: {self.collections} full garbage collections, the longest "
                f"{self.longest_collection * 1000:.0f} ms{shed}")

    def media_summary(self) -> str | None:
        """How much RTP the switch relayed, for the run's report (None when not anchoring)."""
        relay = self.relay
        if relay is None:
            return None
        return (f"media: RTP anchored on {relay.anchors_opened} calls, "
                f"{relay.packets} packets relayed")


class _LegUA(UA):
    """sippy's UA, plus what a B2BUA needs of it: the last request it received (its headers go
    on with the relayed request), and in-dialog UPDATE and INFO handed to ``relay_request``
    (answered by the other leg's answer) instead of being answered here. A re-INVITE without
    SDP is relayed without SDP (see ``_offerless``)."""

    UaStateConnected = OfferlessConnected
    last_request: Any = None
    relay_request: Callable[[Any, Any, UA], bool] | None = None
    answer_watch: Bridge | None = None  # times the ACK of each 2xx this leg sends mid-call
    timed_out = False  # the last response it got was sippy's own 408: timer B, nothing came

    def sendUasResponse(self, scode: int, reason: str, body: Any = None, contacts: Any = None,
                        extra_headers: Any = None, ack_wait: bool = False) -> None:
        """sippy's, except that a 2xx to a re-INVITE has its ACK watched by the bridge: sippy
        hears of that ACK only when it carries an answer, and its own timer H (32 s real,
        whatever --speed) would end the leg as if its peer had hung up."""
        watch = self.answer_watch
        if watch is None or not 200 <= scode < 300 or not self.isConnected():
            super().sendUasResponse(scode, reason, body, contacts, extra_headers, ack_wait)
            return
        resp = self.uasResp.getCopy()
        resp.setSCode(scode, reason)
        resp.setBody(body)
        for contact in contacts or ():
            resp.appendHeader(SipHeader(name="contact", body=contact))
        if extra_headers is not None:
            resp.appendHeaders(extra_headers)
        pending = watch.reanswer_sent(self)

        def acked(req: Any) -> None:
            bridge = self.answer_watch  # None once the call was released
            if pending is not None and bridge is not None:
                bridge.reanswer_acked(pending)
            if ack_wait:  # the ACK carries the answer to an offer in the 2xx
                self.recvACK(req)
        self.global_config["_sip_tm"].sendResponse(resp, ack_cb=acked,
                                                   lossemul=self.uas_lossemul)

    def recvResponse(self, resp: Any, tr: Any) -> None:
        # sippy's timer B hands the UA a 408 it made itself; the event made of it carries the
        # leg's origin ("callee") like a gateway's own 408, so only the response tells them
        # apart: it came from nowhere (no source)
        self.timed_out = resp.getSCode()[0] == 408 and resp.source is None
        super().recvResponse(resp, tr)

    def disconnect(self, rtime: Any = None, origin: Any = None) -> None:
        # sippy's timer H on a 2xx to a re-INVITE lands here (the transaction's no-ACK
        # callback): the bridge's timer H, in scenario time, decides that call instead
        watch = self.answer_watch
        if watch is not None and watch.ack_overdue(self):
            return
        super().disconnect(rtime, origin)

    def recvRequest(self, req: Any, sip_t: Any) -> Any:
        self.last_request = req
        method = req.getMethod()
        if method in ("UPDATE", "INFO") and self.relay_request is not None \
                and self.isConnected():
            cseq = req.getHFBody("cseq").getCSeqNum()
            if self.rCSeq is not None and self.rCSeq >= cseq:
                return (req.genResponse(500, "Server Internal Error"), None, None)
            self.rCSeq = cseq
            if self.relay_request(req, sip_t, self):
                # keep the transaction until the other leg answers (see Bridge.relay_request)
                sip_t.teE = Timeout(_no_op, TIMER_B)
                return None
        return super().recvRequest(req, sip_t)


def _no_op() -> None:
    return None


class _UnackedAnswer:
    """A 2xx the switch sent to a re-INVITE on ``ua``'s leg, its ACK not yet come."""

    __slots__ = ("sent_at", "timer", "ua")

    def __init__(self, ua: UA, sent_at: float) -> None:
        self.ua = ua
        self.sent_at = sent_at  # core time
        self.timer: Any = None


def _relayed_headers(req: Any) -> tuple[Any, ...]:
    """Copies of the headers of ``req`` that go on with it to the other leg."""
    if req is None:
        return ()
    out = []
    for name in RELAYED_HEADERS:
        try:
            out.extend(SipHeader(name=name, bodys=str(body)) for body in req.getHFBodys(name))
        except Exception:  # a header sippy cannot read is not passed on
            continue
    return tuple(out)


def wire_cdr(cdr: Cdr, caller_call_id: str, callee_call_id: str) -> Cdr:
    """A live CDR: the Call-IDs are those that went over the wire, not seed-derived ones."""
    cdr.wire_call_ids = {"caller": caller_call_id, "callee": callee_call_id}
    return cdr


def reason_text(code: int, phrase: str) -> str:
    """``sipreasonheader`` for a final response with the peer's own phrase (RFC 3326 form)."""
    clean = "".join(ch if ch.isprintable() and ch not in '"\\' else " " for ch in phrase)
    return f'SIP;cause={code};text="{clean.strip() or sip_phrase(code)}"'


class Bridge:
    """One call: the caller's UA (UAS side), the gateway's UA (UAC side) and the core ``Call``."""

    def __init__(self, live: LiveSwitch, req: Any) -> None:
        self.live = live
        self.source = req.getSource()
        # the Call-IDs of this call's legs, bound to their peers (see _TransactionManager)
        self.legs: list[str] = [str(req.getHFBody("call-id"))]
        self.leg_names = ["caller"]  # who is at the other end of each of self.legs
        self.token = object()
        live.tm.bind_peer(self.legs[0], self.source, self.token)
        self.tag = str(req.getHFBody(CALL_TAG_HEADER)) if req.countHFs(CALL_TAG_HEADER) else ""
        self.caller_ua = _LegUA(live.global_config, event_cb=self._from_caller)
        self.caller_ua.relay_request = self.relay_request
        self.caller_ua.answer_watch = self
        self.callee_ua: UA | None = None
        self.callee_target: tuple[str, int] | None = None  # the gateway agent of the leg
        self.call: Call | None = None
        self.offer: Any = None
        self.answer_body: Any = None
        self.timer: Any = None
        self.timer_for: float | None = None
        self.refreshes: list[Any] = []  # refresh transactions still open
        self.anchor: Anchor | None = live.relay.open() if live.relay is not None else None
        self.media_timer: Any = None
        self.reasons = ["", ""]  # the Reason header the caller, the callee last sent, verbatim
        self.acked = False       # the caller's ACK for the 200 came
        self.ack_timer: Any = None
        self.owes_ack = False    # the call counts among its source's unACKed ones
        self.unacked: list[_UnackedAnswer] = []  # 2xx to re-INVITEs waiting for their ACK
        self.reject_phrase = ""  # the gateway's own phrase of its final response
        self.reject_code = 0

    # -- the caller's side ----------------------------------------------------------------------
    def _from_caller(self, event: Any, ua: UA) -> None:
        if isinstance(event, CCEventTry):
            self._setup(event)
            return
        call = self.call
        if call is None or call.phase is Phase.ENDED:
            return
        callee = self.callee_ua
        if isinstance(event, CCEventConnect):
            code, _, body = event.getData()
            if code == "ACK":
                self._caller_acked(body)
            elif callee is not None and not callee.isDead():
                # the caller's answer to a re-INVITE the gateway sent: back to the gateway
                self._relay(callee, CCEventConnect((code, event.getData()[1],
                                                    self._to_callee(body))), ua)
            return
        if isinstance(event, CCEventUpdate):  # a re-INVITE: on to the gateway, as it came
            if callee is not None and callee.isConnected():
                self._relay(callee, CCEventUpdate(self._to_callee(event.getData())), ua)
            else:
                ua.recvEvent(CCEventFail((491, sip_phrase(491))))
            return
        if isinstance(event, CCEventInfo):  # INFO sippy answered itself: pass it on
            if callee is not None and callee.isConnected():
                self._relay(callee, CCEventInfo(event.getData()), ua)
            return
        if isinstance(event, CCEventFail) and call.phase is Phase.TALKING:
            # the caller refused a re-INVITE of the gateway: the refusal goes back
            if callee is not None and not callee.isDead():
                self._relay(callee, CCEventFail(event.getData()[:2]), ua)
            return
        if isinstance(event, CCEventDisconnect | CCEventFail):
            if call.phase is Phase.TALKING and not self.acked and _timer_h_ended(event):
                # the 200 went unacknowledged for 32 s; a BYE before the ACK is the caller's
                # hangup (RFC 3261 allows it once the 2xx came), decided below
                self._deliver(event, Kind.ACK_TIMEOUT)
                return
            kind = Kind.CALLER_BYE if call.phase is Phase.TALKING else Kind.CALLER_CANCEL
            self.reasons[0] = _reason_text(event)
            self._deliver(event, kind)

    def _caller_acked(self, body: Any) -> None:
        self.acked = True
        self._settle_ack()
        if self.ack_timer is not None:
            self.ack_timer.cancel()
            self.ack_timer = None
        callee = self.callee_ua
        if callee is not None and callee.pending_tr is not None:
            # late offer, or an offerless re-INVITE of the caller: the caller's answer travels
            # in its ACK, on to the gateway's ACK
            callee.recvEvent(CCEventConnect((200, "OK", self._to_callee(body))))

    def _to_callee(self, body: Any) -> Any:
        """An SDP of the caller as the gateway must see it (anchored at the switch)."""
        if body is None or self.anchor is None:
            return body
        body, self.anchor.caller_rtp = anchor_sdp(body, self.anchor.callee_port)
        return body

    def _to_caller(self, body: Any) -> Any:
        """An SDP of the gateway as the caller must see it (anchored at the switch)."""
        if body is None or self.anchor is None:
            return body
        body, self.anchor.callee_rtp = anchor_sdp(body, self.anchor.caller_port)
        return body

    def _relay(self, to: UA, event: Any, source: UA) -> None:
        """Pass a mid-call event on to the other leg with the headers of the request."""
        event.extra_headers = _relayed_headers(source.last_request) \
            if isinstance(event, CCEventUpdate | CCEventInfo) else ()
        to.recvEvent(event)

    def relay_request(self, req: Any, sip_t: Any, source: UA) -> bool:
        """An UPDATE or INFO from one leg: sent on the other; its answer comes back to ``req``.
        False: no other leg to send it to (sippy answers it itself)."""
        other = self.callee_ua if source is self.caller_ua else self.caller_ua
        if other is None or not other.isConnected() or self.call is None \
                or self.call.phase is not Phase.TALKING:
            return False
        body = req.getBody()
        body = (self._to_callee(body) if other is self.callee_ua else self._to_caller(body)) \
            if req.getMethod() == "UPDATE" else body
        out = other.genRequest(req.getMethod(), body, extra_headers=_relayed_headers(req))
        tm = self.live.tm

        def answered(resp: Any, *_: Any) -> None:
            code, phrase = resp.getSCode()
            if code < 200:
                return
            if sip_t.teE is not None:
                sip_t.teE.cancel()
                sip_t.teE = None
            if sip_t.state not in (_sippy_tm.TRYING, _sippy_tm.RINGING):
                return
            answer = req.genResponse(code, phrase, resp.getBody())
            for header in _relayed_headers(resp):
                answer.appendHeader(header)
            tm.sendResponse(answer, sip_t)
        other.newTransaction(out, resp_cb=answered)
        return True

    def _setup(self, event: Any) -> None:
        live = self.live
        call_id, caller, callee, body, auth, _name = event.getData()
        self.offer = body
        if self.anchor is not None:
            # the gateway sends its RTP to the switch, which passes it on to where the caller
            # said it receives
            self.offer, self.anchor.caller_rtp = anchor_sdp(body, self.anchor.callee_port)
        host, port = self.source
        source_ip = live.sources.scenario_address(host, int(port))
        credentials = None
        found = live.switch.gateway_by_ip.get(source_ip)
        config = found[1].auth if found is not None and found[1].protocol == "sip" else None
        if config is not None:
            if auth is None:
                self._challenge()
                self.close_media()  # the retry is a new INVITE, hence a new Bridge
                self.forget_peers()
                return
            user, ok = _digest_matches(auth, config.user, config.password)
            credentials = (user, config.password if ok else "")
        at = live.at(event.rtime)
        attempt = CallAttempt(self.tag or str(call_id), at, source_ip, caller or "",
                              callee or "", credentials)
        call = live.switch.new_call(attempt, live.calls_started)
        live.calls_started += 1
        self.call = call
        live.bridges[call.index] = self
        self.count_unacked()  # settled by the ACK or by released(), which every call reaches
        if live.stopping:  # the switch is shutting down: released at once (server release)
            call.start()
            if call.phase is not Phase.ENDED:
                call.deliver(call.invite_at, Kind.SHUTDOWN)
                live.released_at_shutdown += 1
            return
        call.start()
        self._rearm()

    def _challenge(self) -> None:
        challenge = SipWWWAuthenticate(realm=REALM, nonce=os.urandom(8).hex())
        event = CCEventFail((401, "Unauthorized"))
        event.extra_headers = (SipHeader(name="www-authenticate", body=challenge),)
        self.caller_ua.recvEvent(event)

    # -- the gateway's side ---------------------------------------------------------------------
    def invite(self, gateway: RoutingGatewayConfig, attempt: int) -> None:
        live = self.live
        previous = self.callee_ua
        if previous is not None:
            if not previous.isDead():
                previous.recvEvent(CCEventDisconnect())  # timer B moved on: CANCEL it
            previous.event_cb = _after_release
            previous.relay_request = None
            previous.answer_watch = None
        if self.callee_target is not None:
            live.leg_over(self.callee_target)
        host, port = self.callee_target = live.take_target(self.call.gateway.name)
        headers = (SipHeader(name=CALL_TAG_HEADER, bodys=self.tag),) if self.tag else None
        ua = _LegUA(live.global_config, event_cb=partial(self._from_callee, attempt),
                    nh_address=(host, port), extra_headers=headers)
        ua.relay_request = self.relay_request
        ua.answer_watch = self
        self.callee_ua = ua
        self.reject_phrase, self.reject_code = "", 0
        attempt_data = self.call.attempt
        offer = self.offer.getCopy() if self.offer is not None else None
        call_id = SipCallId()
        self.legs.append(str(call_id))
        self.leg_names.append(self.call.gateway.name)
        live.tm.bind_peer(self.legs[-1], (host, port), self.token)
        invite = CCEventTry((call_id, attempt_data.caller, attempt_data.callee, offer,
                             None, None))
        if gateway.protocol == "sip":
            invite.extra_headers = self._timer_headers("uac")  # the switch refreshes this leg
        # Sent on the loop's next turn, once the datagrams already read are handled: a CANCEL
        # that arrived right behind the INVITE ends the call first, and the INVITE never goes
        # out (RFC 3261 §9.2: nothing is forwarded for a request already cancelled).
        Timeout(partial(self._send_invite, ua, invite), 0)

    def _send_invite(self, ua: UA, invite: Any) -> None:
        call = self.call
        if ua is not self.callee_ua or call is None or call.phase is Phase.ENDED:
            if ua.state is None:  # never sent: nothing to CANCEL, nobody to wait for
                ua.event_cb = None
            return
        ua.recvEvent(invite)

    def _from_callee(self, attempt: int, event: Any, ua: UA) -> None:
        call = self.call
        stale = ua is not self.callee_ua or call is None or call.phase is Phase.ENDED
        if stale:
            if isinstance(event, CCEventConnect | CCEventPreConnect) and not ua.isDead():
                # an answer nobody waits for any more (it crossed a CANCEL): ACK, then BYE
                if ua.pending_tr is not None:
                    ua.recvEvent(CCEventConnect((200, "OK", ua.lSDP)))
                ua.recvEvent(CCEventDisconnect())
            return
        caller = self.caller_ua
        if call.phase is Phase.TALKING:
            self._from_callee_talking(event, ua)
            return
        if isinstance(event, CCEventRing):
            code, phrase, body = event.getData()
            if code <= 100:
                return  # 100 Trying: the gateway has the INVITE; nobody rings yet
            self._deliver(event, Kind.GATEWAY_RINGING, attempt)
            if call.phase is not Phase.ENDED and not caller.isDead():
                # the gateway's own 18x (a 183 with its early media) reaches the caller
                caller.recvEvent(CCEventRing((code, phrase, self._to_caller(body))))
        elif isinstance(event, CCEventConnect | CCEventPreConnect):
            self.answer_body = self._to_caller(event.getData()[2])
            self._deliver(event, Kind.GATEWAY_ANSWER, attempt)
            if call.phase is not Phase.TALKING and ua.isConnected():
                if ua.pending_tr is not None:
                    ua.recvEvent(CCEventConnect((200, "OK", ua.lSDP)))
                ua.recvEvent(CCEventDisconnect())
        elif isinstance(event, CCEventFail | CCEventRedirect):
            code, phrase = int(event.getData()[0]), str(event.getData()[1] or "")
            if code == 408 and call.phase is Phase.TRYING and ua.timed_out:
                return  # sippy's own timer B (local 408): the core's timer B decides (row 18)
            if call.phase in (Phase.TRYING, Phase.RINGING):
                self.reasons[1] = _reason_text(event)
                self.reject_code, self.reject_phrase = code, phrase
                self._deliver(event, Kind.GATEWAY_REJECT, (attempt, code))

    def _from_callee_talking(self, event: Any, ua: UA) -> None:
        """Mid-call events of the gateway's leg: relayed to the caller, or its BYE."""
        caller = self.caller_ua
        if isinstance(event, CCEventDisconnect):
            self.reasons[1] = _reason_text(event)
            self._deliver(event, Kind.CALLEE_BYE)
        elif isinstance(event, CCEventUpdate):
            if caller.isConnected():
                self._relay(caller, CCEventUpdate(self._to_caller(event.getData())), ua)
            else:
                ua.recvEvent(CCEventFail((491, sip_phrase(491))))
        elif isinstance(event, CCEventInfo):
            if caller.isConnected():
                self._relay(caller, CCEventInfo(event.getData()), ua)
        elif isinstance(event, CCEventConnect):
            code, phrase, body = event.getData()
            if code == "ACK":
                # the gateway's ACK to the offer of an offerless re-INVITE the caller answered:
                # its answer goes into the caller's ACK, held until now
                if caller.pending_tr is not None:
                    caller.recvEvent(CCEventConnect((200, "OK", self._to_caller(body))))
            elif not caller.isDead():
                # the gateway's answer to a re-INVITE the caller sent: back to the caller
                caller.recvEvent(CCEventConnect((code, phrase, self._to_caller(body))))
        elif isinstance(event, CCEventFail | CCEventRedirect):
            code, phrase = event.getData()[:2]
            if not caller.isDead():
                caller.recvEvent(CCEventFail((code, phrase)))

    # -- what the core asks for -----------------------------------------------------------------
    def answered(self) -> None:
        # Always with an ACK wait: the caller's ACK carries its answer after a late offer,
        # and an ACK that never comes is the switch's session timeout, not the caller's BYE.
        answer = CCEventPreConnect((200, "OK", self.answer_body))
        if self.call.session_timer:
            answer.extra_headers = self._timer_headers("uas")  # the switch refreshes the caller
        self.caller_ua.recvEvent(answer)
        self.ack_timer = Timeout(self._ack_timeout, TIMER_B / self.live.speed)
        self._watch_media()

    def count_unacked(self) -> None:
        """The call counts among its source's unACKed calls until the ACK or its end.

        A caller ACKs within a round trip of the 200, so even a source placing 275 calls a
        second holds a few dozen calls at once that are not ACKed yet (those still ringing
        included). A source that never ACKs would otherwise take every call the switch's rate
        allows, each holding about 40 KB for timer H's 32 s and 32 s more for the BYE nobody
        answers: measured, 1,089 calls of one 2.6 s flood that kept the switch's RSS twice its
        start 60 s later, a flood 20 CPS of SIPp could not get through. vossim's own rule
        (VOS3000 documents none), set by ``switch: {live_source_max_unacked: N}``.
        """
        self.owes_ack = True
        self.live.tm.ack_owed(_address(self.source), 1)

    def _settle_ack(self) -> None:
        """The caller ACKed, or its call is over: no longer among its source's unACKed."""
        if self.owes_ack:
            self.owes_ack = False
            self.live.tm.ack_owed(_address(self.source), -1)

    def _ack_timeout(self) -> None:
        """Timer H at the scenario's speed: the caller never ACKed the 200."""
        self.ack_timer = None
        call = self.call
        if self.acked or call is None or call.phase is not Phase.TALKING:
            return
        call.deliver(max(call.answer_at + TIMER_B, call.now), Kind.ACK_TIMEOUT)
        self._rearm()

    # -- the ACKs of 2xx to re-INVITEs ---------------------------------------------------------
    def reanswer_sent(self, ua: UA) -> _UnackedAnswer | None:
        """The switch sends ``ua``'s peer a 2xx to its re-INVITE: timer H for its ACK, at the
        scenario's speed (None: the call has ended, nothing to time)."""
        call = self.call
        if call is None or call.phase is not Phase.TALKING:
            return None
        pending = _UnackedAnswer(ua, self.live.now())
        pending.timer = Timeout(partial(self._reanswer_unacked, pending),
                                TIMER_B / self.live.speed)
        self.unacked.append(pending)
        return pending

    def reanswer_acked(self, pending: _UnackedAnswer) -> None:
        if pending in self.unacked:
            self.unacked.remove(pending)
            pending.timer.cancel()

    def ack_overdue(self, ua: UA) -> bool:
        """sippy's own timer H ran out on a 2xx of ``ua``: True if it is one the switch times
        (then ended here, as the switch's timer would have)."""
        for pending in self.unacked:
            if pending.ua is ua:
                self._reanswer_unacked(pending)
                return True
        return False

    def _reanswer_unacked(self, pending: _UnackedAnswer) -> None:
        """A 2xx to a re-INVITE went unACKed for timer H: the session is lost exactly as when
        the first 200 is never ACKed (the same decision row), whichever side asked."""
        self.reanswer_acked(pending)
        call = self.call
        if call is None or call.phase is not Phase.TALKING:
            return
        call.deliver(max(pending.sent_at + TIMER_B, call.now), Kind.ACK_TIMEOUT)
        self._rearm()

    # -- the media timer ------------------------------------------------------------------------
    def _watch_media(self) -> None:
        """Look for silence once the RTP could have been quiet for media_timeout.

        The core's media timer starts at MEDIA_STOPPED; the switch tells it only when a
        direction has carried no RTP for the whole media_timeout, stamped with the arrival of
        the last packet, so the core's MEDIA_TIMEOUT is due at once (stop + media_timeout, as
        simulated) and RTP that pauses and comes back never ends a call.
        """
        anchor = self.anchor
        timeout = self.live.switch.config.media_timeout
        if anchor is None or timeout <= 0:
            return
        anchor.restart_watch()
        self.media_timer = Timeout(self._check_media, timeout / self.live.speed)

    def _check_media(self) -> None:
        self.media_timer = None
        call, anchor = self.call, self.anchor
        if call is None or anchor is None or call.phase is not Phase.TALKING:
            return
        limit = self.live.switch.config.media_timeout / self.live.speed
        since = anchor.silent_since()
        left = since + limit - time.monotonic()
        if left > 0.001:
            self.media_timer = Timeout(self._check_media, left)
            return
        at = max(0.0, (since - self.live.started_mono) * self.live.speed)
        call.deliver(max(at, call.answer_at or 0.0), Kind.MEDIA_STOPPED)
        self._rearm()

    def forget_peers(self) -> None:
        """Unbind the legs' peers once no request of theirs can still come (64 x T1)."""
        live, legs, token = self.live, tuple(self.legs), self.token
        tm = live.tm
        if tm.wire is not None:
            if self.call is not None:
                live.wire_pending[token] = (self.call, tuple(zip(legs, self.leg_names,
                                                                 strict=True)))
            else:  # a challenged INVITE: its retry is another call
                for call_id in legs:
                    tm.wire.pop(call_id, None)

        def unbind() -> None:
            live.write_wire(token)
            for call_id in legs:
                tm.unbind_peer(call_id, token)
        Timeout(unbind, PEER_LINGER)

    def close_media(self) -> None:
        if self.media_timer is not None:
            self.media_timer.cancel()
            self.media_timer = None
        if self.anchor is not None:
            self.anchor.close()
            self.anchor = None

    def _timer_headers(self, refresher: str) -> tuple[Any, ...]:
        """RFC 4028 headers: the session interval (never below Min-SE 90 s real) and who
        refreshes. Empty when the switch runs no session timers."""
        ttl = self.live.switch.config.SS_SIP_SESSION_TTL
        if ttl <= 0:
            return ()
        expires = max(MIN_SESSION_EXPIRES, round(ttl / self.live.speed))
        return (SipHeader(name="session-expires", bodys=f"{expires};refresher={refresher}"),
                SipHeader(name="min-se", bodys=str(MIN_SESSION_EXPIRES)),
                SipHeader(name="supported", bodys="timer"))

    def send_refresh(self, leg: Leg) -> None:
        ua = self.caller_ua if leg is Leg.CALLER else self.callee_ua
        if ua is None or not ua.isConnected():
            return
        req = ua.genRequest("INVITE", ua.lSDP, extra_headers=self._timer_headers("uac"))
        ua.reqs.pop(req.getHFBody("cseq").getCSeqNum(), None)  # ours, not the UA's re-INVITE
        self.refreshes.append(ua.newTransaction(req, resp_cb=partial(self._refresh_response, leg)))

    def _refresh_response(self, leg: Leg, resp: Any, *_: Any) -> None:
        code = resp.getSCode()[0]
        call = self.call
        if code < 200 or call is None or call.phase is not Phase.TALKING:
            return
        if code < 300:
            self._deliver(resp, Kind.REFRESH_ANSWERED, leg)
        elif code != 408 or getattr(resp, "source", None) is not None:
            # RFC 4028 §10 / RFC 3261 §12.2.1.2: a refresh refused (481, 408 ...) ends the
            # session now, on the session-refresh row; sippy's local 408 (no reply at all) is
            # left to the core's own timer B, at the scenario's speed
            number = call.pending_refresh(leg)
            if number is not None:
                # after this callback sippy ACKs the failure: the BYE goes out after that ACK
                at = self.live.at(getattr(resp, "rtime", None))
                Timeout(partial(self._refresh_failed, at, (leg, number, code)), 0)

    def _refresh_failed(self, at: float, arg: tuple[Leg, int, int]) -> None:
        call = self.call
        if call is not None and call.phase is Phase.TALKING:
            call.deliver(max(at, call.now), Kind.REFRESH_TIMEOUT, arg)
            self._rearm()

    def released(self) -> None:
        """Tell both sides how the call ended, as the core decided."""
        call = self.call
        verdict = call.verdict
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.ack_timer is not None:
            self.ack_timer.cancel()
            self.ack_timer = None
        self._settle_ack()
        for pending in self.unacked:  # a sippy transaction may hold one for 32 s: not the call
            pending.timer.cancel()
            pending.timer = None
        self.unacked.clear()
        self.close_media()
        self.forget_peers()
        if self.callee_target is not None:
            self.live.leg_over(self.callee_target)
            self.callee_target = None
        for transaction in self.refreshes:
            _quiet(transaction)
        self.refreshes.clear()
        reason = SipHeader(name="reason", bodys=self.sip_reason_header())
        # A BYE the switch sends on its own names the server's reason (Q.850 cause + text).
        bye_reason = SipHeader(name="reason", bodys=bye_reason_header(verdict)) \
            if verdict.end_direction == Party.SERVER else reason
        caller, callee = self.caller_ua, self.callee_ua
        if not caller.isDead():
            if caller.isConnected():
                if verdict.end_direction != Party.CALLER:
                    _ack_held(caller)
                    caller.recvEvent(_with_headers(CCEventDisconnect(), bye_reason))
            elif verdict.end_direction != Party.CALLER:
                code = verdict.sip_code
                phrase = self.reject_phrase if code == self.reject_code and self.reject_phrase \
                    and verdict.end_direction == Party.CALLEE else sip_phrase(code)
                caller.recvEvent(_with_headers(CCEventFail((code, phrase)), reason))
        if callee is not None and not callee.isDead():
            if callee.isConnected():
                if verdict.end_direction != Party.CALLEE:
                    _ack_held(callee)
                    callee.recvEvent(_with_headers(CCEventDisconnect(), bye_reason))
            elif call.answer_at is None and not callee.isConnected():
                callee.recvEvent(_with_headers(CCEventDisconnect(), reason))  # -> CANCEL
        # sippy keeps each UA 32 s after its dialog ended (godead_timeout) to absorb
        # retransmissions: let it hold nothing of this call meanwhile (measured: ~20 KB per
        # refused INVITE otherwise, times 32 s of a flood)
        caller.event_cb = _after_release
        caller.relay_request = None
        caller.answer_watch = None
        if callee is not None:
            callee.event_cb = _after_release
            callee.relay_request = None
            callee.answer_watch = None

    def sip_reason_header(self) -> str:
        """The call's ``sipreasonheader``: the core's, with the gateway's own phrase when the
        gateway's final response ended the call (its code is the one passed on)."""
        call = self.call
        verdict = call.verdict
        if self.reject_phrase and verdict.end_direction == Party.CALLEE \
                and verdict.sip_code == self.reject_code and call.caller_protocol == "sip" \
                and self.reject_phrase != sip_phrase(self.reject_code):
            return reason_text(self.reject_code, self.reject_phrase)
        return call.sip_reason_header

    def wire_cdr(self, cdr: Cdr) -> Cdr:
        """``cdr`` with this call's wire Call-IDs and the gateway's own reason phrase."""
        out = wire_cdr(cdr, self.legs[0], self.legs[-1] if len(self.legs) > 1 else "")
        if not self.live.switch.vos3000:  # the vos3000 profile writes the Reason as it came
            out.sipreasonheader = self.sip_reason_header()
        return out

    # -- driving the core -----------------------------------------------------------------------
    def _deliver(self, message: Any, kind: Kind, arg: Any = None) -> None:
        call = self.call
        call.deliver(self.live.at(getattr(message, "rtime", None)), kind, arg)
        self._rearm()

    def _rearm(self) -> None:
        call = self.call
        if call.phase is Phase.ENDED:
            return
        wakeup = call.next_wakeup
        if wakeup == self.timer_for and self.timer is not None:
            return
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.timer_for = wakeup
        if wakeup is None:
            return
        delay = max(0.0, (wakeup - self.live.now()) / self.live.speed)
        self.timer = Timeout(self._wake, delay)

    def _wake(self) -> None:
        self.timer = None
        wakeup = self.timer_for
        self.timer_for = None
        call = self.call
        if call.phase is Phase.ENDED or wakeup is None:
            return
        try:
            call.advance(max(self.live.now(), wakeup))
        except Exception as exc:  # never let one call's bug stop the loop for all others
            print(f"vossim live: call {call.attempt.call_id}: {exc!r}", file=sys.stderr)
        self._rearm()


def _digest_matches(auth: Any, user: str, password: str) -> tuple[str, bool]:
    """(user name, whether the RFC 2617 digest response is right for ``user``/``password``)."""
    try:
        if not auth.parsed:
            auth.parse()
        ha1 = DigestCalcHA1(auth.algorithm, auth.username, auth.realm, password, auth.nonce,
                            auth.cnonce)
        expected = DigestCalcResponse(auth.algorithm, ha1, auth.nonce, auth.nc, auth.cnonce,
                                      auth.qop, "INVITE", auth.uri, None)
    except Exception:  # an Authorization header sippy cannot read: wrong credentials
        return "", False
    return auth.username, auth.username == user and expected == auth.response


def _after_release(event: Any, ua: UA) -> None:
    """Events of a leg whose call has ended: a late answer is hung up, nothing else matters."""
    if isinstance(event, CCEventConnect) and not ua.isDead():
        ua.recvEvent(CCEventDisconnect())


def _ack_held(ua: UA) -> None:
    """A leg whose ACK waits for the other side's answer (late offer, offerless re-INVITE) that
    will not come now: ACKed with the last SDP the switch sent it, before its BYE (sippy would
    send that ACK after the BYE)."""
    if ua.pending_tr is not None:
        ua.recvEvent(CCEventConnect((200, "OK", ua.lSDP)))


def _quiet(transaction: Any) -> None:
    """Stop retransmitting a refresh of a call that ended (sippy drops it after timer B)."""
    if getattr(transaction, "teA", None) is not None:
        transaction.teA.cancel()
        transaction.teA = None
    transaction.resp_cb = None


def _with_headers(event: Any, *headers: Any) -> Any:
    event.extra_headers = headers
    return event
