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

# The reason phrases of RFC 3261 §21 and the RFCs that registered further codes (IANA's SIP
# response-code registry): used for every response the switch generates, and for
# ``sipreasonheader`` where no peer gave its own phrase.
SIP_PHRASES: dict[int, str] = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 199: "Early Dialog Terminated",
    200: "OK", 202: "Accepted", 204: "No Notification",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Moved Temporarily",
    305: "Use Proxy", 380: "Alternative Service",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 410: "Gone",
    412: "Conditional Request Failed", 413: "Request Entity Too Large",
    414: "Request-URI Too Long", 415: "Unsupported Media Type",
    416: "Unsupported URI Scheme", 417: "Unknown Resource-Priority", 420: "Bad Extension",
    421: "Extension Required", 422: "Session Interval Too Small", 423: "Interval Too Brief",
    424: "Bad Location Information", 425: "Bad Alert Message", 428: "Use Identity Header",
    429: "Provide Referrer Identity", 430: "Flow Failed", 433: "Anonymity Disallowed",
    436: "Bad Identity Info", 437: "Unsupported Credential", 438: "Invalid Identity Header",
    439: "First Hop Lacks Outbound Support", 440: "Max-Breadth Exceeded",
    469: "Bad Info Package", 470: "Consent Needed",
    480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
    482: "Loop Detected", 483: "Too Many Hops", 484: "Address Incomplete", 485: "Ambiguous",
    486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here",
    489: "Bad Event", 491: "Request Pending", 493: "Undecipherable",
    494: "Security Agreement Required",
    500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
    513: "Message Too Large", 555: "Push Notification Service Not Supported",
    580: "Precondition Failure",
    600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
    606: "Not Acceptable", 607: "Unwanted", 608: "Rejected",
}

Q850_TEXTS: dict[int, str] = {
    1: "Unallocated (unassigned) number", 3: "No route to destination",
    16: "Normal call clearing", 17: "User busy", 18: "No user responding",
    19: "No answer from user (user alerted)", 21: "Call rejected", 22: "Number changed",
    34: "No circuit/channel available", 38: "Network out of order",
    41: "Temporary failure", 42: "Switching equipment congestion",
    50: "Requested facility not subscribed", 102: "Recovery on timer expiry",
    127: "Interworking, unspecified",
}


_CLASS_PHRASES = {1: "Session Progress", 2: "OK", 3: "Redirection", 4: "Request Failure",
                  5: "Server Failure", 6: "Global Failure"}


def sip_phrase(code: int) -> str:
    """The phrase of ``code``; a code no RFC registered gets its class's name (RFC 3261 §21:
    an unknown code is treated as the x00 of its class)."""
    return SIP_PHRASES.get(code) or _CLASS_PHRASES.get(code // 100, "Unknown")


def q850_text(cause: int) -> str:
    return Q850_TEXTS.get(cause, "Unspecified")
