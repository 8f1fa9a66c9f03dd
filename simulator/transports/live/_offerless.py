"""sippy's mid-call dialog states, changed for a B2BUA: a re-INVITE without SDP stays offerless.

RFC 3261 §14.1 and RFC 6337 §5.3: a re-INVITE may carry no offer; the offer then comes in its
200 and the answer in the ACK. sippy's ``UaStateConnected`` turns such a re-INVITE into an offer
of its own (the peer's last SDP with address 0.0.0.0, a hold), which a switch in the middle must
not invent. With these states a leg that receives an offerless re-INVITE hands it on as a
``CCEventUpdate`` with no body; the other leg sends its re-INVITE without a body and holds the ACK
of the 200 (the offer) until the side that asked has ACKed with its answer, which goes into that
held ACK. Both legs keep sippy's bookkeeping: ``lSDP`` is the last SDP sent on the leg (what a
session refresh repeats, RFC 3264 §8: same version when unchanged), ``rSDP`` the last one received.

The switch's ``_LegUA`` uses ``OfferlessConnected`` as its ``UaStateConnected``; it enters the
two updating states below only for an offerless re-INVITE (one with SDP goes through sippy's own
``UasStateUpdating``/``UacStateUpdating``, as before). sippy itself is not changed.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sippy.CCEvents import CCEventConnect, CCEventFail, CCEventUpdate
from sippy.UacStateUpdating import UacStateUpdating
from sippy.UasStateUpdating import UasStateUpdating
from sippy.UaStateConnected import UaStateConnected


class OfferlessConnected(UaStateConnected):
    """An established dialog whose offerless re-INVITEs, in and out, stay offerless."""

    def _recvRequestInvite(self, req: Any) -> Any:
        if req.getBody() is not None:
            return UaStateConnected._recvRequestInvite(self, req)
        ua = self.ua
        ua.uasResp = req.genResponse(100, "Trying", server=ua.local_ua)
        ua.global_config["_sip_tm"].sendResponse(ua.uasResp)
        event = CCEventUpdate(None, rtime=req.rtime, origin=ua.origin)
        if req.countHFs("reason"):
            event.reason_rfc3326 = req.getHFBody("reason")
        if req.countHFs("max-forwards"):
            event.max_forwards = req.getHFBody("max-forwards").getNum()
        ua.equeue.append(event)  # rSDP stays the last SDP received until the ACK's answer
        return (OfferlessUasUpdating,)

    def _recvEventUpdate(self, event: Any, eh: Any) -> Any:
        if event.getData() is not None:
            return UaStateConnected._recvEventUpdate(self, event, eh)
        ua = self.ua
        hops = event.max_forwards
        if hops is not None and hops <= 0:
            ua.equeue.append(CCEventFail((483, "Too Many Hops"), rtime=event.rtime))
            return None
        req = ua.genRequest("INVITE", None, extra_headers=eh,
                            max_forwards=None if hops is None else hops - 1)
        ua.newUacTransaction(req, req_extra_headers=eh)
        return (OfferlessUacUpdating,)  # lSDP stays what this leg last sent until the ACK

    recv_request_handlers: ClassVar[dict[Any, Any]] = {**UaStateConnected.recv_request_handlers,
                                                       "INVITE": _recvRequestInvite}
    recv_event_handlers: ClassVar[dict[Any, Any]] = {**UaStateConnected.recv_event_handlers,
                                                     CCEventUpdate: _recvEventUpdate}


class OfferlessUasUpdating(UasStateUpdating):
    """The leg that received an offerless re-INVITE, waiting for the other leg's 200: that 200
    (the offer) goes out waiting for the ACK, whose answer ``recvACK`` hands on."""

    def _recvEventConnect(self, event: Any, eh: Any) -> Any:
        connect = self._getConnectData(event)  # sets lSDP: the offer this leg now sent
        if connect is None:
            return None
        code, reason, body = connect
        self.ua.sendUasResponse(code, reason, body, (self.ua.lContact,), extra_headers=eh,
                                ack_wait=True)
        return (self.ua.UaStateConnected,)

    def _recvEventFail(self, event: Any, eh: Any) -> Any:
        # sippy forgets rSDP here (it had taken the refused offer as rSDP); no offer came in
        # an offerless re-INVITE, so the last SDP received from this leg still stands
        self._sendFailResponse(event, eh)
        return (self.ua.UaStateConnected,)

    recv_event_handlers: ClassVar[dict[Any, Any]] = {**UasStateUpdating.recv_event_handlers,
                                                     CCEventConnect: _recvEventConnect,
                                                     CCEventFail: _recvEventFail}


class OfferlessUacUpdating(UacStateUpdating):
    """The leg that sent an offerless re-INVITE: the ACK of a 200 with the offer is held
    (``pending_tr``) until the answer is known, then sent with it by ``_recvEventConnect``."""

    def recvResponse(self, resp: Any, tr: Any) -> Any:
        code = resp.getSCode()[0]
        if 200 <= code < 300 and resp.getBody() is not None:
            tr.uack = True
            self.ua.pending_tr = tr
        sent = self.ua.lSDP
        newstate = super().recvResponse(resp, tr)
        if code >= 300:
            # sippy forgets lSDP on a refusal (it had sent an offer); this leg sent none, so
            # the last SDP it was sent stands (a session refresh repeats it)
            self.ua.lSDP = sent
        return newstate
