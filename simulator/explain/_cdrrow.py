"""``vossim explain --cdr``: one e_cdr row in any shape (CSV, TSV, JSON), field by field.

The row is read by ``simulator.analyze``'s row reader (the same shapes ``vossim analyze`` takes);
every field gets a meaning: what the column holds, and what this value says (times as dates,
end reasons in the numbering the row shows, -1 PDDs, mangled numbers). A pipe line keeps its own
18-field view (``_cdrline``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from simulator.analyze import (
    OBSERVED,
    OBSERVED_ROWS,
    is_mangled_number,
    reason_category,
    reason_name,
    resolve_style,
)
from simulator.core import ALL_ROWS, EndReason

# What each column holds, in the words of the reference (vos3000.md §5, §8) where it says.
COLUMN_MEANINGS: dict[str, str] = {
    "id": "the row number in the table (write order; not the flowno)",
    "callere164": "the calling number as the switch saw it (after the mapping gateway's rewrite)",
    "calleraccesse164": "the calling number as it arrived from the caller",
    "calleee164": "the called number after the switch's rewrite (prefixes added)",
    "calleeaccesse164": "the called number as it arrived from the caller",
    "callerip": "where the INVITE came from",
    "callerrtpip": "the caller's media (RTP) address",
    "callercodec": "the codec used on the caller's leg",
    "callergatewayid": "the mapping gateway (customer side) the call came in through",
    "callerproductid": "the caller's equipment (its User-Agent)",
    "callertogatewaye164": "the calling number sent on toward the routing gateway",
    "callertype": "the caller's kind (1: through a mapping gateway)",
    "calleeip": "the routing gateway's address",
    "calleertpip": "the callee's media (RTP) address",
    "calleecodec": "the codec used on the callee's leg",
    "calleegatewayid": "the routing gateway (vendor) that gave the final answer",
    "calleeproductid": "the callee's equipment (its User-Agent)",
    "calleetogatewaye164": "the called number sent to the routing gateway",
    "calleetype": "the callee's kind (1: a routing gateway was reached; -1: none was)",
    "billingmode": "who is billed: 0 phone account, 1 mapping gateway's account, 2 bound "
                   "number, 3 calling card",
    "calllevel": "the call's level from the matched rate: 1 on-net, 2 local, 4 domestic long "
                 "distance, 5 international",
    "agentfeetime": "seconds the vendor bills (on the vendor's rate)",
    "starttime": "the answer (ms since 1970 UTC); equal to stoptime when not answered",
    "stoptime": "the release (ms since 1970 UTC); daily tables are cut by it",
    "callerpdd": "ms from the INVITE to the first 18x/200 sent back to the caller (or to its "
                 "final response on a failure)",
    "calleepdd": "ms from the INVITE sent to the callee to its first 18x/200; -1 when it sent "
                 "none",
    "holdtime": "seconds of talk (stoptime - starttime, rounded up)",
    "callerareacode": "the area code of the caller's rate",
    "feetime": "seconds billed to the customer (sections, then whole periods)",
    "fee": "the money taken from the customer's account",
    "tax": "the tax on the fee",
    "suitefee": "the part of the fee paid from a package (suite)",
    "suitefeetime": "seconds paid from a package (suite)",
    "incomefee": "income credited for the call (callee-billed calls)",
    "incometax": "tax on the income",
    "customeraccount": "the account billed (the customer)",
    "customername": "the billed account's name",
    "calleeareacode": "the area code of the matched rate",
    "agentfee": "what the vendor charges for the call (its own rate table)",
    "agenttax": "the tax on the vendor's fee",
    "agentsuitefee": "the part of the vendor's fee paid from a package",
    "agentsuitefeetime": "vendor seconds paid from a package",
    "agentaccount": "the vendor's account (the routing gateway's)",
    "agentname": "the vendor account's name",
    "flowno": "the call's sequence number, taken when the INVITE arrives (one sequence across "
              "days)",
    "softswitchname": "the softswitch (or cluster nodes) that handled the call",
    "softswitchcallid": "the softswitch's own call number (-1: none)",
    "callercallid": "the caller leg's Call-ID, as the caller sent it",
    "calleroriginalcallid": "the caller's original Call-ID when it was rewritten",
    "calleecallid": "the callee leg's Call-ID, made by the switch",
    "calleroriginalinfo": "the caller's original identity information",
    "rtpforward": "1 when the switch proxied the media, 0 when it did not (refusals)",
    "enddirection": "who ended the call: 0 caller, 1 callee, 2 the switch",
    "endreason": "why the call ended",
    "billingtype": "who pays: 0 the caller, 1 the callee, 2 external billing",
    "cdrlevel": "the CDR's level (0: a normal call record)",
    "agentcdr_id": "the linked vendor CDR (-1: none)",
    "sipreasonheader": "the Reason header a peer sent, copied verbatim (empty when none was sent)",
    "recordstarttime": "when call recording began (0: no recording)",
    "transactionid": "an external transaction id (empty: none)",
    "flownofirst": "the first flowno of a re-routed call (0: none)",
    "additional": "extra data (a blob; empty as a rule)",
    "dynamicvalue": "extra fields as JSON (empty as a rule)",
    # names of other shapes and vossim's extra fields
    "feeprefix": "the rate prefix matched (the longest prefix of the callee number)",
    "agentfeeprefix": "the vendor rate's prefix",
    "softswitchdn": "the softswitch's name (older exports)",
    "subcdr_id": "the linked sub-CDR (older exports; -1: none)",
    "endreasonname": "the end reason's name, as vossim wrote it",
    "endreasoncategory": "the end reason's category, as vossim wrote it",
    "recorded": "whether the switch wrote the record (vossim: suppressed rows are false)",
    "callid": "the call's id in the vossim scenario",
}
_DIRECTIONS = {0: "the caller hung up", 1: "the callee side ended it (BYE or a failure)",
               2: "the switch ended it (a refusal or a server release)"}
_OBSERVED_ENDINGS = {
    -7: "the caller released: a BYE after the answer or a CANCEL before it",
    -8: "the callee sent a BYE after the answer",
    -9: "an illegal call: the source IP is on no mapping gateway and is not a registered phone "
        "(decision-table rows 1, 2 and 5)",
    -69: "no routing gateway serves the callee number (empty calleegatewayid, calleetype -1)",
}


def _stamp(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def _number(row: dict[str, object], name: str) -> int | None:
    value = row.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def explain_row(row: dict[str, object], shape: str, text: str,
                library: list[tuple[str, str, int | None, int | None]]) -> dict[str, Any]:
    """Every field of ``row`` with its meaning, the ending, and the scenarios that produce it."""
    reason, direction = _number(row, "endreason"), _number(row, "enddirection")
    start, stop = _number(row, "starttime"), _number(row, "stoptime")
    hold = _number(row, "holdtime")
    answered = (start is not None and stop is not None and start != stop) or bool(hold)
    style = resolve_style("auto", [reason] if reason is not None else [])
    fields = []
    for number, (name, value) in enumerate(row.items(), 1):
        fields.append({"number": number, "name": name, "value": "" if value is None else
                       str(value), "meaning": _meaning(name, value, row, answered, style)})
    end = ending(reason, direction, answered, style)
    given = row.get("endreasonname")
    if isinstance(given, str) and given and given != end["reason"]:
        end = {"reason": given, "category": row.get("endreasoncategory") or "", "rows": [],
                  "text": f"{given}, as the row names it (endReason {reason})"}
    scenarios = [{"file": f, "call": c} for f, c, d, r in library
                 if reason is not None and r == reason and (d is None or d == direction)]
    return {"line": text, "shape": shape, "numbering": style, "fields": fields, "end": end,
            "scenarios": scenarios}


def _meaning(name: str, value: object, row: dict[str, object], answered: bool,
             style: str) -> str:
    base = COLUMN_MEANINGS.get(name, "not an e_cdr column: kept as given")
    if value is None or value == "":
        return f"{base}: empty"
    if isinstance(value, str) and is_mangled_number(value) and name not in ("fee", "agentfee"):
        return (f"{base}: WARNING {value!r} is a number a spreadsheet rewrote in scientific "
                "notation; its digits are lost")
    detail = _detail(name, value, row, answered, style)
    return f"{base}: {detail}" if detail else base


def _detail(name: str, value: object, row: dict[str, object], answered: bool,
            style: str) -> str:
    number = value if isinstance(value, int) and not isinstance(value, bool) else None
    if name in ("starttime", "stoptime") and number is not None and number > 0:
        if name == "starttime" and not answered:
            return f"{_stamp(number)}, not answered (starttime = stoptime)"
        return _stamp(number)
    if name == "holdtime" and number is not None:
        return f"{number} s" + ("" if answered or number else ", not answered")
    if name == "endreason" and number is not None:
        given = row.get("endreasonname")
        if isinstance(given, str) and given:  # vossim's JSON lines name it: no reading needed
            return f"{number} = {given}, as the row names it"
        code_name = reason_name(number, None, style)
        return (f"{number} = {code_name} ({reason_category(number, None, style)}), in the "
                f"{style} numbering")
    if name == "enddirection" and number is not None:
        return _DIRECTIONS.get(number, "not a VOS3000 endDirection (0, 1 or 2)")
    if name in ("callerpdd", "calleepdd") and number is not None:
        return "no 18x/200 came" if number == -1 else f"{number} ms"
    if name == "calleetype" and number is not None:
        return {1: "a routing gateway was reached", -1: "no routing gateway was reached"}.get(
            number, f"{number}")
    if name == "billingmode" and number is not None:
        return {0: "a phone account", 1: "the mapping gateway's account", 2: "a bound number",
                3: "a calling card", -1: "not billed (the seed pages' value; real rows show 1)"
                }.get(number, "unknown billing mode")
    if name == "calllevel" and number is not None:
        return {0: "no rate matched", 1: "on-net", 2: "local", 4: "domestic long distance",
                5: "international"}.get(number, f"level {number}")
    if name == "rtpforward" and number is not None:
        return {1: "media proxied", 0: "media not proxied"}.get(number, f"{number}")
    if name == "flowno" and number is not None:
        row_id = _number(row, "id")
        if row_id is not None and row_id != number:
            return f"{number} (differs from id {row_id}: taken at the INVITE, not at the write)"
        return str(number)
    if name in ("fee", "agentfee") and isinstance(value, float):
        other = row.get("agentfee" if name == "fee" else "fee")
        if name == "fee" and isinstance(other, float) and other:
            return f"{value:g}; the margin over the vendor's {other:g} is {value - other:.7g}"
        return f"{value:g}"
    if name in ("feetime", "agentfeetime") and number is not None:
        return f"{number} s billed"
    return ""


def ending(reason: int | None, direction: int | None, answered: bool,
            style: str) -> dict[str, Any]:
    if reason is None:
        return {"reason": None, "rows": [], "text": "the row has no endreason number"}
    if style == "seeds" and 1 <= reason <= 25:
        table = EndReason(reason)
        same = [v for v in ALL_ROWS if v.reason is table and int(v.end_direction) == direction]
        phase = [v for v in same if (v.row >= 21) == answered]  # rows 21-28 end answered calls
        rows = phase or same or [v for v in ALL_ROWS if v.reason is table]
        text = "; ".join(f"row {v.row}: {v.situation} (endDirection {int(v.end_direction)})"
                         for v in rows)
        return {"reason": table.title, "category": table.category,
                "rows": [v.row for v in rows], "text": f"{table.title}: {text}"}
    name = reason_name(reason, None, style)
    rows = OBSERVED_ROWS.get(reason, []) if reason < 0 else []
    if rows:
        text = "; ".join(f"row {v.row}: {v.situation} (endDirection {int(v.end_direction)})"
                         for v in rows)
        if reason in OBSERVED:
            text = f"{_OBSERVED_ENDINGS[reason]}; {text}"
        else:
            text = (f"{text}; vossim's placeholder number (the real one is not public; "
                    "end_reason_codes renumbers it)")
    elif reason in OBSERVED:
        text = _OBSERVED_ENDINGS[reason]
    elif 300 <= reason <= 699:
        text = (f"the callee's final SIP response {reason}, stored as is (real VOS3000 rows do "
                "this for every callee failure)")
    elif 1 <= reason <= 127:
        text = (f"read as the Q.850 cause {reason} of an H.323 callee (inferred: real rows "
                "show SIP codes; the public client labels Q.850 causes so)")
    else:
        text = (f"{reason} is not among the numbers real rows show (-7, -8, -9, -69, SIP "
                "codes): a server ending whose number is not public")
    return {"reason": name, "category": reason_category(reason, None, style),
            "rows": [v.row for v in rows], "text": f"{name}: {text}"}
