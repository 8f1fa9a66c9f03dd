"""The vocabulary of a call's ending: VOS3000's 25 server end reasons and protocol cause texts.

The numbers are the seed pages' table (manual §4.5). A scenario may renumber any of them through
``switch.end_reason_codes``; the names and categories never change.
"""

from __future__ import annotations

from enum import IntEnum


class EndReason(IntEnum):
    NORMAL_CLEARING = 1
    USER_BUSY = 2
    NO_ANSWER = 3
    UNALLOCATED_NUMBER = 4
    NETWORK_CONGESTION = 5
    ROUTE_NOT_FOUND = 6
    RATE_NOT_FOUND = 7
    BALANCE_INSUFFICIENT = 8
    ACCOUNT_EXPIRED = 9
    ACCOUNT_DISABLED = 10
    CALLER_HANGUP = 11
    CALLEE_HANGUP = 12
    SERVER_FORCED_RELEASE = 13
    SESSION_TIMEOUT = 14
    MEDIA_TIMEOUT = 15
    AUTHENTICATION_FAILED = 16
    UNAUTHORIZED_IP = 17
    CONCURRENT_LIMIT_EXCEEDED = 18
    CPS_LIMIT_EXCEEDED = 19
    BLACKLIST_MATCH = 20
    GATEWAY_UNAVAILABLE = 21
    NO_AVAILABLE_ROUTE = 22
    CALL_REJECTED = 23
    PREPAID_DURATION_EXCEEDED = 24
    SERVICE_NOT_SUBSCRIBED = 25

    @property
    def title(self) -> str:
        """The name VOS3000 operators read, e.g. ``Prepaid Duration Exceeded``."""
        return _TITLES[self]

    @property
    def category(self) -> str:
        return _CATEGORIES[self]


_TITLES = {r: r.name.replace("_", " ").title() for r in EndReason}
_TITLES[EndReason.CPS_LIMIT_EXCEEDED] = "CPS Limit Exceeded"
_TITLES[EndReason.UNAUTHORIZED_IP] = "Unauthorized IP"

_CATEGORIES = {
    **dict.fromkeys(
        (EndReason.NORMAL_CLEARING, EndReason.USER_BUSY, EndReason.NO_ANSWER,
         EndReason.CALLER_HANGUP, EndReason.CALLEE_HANGUP), "Normal"),
    EndReason.UNALLOCATED_NUMBER: "Number Error",
    **dict.fromkeys((EndReason.NETWORK_CONGESTION, EndReason.CALL_REJECTED), "Network"),
    **dict.fromkeys(
        (EndReason.ROUTE_NOT_FOUND, EndReason.GATEWAY_UNAVAILABLE, EndReason.NO_AVAILABLE_ROUTE),
        "Routing"),
    **dict.fromkeys(
        (EndReason.RATE_NOT_FOUND, EndReason.BALANCE_INSUFFICIENT,
         EndReason.PREPAID_DURATION_EXCEEDED), "Billing"),
    **dict.fromkeys(
        (EndReason.ACCOUNT_EXPIRED, EndReason.ACCOUNT_DISABLED, EndReason.SERVICE_NOT_SUBSCRIBED),
        "Account"),
    EndReason.SERVER_FORCED_RELEASE: "System",
    **dict.fromkeys((EndReason.SESSION_TIMEOUT, EndReason.MEDIA_TIMEOUT), "Timeout"),
    **dict.fromkeys(
        (EndReason.AUTHENTICATION_FAILED, EndReason.UNAUTHORIZED_IP, EndReason.BLACKLIST_MATCH),
        "Security"),
    **dict.fromkeys(
        (EndReason.CONCURRENT_LIMIT_EXCEEDED, EndReason.CPS_LIMIT_EXCEEDED), "Capacity"),
}

SIP_PHRASES: dict[int, str] = {
    100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 408: "Request Timeout",
    480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
    484: "Address Incomplete", 486: "Busy Here", 487: "Request Terminated",
    488: "Not Acceptable Here", 500: "Server Internal Error", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Server Time-out", 600: "Busy Everywhere",
    603: "Decline", 604: "Does Not Exist Anywhere", 606: "Not Acceptable",
}

Q850_TEXTS: dict[int, str] = {
    1: "Unallocated (unassigned) number", 3: "No route to destination",
    16: "Normal call clearing", 17: "User busy", 18: "No user responding",
    19: "No answer from user (user alerted)", 21: "Call rejected",
    34: "No circuit/channel available", 38: "Network out of order",
    41: "Temporary failure", 42: "Switching equipment congestion",
    50: "Requested facility not subscribed", 102: "Recovery on timer expiry",
    127: "Interworking, unspecified",
}


def sip_phrase(code: int) -> str:
    return SIP_PHRASES.get(code, "Unknown")


def q850_text(cause: int) -> str:
    return Q850_TEXTS.get(cause, "Unspecified")
