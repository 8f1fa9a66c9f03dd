"""End-reason names for CDRs that carry only the number.

A vossim ``cdr.jsonl`` names every reason (``endReasonName``); other sources hold the code alone,
read in the style the switch wrote (``--reason-codes``): ``table`` (VOS3000's 25 server end
reasons, negative numbers for refused calls as some systems write them) or ``sip`` / ``q850``
(the protocol cause itself).
"""

from __future__ import annotations

from simulator.core._reasons import Q850_TEXTS, SIP_PHRASES, EndReason

STYLES = ("table", "sip", "q850")
# Protocol causes that mean the call reached the user (for NER).
_SIP_REACHED = {200, 408, 480, 486, 487, 600, 603}
_Q850_REACHED = {16, 17, 18, 19, 21, 31}
_NORMAL_TITLES = {r.title for r in EndReason if r.category == "Normal"}


def _table_reason(code: int) -> EndReason | None:
    try:
        return EndReason(abs(code))
    except ValueError:
        return None


def reason_name(code: int, given: str | None, style: str) -> str:
    if given:
        return given
    if style == "sip" or (style == "table" and code >= 100):
        return f"SIP {code} {SIP_PHRASES.get(code, 'Unknown')}"
    if style == "q850":
        return f"Q.850 {code} {Q850_TEXTS.get(code, 'Unspecified')}"
    reason = _table_reason(code)
    return reason.title if reason is not None else f"end reason {code}"


def reason_category(code: int, given: str | None, style: str) -> str:
    if given:
        if given in _NORMAL_TITLES:
            return "Normal"
        for reason in EndReason:
            if reason.title == given:
                return reason.category
    if style == "sip" or (style == "table" and code >= 100):
        return "Normal" if code in _SIP_REACHED else "Protocol"
    if style == "q850":
        return "Normal" if code in _Q850_REACHED else "Protocol"
    reason = _table_reason(code)
    return reason.category if reason is not None else "Unknown"
