"""``vossim explain --cdr ROW``: any VOS3000 CDR row, field by field.

A pipe line is read here in its 18-field view; any other shape (a CSV or TSV e_cdr line, with or
without its header line, a GetCdr or vossim JSON object) is read by ``simulator.analyze``'s row
reader and explained column by column (``_cdrrow``); a file holding CDRs in any shape gives the
row whose flowno is ``--flowno N``.

For a pipe line:
The end reason is read in the switch's default server-code numbering (1-25), or as a negative
refusal code, or as a protocol code (SIP response or Q.850 cause) when it is outside 1-25. The
library scenarios that produce it are found from the ``expect`` blocks of ``scenarios/`` (which
``vossim check`` verifies), so the list never claims what the simulator does not do.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from cdr_writer import PIPE_FIELDS
from simulator._console import markup_safe
from simulator.analyze import reason_name
from simulator.core import EndReason, q850_text, sip_phrase
from simulator.explain._build import ExplainError
from simulator.explain._cdrrow import ending as observed_ending
from simulator.explain._cdrrow import explain_row

_DIRECTIONS = {0: "the caller hung up", 1: "the callee side ended it (BYE or refusal)",
               2: "the server (the switch) ended it"}
_INTEGER = ("startTime", "stopTime", "holdTime", "endReason", "endDirection", "feeTime",
            "callerPdd", "billingMode")


def library_root() -> Path | None:
    """The scenario library: next to the package in a checkout, else ``./scenarios``."""
    for candidate in (Path(__file__).resolve().parents[2] / "scenarios", Path("scenarios")):
        if candidate.is_dir():
            return candidate
    return None


@lru_cache(maxsize=1)
def _library() -> tuple[tuple[str, str, int | None, int | None], ...]:
    """(file, call id, endDirection, endReason) of every expect block of the library."""
    import yaml

    root = library_root()
    if root is None:
        return ()
    found = []
    for path in sorted(root.rglob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        for call in (data or {}).get("calls") or []:
            expect = call.get("expect") or {}
            reason = expect.get("endReason", expect.get("endreason"))
            direction = expect.get("endDirection", expect.get("enddirection"))
            if reason is not None:
                found.append((str(path.relative_to(root.parent)), str(call.get("id")),
                              direction, reason))
    return tuple(found)


_LATEST_MS = 253_402_300_799_999  # 9999-12-31 23:59:59.999 UTC


def _stamp(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def decode_pipe(line: str) -> dict[str, Any]:
    line = line.strip()
    values = line.split("|")
    if len(values) != len(PIPE_FIELDS):
        raise ExplainError(f"expected a pipe CDR line of {len(PIPE_FIELDS)} |-separated fields "
                           f"(callerE164|calleeE164|startTime|…|flowNo), found {len(values)}")
    raw = dict(zip((name for name, _ in PIPE_FIELDS), values, strict=True))
    numbers: dict[str, int] = {}
    for name in _INTEGER:
        text = raw[name]
        try:
            numbers[name] = int(text)
        except ValueError:
            raise ExplainError(f"field {name} (#{[n for n, _ in PIPE_FIELDS].index(name) + 1}): "
                               f"expected a whole number, found {text!r}") from None
    for name in ("startTime", "stopTime"):
        if not 0 <= numbers[name] <= _LATEST_MS:
            raise ExplainError(f"field {name} (#{[n for n, _ in PIPE_FIELDS].index(name) + 1}): "
                               "expected ms since 1970 up to the year 9999, found "
                               f"{raw[name]!r}")
    direction, reason = numbers["endDirection"], numbers["endReason"]
    start, stop, hold = numbers["startTime"], numbers["stopTime"], numbers["holdTime"]
    answered = start != stop or hold > 0
    meaning = {
        "callerE164": "the calling number",
        "calleeE164": "the called number",
        "startTime": f"{_stamp(start)}: " + ("the answer" if answered else
                                             "not answered (startTime = stopTime)"),
        "stopTime": f"{_stamp(stop)}: the release",
        "holdTime": f"{hold} s of talk" + (f" (stopTime - startTime = {(stop - start) / 1000:.3f}"
                                           " s, rounded by the hold-time precision)"
                                           if answered else ""),
        "endReason": _reason_meaning(reason),
        "endDirection": _DIRECTIONS.get(direction, "not a VOS3000 endDirection (0, 1 or 2)"),
        "callerGatewayId": "the mapping gateway (customer side) the call came in through"
                           if raw["callerGatewayId"] else "empty: the source IP matched no "
                                                          "mapping gateway",
        "calleeGatewayId": "the routing gateway (vendor) that gave the final answer"
                           if raw["calleeGatewayId"] else "empty: no routing gateway was tried",
        "callerIp": "where the INVITE came from",
        "calleeIp": "the routing gateway's address" if raw["calleeIp"] else "empty",
        "customerAccount": "the account billed" if raw["customerAccount"] else
                           "empty: no account (unidentified call)",
        "feePrefix": "the rate prefix matched (longest prefix of the callee)"
                     if raw["feePrefix"] else "empty: never rated",
        "feeTime": f"{numbers['feeTime']} s billed (sections, then whole periods)",
        "fee": "the money charged, in the switch's fee precision",
        "callerPdd": f"{numbers['callerPdd']} ms from the INVITE to the first 180/183/200 sent "
                     "back",
        "billingMode": {1: "billed through the mapping gateway's account",
                        -1: "never rated (refused before rating) or not billable"}.get(
                            numbers["billingMode"], "unknown billing mode"),
        "flowNo": "the record's number, in stoptime order",
    }
    fields = [{"number": i, "name": name, "value": raw[name], "meaning": meaning[name]}
              for i, (name, _) in enumerate(PIPE_FIELDS, 1)]
    return {"line": line, "fields": fields, "end": _ending(direction, reason, answered),
            "scenarios": [{"file": f, "call": c} for f, c, d, r in _library()
                          if r == reason and (d is None or d == direction)]}


def _reason_meaning(code: int) -> str:
    if 1 <= code <= 25:
        reason = EndReason(code)
        return f"{code} = {reason.title} ({reason.category}), server-code style"
    if code < 0:
        return (f"{code} = {reason_name(code, None, 'vos3000')}, the numbering real VOS3000 rows "
                "show")
    if 100 <= code <= 699:
        return f"{code}: protocol style, the SIP code {code} {sip_phrase(code)}"
    return f"{code}: protocol style, the Q.850 cause {code} ({q850_text(code)})"


def _ending(direction: int, code: int, answered: bool) -> dict[str, Any]:
    if code < 0:  # the observed numbering (what real rows carry)
        return observed_ending(code, direction, answered, "vos3000")
    if not 1 <= code <= 25:
        return {"reason": None, "rows": [], "text": "a protocol code: which row decided it "
                                                    "depends on the caller leg's protocol"}
    return observed_ending(code, direction, answered, "seeds")


def line_from_file(path: Path, flowno: int | None) -> str:
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as exc:
        raise ExplainError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ExplainError(f"{path}: expected a text file of pipe CDR lines") from None
    if flowno is None:
        if len(lines) == 1:
            return lines[0]
        raise ExplainError(f"{path} holds {len(lines)} CDR lines: say which with --flowno N")
    for line in lines:
        if line.rsplit("|", 1)[-1].strip() == str(flowno):
            return line
    numbers = [line.rsplit("|", 1)[-1] for line in lines]
    span = f"{numbers[0]}-{numbers[-1]}" if numbers else "none"
    raise ExplainError(f"no line with flowNo {flowno} in {path} (its flowNos: {span})")


def _is_pipe_line(text: str) -> bool:
    line = text.strip()
    if line.startswith(("{", "[")) or "\n" in line:
        return False
    return line.count("|") > max(line.count(","), line.count("\t"))


def decode_text(text: str) -> dict[str, Any]:
    """One CDR given on the command line: a pipe line, a CSV/TSV line or a JSON object."""
    from simulator.analyze import SourceError, parse_row_and_shape

    if _is_pipe_line(text):
        return decode_pipe(text)
    try:
        shape, row = parse_row_and_shape(text)
    except SourceError as exc:
        raise ExplainError(f"--cdr: {exc}") from None
    return explain_row(row, shape, text.strip(), list(_library()))


def names_a_file(text: str) -> bool:
    """``text`` is the name of something other than a directory (a long CSV row is not: no
    OSError for it). A FIFO or a device counts: the CDR reader refuses it by name."""
    if "\n" in text or len(text) > 4096:
        return False
    try:
        return Path(text).exists() and not Path(text).is_dir()
    except (OSError, ValueError):
        return False


def decode_file(path: Path, flowno: int | None) -> dict[str, Any]:
    """The row of ``path`` whose flowno is ``flowno`` (or its only row), explained."""
    from simulator.analyze import SourceError, find_sources, read_cdr_rows

    try:
        (source,) = find_sources([str(path)])
        if source.kind == "pipe":
            line = line_from_file(path, flowno)
            try:
                return decode_pipe(line)
            except ExplainError as exc:  # say which file (and row) the line came from
                which = f"{path} (flowNo {flowno})" if flowno is not None else str(path)
                raise ExplainError(f"{which}: {exc}") from None
        rows = read_cdr_rows(path)
        if flowno is not None:
            row = next((r for r in rows if r.get("flowno") == flowno), None)
            if row is None:
                raise ExplainError(f"no CDR with flowno {flowno} in {path}")
        else:
            row, second = next(rows, None), next(rows, None)
            if row is None or second is not None:
                count = 0 if row is None else 2 + sum(1 for _ in rows)
                raise ExplainError(f"{path} holds {count} CDRs: say which with --flowno N")
    except SourceError as exc:
        raise ExplainError(str(exc)) from None
    shape = f"{source.kind} file {path.name}, flowno {row.get('flowno')}"
    return explain_row(row, shape, str(path), list(_library()))


def render_decoded(decoded: dict[str, Any], console: Console) -> None:
    shape = decoded.get("shape", "pipe line")
    table = Table(title=markup_safe(f"VOS3000 CDR ({shape}), field by field"), title_justify="left",
                  title_style="bold")
    table.add_column("#", justify="right")
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("value", no_wrap=True)
    table.add_column("meaning")
    for item in decoded["fields"]:
        table.add_row(str(item["number"]), markup_safe(item["name"]), Text(str(item["value"])),
                      Text(item["meaning"]))
    console.print(table)
    console.print(Text(f"ending: {decoded['end']['text']}", style="bold"))
    scenarios = decoded["scenarios"]
    if scenarios:
        console.print(Text("library scenarios that produce it (vossim explain FILE --call ID):",
                           style="bold"))
        for item in scenarios:
            console.print(Text(f"  {item['file']} --call {item['call']}"))
    else:
        console.print(Text("no library scenario produces this ending"))
