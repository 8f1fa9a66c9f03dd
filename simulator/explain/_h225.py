"""H.225.0 call signalling messages: Q.931 with the H.225 UUIE, as an H.323 peer sends them.

One ladder entry of an H.323 leg (``Setup``, ``Call Proceeding``, ``Alerting``, ``Connect``,
``Release Complete (cause N)``) becomes one Q.931 message in a TPKT (RFC 1006) for TCP port 1720.
Its User-user IE carries the ``H323-UserInformation`` of H.225.0 version 4, encoded in aligned
PER by pycrate's compiled H.225 module (``pycrate_asn1dir.H225``), never by hand. A Release
Complete carries the Q.850 cause in the Cause IE and the ``releaseCompleteReason`` that H.225.0
pairs with it (``RELEASE_REASONS``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

H225_PORT = 1720
PROTOCOL_IDENTIFIER = (0, 0, 8, 2250, 0, 4)  # itu-t(0) recommendation(0) h(8) 2250 version(0) 4
Q931_DISCRIMINATOR = 0x08
UUIE_DISCRIMINATOR = 0x05  # X.208/X.209 coded user information: the H.225 UUIE

# Q.931 message type and the H323-UU-PDU body alternative of every H.225 message of the ladder.
MESSAGES: dict[str, tuple[int, str]] = {
    "Setup": (0x05, "setup"),
    "Call Proceeding": (0x02, "callProceeding"),
    "Alerting": (0x01, "alerting"),
    "Connect": (0x07, "connect"),
    "Release Complete": (0x5A, "releaseComplete"),
}

# Q.850 cause -> ReleaseCompleteReason. Where H.225.0 (table "ReleaseCompleteReason to Q.931
# cause") maps a reason to exactly this cause, that reason is used (3, 16, 17, 34, 42); the other
# causes the decision table gives take the reason that says the same thing: the number or route
# does not exist (unreachableDestination), the destination did not take the call
# (destinationRejection), the account may not call there (noPermission), nothing more specific
# (undefinedReason). Only root alternatives: every H.225 version knows them.
RELEASE_REASONS: dict[int, str] = {
    1: "unreachableDestination",    # unallocated number
    3: "unreachableDestination",    # no route to destination
    16: "destinationRejection",     # normal call clearing
    17: "inConf",                   # user busy (H.225.0's only reason that maps to cause 17)
    18: "destinationRejection",     # no user responding
    19: "destinationRejection",     # no answer from user
    21: "destinationRejection",     # call rejected
    34: "noBandwidth",              # no circuit/channel available
    38: "unreachableDestination",   # network out of order: the gateways cannot be reached
    41: "undefinedReason",          # temporary failure (the media timeout)
    42: "gatewayResources",         # switching equipment congestion
    50: "noPermission",             # requested facility not subscribed
    102: "undefinedReason",         # recovery on timer expiry
    127: "undefinedReason",         # interworking, unspecified
}
DEFAULT_RELEASE_REASON = "undefinedReason"

# Cause IE location: the switch speaks as the public network serving the local user; a vendor's
# or customer's gateway as the user.
LOCATION_USER = 0
LOCATION_PUBLIC_LOCAL = 2


class H225Error(ValueError):
    """A ladder label that is not an H.225 message of this module."""


@dataclass(frozen=True)
class H225Message:
    """What one H.225 message says: everything the bytes are made from."""

    name: str                 # a key of MESSAGES
    cause: int | None         # Q.850 cause of a Release Complete
    call_reference: int       # 1..32767, one per leg
    from_originator: bool     # sent by the side that sent the Setup
    call_identifier: bytes    # 16-byte GUID, one per leg
    conference_id: bytes      # 16-byte GUID
    calling_number: str
    called_number: str
    source_ip: str            # the sender's address
    destination_ip: str       # the receiver's address
    by_switch: bool           # the switch sends it (Cause IE location)

    @property
    def message_type(self) -> int:
        return MESSAGES[self.name][0]

    @property
    def release_reason(self) -> str | None:
        if self.cause is None:
            return None
        return RELEASE_REASONS.get(self.cause, DEFAULT_RELEASE_REASON)


def parse_label(label: str) -> tuple[str, int | None]:
    """``Release Complete (cause 17)`` -> (``Release Complete``, 17); ``Setup`` -> (``Setup``,
    None)."""
    name, _, rest = label.partition(" (")
    if name not in MESSAGES:
        raise H225Error(f"{label!r} is not an H.225 call signalling message")
    if name != "Release Complete":
        return name, None
    if not rest.startswith("cause ") or not rest.rstrip(")")[6:].isdigit():
        raise H225Error(f"{label!r}: a Release Complete names its Q.850 cause")
    return name, int(rest.rstrip(")")[6:])


def _ip(address: str) -> bytes:
    return bytes(int(part) for part in address.split("."))


def _endpoint() -> dict[str, Any]:
    return {"gateway": {}, "mc": False, "undefinedNode": False}


def user_information(message: H225Message) -> dict[str, Any]:
    """The ``H323-UserInformation`` value of ``message`` (pycrate's value notation)."""
    identifier = {"guid": message.call_identifier}
    common = {"callIdentifier": identifier, "multipleCalls": False, "maintainConnection": False}
    body: dict[str, Any]
    if message.name == "Setup":
        body = {
            "protocolIdentifier": PROTOCOL_IDENTIFIER,
            "sourceAddress": [("dialledDigits", message.calling_number)],
            "sourceInfo": _endpoint(),
            "destinationAddress": [("dialledDigits", message.called_number)],
            "destCallSignalAddress": ("ipAddress", {"ip": _ip(message.destination_ip),
                                                    "port": H225_PORT}),
            "activeMC": False,
            "conferenceID": message.conference_id,
            "conferenceGoal": ("create", 0),
            "callType": ("pointToPoint", 0),
            "sourceCallSignalAddress": ("ipAddress", {"ip": _ip(message.source_ip),
                                                      "port": H225_PORT}),
            "mediaWaitForConnect": False,
            "canOverlapSend": False,
            **common,
        }
    elif message.name in ("Call Proceeding", "Alerting"):
        body = {"protocolIdentifier": PROTOCOL_IDENTIFIER, "destinationInfo": _endpoint(),
                **common}
    elif message.name == "Connect":
        body = {"protocolIdentifier": PROTOCOL_IDENTIFIER, "destinationInfo": _endpoint(),
                "conferenceID": message.conference_id, **common}
    else:
        body = {"protocolIdentifier": PROTOCOL_IDENTIFIER,
                "reason": (message.release_reason, 0), "callIdentifier": identifier}
    return {"h323-uu-pdu": {"h323-message-body": (MESSAGES[message.name][1], body),
                            "h245Tunnelling": False}}


_CODEC_LOCK = threading.Lock()  # pycrate's PER codec keeps its bit offsets in class state


@contextmanager
def _extension_additions_aligned() -> Iterator[Any]:
    """pycrate's aligned-PER codec, with its padding of extension additions corrected.

    pycrate 0.8.1 encodes a SEQUENCE's extension additions (each an open type) before it writes
    their presence bitmap, so it pads the first one as if the bitmap were not there: when the
    root part ends off an octet boundary the encoding gains a stray octet that its own decoder,
    and Wireshark, read as an open type of length 0. X.691 realigns after the bitmap, so each
    addition starts on an octet: this runs the encoder with the additions never padded
    themselves. ``encode`` checks every result with pycrate's decoder, which reads X.691
    correctly.
    """
    from pycrate_asn1rt.codecs import ASN1CodecPER

    original = ASN1CodecPER.__dict__["encode_unconst_open"]

    def encode_unpadded(cla: Any, wrapped: Any) -> Any:
        offset = cla._off[-1]
        cla._off[-1] = 0  # aligned: no padding before the length determinant
        try:
            return original.__func__(cla, wrapped)
        finally:
            cla._off[-1] += offset

    with _CODEC_LOCK:
        ASN1CodecPER.encode_unconst_open = classmethod(encode_unpadded)
        try:
            yield ASN1CodecPER
        finally:
            ASN1CodecPER.encode_unconst_open = original


def encode_uuie(value: dict[str, Any]) -> bytes:
    """Aligned PER of an ``H323-UserInformation`` value, checked by decoding it again."""
    from pycrate_asn1dir.H225 import H323_MESSAGES

    pdu = H323_MESSAGES.H323_UserInformation
    with _extension_additions_aligned():
        pdu.set_val(value)
        encoded = pdu.to_aper()
        pdu.from_aper(encoded)
        decoded = pdu.get_val()
    if decoded != value:
        raise H225Error(f"the H.225 codec does not read back what it wrote: {decoded!r}")
    return encoded


def value_notation(value: dict[str, Any]) -> str:
    """The UUIE in ASN.1 value notation, for a person (the HTML page)."""
    from pycrate_asn1dir.H225 import H323_MESSAGES

    pdu = H323_MESSAGES.H323_UserInformation
    with _CODEC_LOCK:
        pdu.set_val(value)
        return str(pdu.to_asn1())


def _ie(identifier: int, content: bytes) -> bytes:
    if len(content) > 255:
        raise H225Error(f"Q.931 IE 0x{identifier:02x} too long")
    return bytes([identifier, len(content)]) + content


def _number(digits: str) -> bytes:
    # octet 3: extension bit, type of number unknown, numbering plan ISDN/telephony (E.164)
    return b"\x81" + digits.encode("ascii")


def q931(message: H225Message) -> bytes:
    """The Q.931 message: header, the IEs in ascending order, the User-user IE last."""
    reference = message.call_reference & 0x7FFF
    if not message.from_originator:
        reference |= 0x8000  # the call reference flag: sent to the side that chose the value
    out = bytes([Q931_DISCRIMINATOR, 2]) + reference.to_bytes(2, "big") + \
        bytes([message.message_type])
    if message.name == "Setup":
        out += _ie(0x04, b"\x80\x90\xa2")  # speech, circuit mode 64 kbit/s, G.711 µ-law
    if message.cause is not None:
        location = LOCATION_PUBLIC_LOCAL if message.by_switch else LOCATION_USER
        out += _ie(0x08, bytes([0x80 | location, 0x80 | message.cause]))
    if message.name == "Setup":
        if message.calling_number:
            out += _ie(0x6C, _number(message.calling_number))
        if message.called_number:
            out += _ie(0x70, _number(message.called_number))
    uuie = bytes([UUIE_DISCRIMINATOR]) + encode_uuie(user_information(message))
    return out + bytes([0x7E]) + len(uuie).to_bytes(2, "big") + uuie


def tpkt(payload: bytes) -> bytes:
    """RFC 1006: version 3, reserved 0, the length of the whole packet."""
    return bytes([3, 0]) + (len(payload) + 4).to_bytes(2, "big") + payload


def describe(message: H225Message) -> str:
    """The message as a person reads it: Q.931 header and IEs, then the UUIE."""
    lines = [f"Q.931 {message.name} (message type 0x{message.message_type:02x}), "
             f"call reference {message.call_reference} "
             f"(flag {'0' if message.from_originator else '1'}), TPKT over TCP port {H225_PORT}"]
    if message.cause is not None:
        lines.append(f"Cause IE: Q.850 cause {message.cause}; releaseCompleteReason "
                     f"{message.release_reason}")
    if message.name == "Setup":
        lines.append(f"Calling party number: {message.calling_number}; called party number: "
                     f"{message.called_number}")
    lines.append("User-user IE, H323-UserInformation:")
    lines.append(value_notation(user_information(message)))
    return "\n".join(lines)
