"""End-reason names for CDRs that carry only the number.

A vossim ``cdr.jsonl`` names every reason (``endReasonName``); other sources hold the code alone,
read in a numbering chosen by ``--reason-codes``:

- ``vos3000``: the numbers real VOS3000 rows carry (see docs/cdr-formats.md): -7 Caller Hangup,
  -8 Callee Hangup, -9 Illegal Call, -69 No Available Route; 300-699 the callee's final SIP
  response (404/484/485/604: a number error); 1-127 the Q.850 cause of an H.323 callee; and
  vossim's own placeholders -(100 + row) for the server endings whose real number is not public
  (named as vossim's JSON lines name them, by the decision row's reason).
- ``seeds`` (also ``table``): the seed pages' 25 server end reasons, 1-25 (vossim's default
  profile); negative numbers and SIP codes read as under ``vos3000``.
- ``sip`` / ``q850``: every code is the protocol cause itself.
- ``auto`` (the default) picks from the data: ``vos3000`` when any code is negative (the
  observed numbering's refusals and releases), else ``seeds`` when a code is in 1-25, else
  ``vos3000`` (SIP codes read the same in both).
"""

from __future__ import annotations

from collections.abc import Iterable

from simulator.core import (
    ALL_ROWS,
    OBSERVED_CODES,
    Q850_TEXTS,
    SIP_PHRASES,
    EndReason,
    Verdict,
    is_callee_response,
    placeholder_code,
)

STYLES = ("auto", "vos3000", "seeds", "table", "sip", "q850")
# Protocol causes that mean the call reached the user (for NER).
_SIP_REACHED = {200, 408, 480, 486, 487, 600, 603}
_SIP_NUMBER_ERRORS = {404, 484, 485, 604}
_Q850_REACHED = {16, 17, 18, 19, 21, 31}
_NORMAL_TITLES = {r.title for r in EndReason if r.category == "Normal"}
# The numbers real rows and tools built on real data show, with their category.
OBSERVED: dict[int, tuple[str, str]] = {
    -7: ("Caller Hangup", "Normal"),
    -8: ("Callee Hangup", "Normal"),
    -9: ("Illegal Call", "Security"),
    -69: ("No Available Route", "Routing"),
}


def _observed_rows() -> dict[int, list[Verdict]]:
    """The decision-table rows behind each negative code of the vos3000 profile (its defaults)."""
    rows: dict[int, list[Verdict]] = {}
    for verdict in ALL_ROWS:
        if not is_callee_response(verdict):
            code = OBSERVED_CODES.get(verdict.row, placeholder_code(verdict))
            rows.setdefault(code, []).append(verdict)
    return rows


OBSERVED_ROWS = _observed_rows()
# vossim's stand-ins for server endings whose real number is not public: -(100 + row).
PLACEHOLDERS: dict[int, tuple[str, str]] = {
    code: (verdicts[0].reason.title, verdicts[0].reason.category)
    for code, verdicts in OBSERVED_ROWS.items() if code not in OBSERVED}


def resolve_style(style: str, codes: Iterable[int]) -> str:
    """The numbering ``auto`` stands for, given the end reasons the CDRs hold."""
    if style == "table":
        return "seeds"
    if style != "auto":
        return style
    seen = set(codes)
    if any(c < 0 for c in seen):
        return "vos3000"
    if any(1 <= c <= 25 for c in seen):
        return "seeds"
    return "vos3000"


def _observed(code: int) -> tuple[str, str]:
    if code in OBSERVED:
        return OBSERVED[code]
    if code in PLACEHOLDERS:
        return PLACEHOLDERS[code]
    if 300 <= code <= 699:
        category = ("Normal" if code in _SIP_REACHED else
                    "Number Error" if code in _SIP_NUMBER_ERRORS else "Callee Failure")
        return f"Callee SIP {code} {SIP_PHRASES.get(code, 'Unknown')}", category
    if 1 <= code <= 127:
        category = "Normal" if code in _Q850_REACHED else "Callee Failure"
        return f"Callee Q.850 {code} {Q850_TEXTS.get(code, 'Unspecified')}", category
    return f"end reason {code}", "Unknown"


def _name_and_category(code: int, style: str) -> tuple[str, str]:
    style = resolve_style(style, [code])
    if style == "sip":
        return (f"SIP {code} {SIP_PHRASES.get(code, 'Unknown')}",
                "Normal" if code in _SIP_REACHED else "Protocol")
    if style == "q850":
        return (f"Q.850 {code} {Q850_TEXTS.get(code, 'Unspecified')}",
                "Normal" if code in _Q850_REACHED else "Protocol")
    if style == "seeds" and 1 <= code <= 25:
        reason = EndReason(code)
        return reason.title, reason.category
    return _observed(code)


def reason_name(code: int, given: str | None, style: str) -> str:
    if given:
        return given
    return _name_and_category(code, style)[0]


def reason_category(code: int, given: str | None, style: str) -> str:
    if given:
        if given in _NORMAL_TITLES:
            return "Normal"
        for reason in EndReason:
            if reason.title == given:
                return reason.category
        for name, category in OBSERVED.values():
            if name == given:
                return category
    return _name_and_category(code, style)[1]
