"""The tables of ``docs/decision-table.md``, written from the decision table itself.

The rows live once, as data, in ``simulator/core/_decisions.py``; the document's three tables
(at setup, before answer, after answer) are generated from them, so a row changed there cannot
leave the document behind (``tests/test_decision_doc.py`` fails when it is stale). The prose
around the tables is written by hand; each table sits between two marker comments:

    <!-- generated: setup -->  …  <!-- end generated -->

``python -m simulator.explain._decision_doc [docs/decision-table.md]`` rewrites the tables in
place (``make docs``); ``--check`` only says whether they are current.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from simulator.core import Party, Verdict
from simulator.core import decisions as table

DOC = Path(__file__).resolve().parents[2] / "docs" / "decision-table.md"

_MARKER = re.compile(r"(<!-- generated: ([\w-]+) -->\n)(.*?)(<!-- end generated -->)", re.S)


def _observed(verdict: Verdict) -> str:
    """The row's end reason under the vos3000 profile; * marks a number real data never showed."""
    if table.is_callee_response(verdict):
        codes = sorted(code for code, named in table.CALLEE_REJECTIONS.items()
                       if named.row == verdict.row) or [verdict.sip_code]
        other = ", any other" if verdict is table.DECLINED else ""
        return f"the callee's code ({', '.join(map(str, codes))}{other})"
    code, _, _ = table.observed_end_reason(verdict, "sip", {})
    return f"{code} *" if code == table.placeholder_code(verdict) else str(code)


def _to_caller(verdict: Verdict) -> str:
    """What the caller's leg is sent (before answer) or what ends both legs (after answer)."""
    if verdict is table.SHUTDOWN_BEFORE_ANSWER:
        return f"CANCEL to the gateway, {verdict.sip_code} to the caller"
    if verdict is table.OVERLOADED:
        return f"{verdict.sip_code} with Retry-After"
    if verdict is table.ACK_TIMEOUT:
        return "BYE both legs"
    if verdict.row == 2:
        return f"401, then {verdict.sip_code}"
    if verdict.row < table.CALLER_BYE.row:
        return str(verdict.sip_code)
    if verdict.end_direction != Party.SERVER:
        return "BYE"
    if verdict.sip_code != 200:
        return f"{verdict.sip_code} on the re-INVITE, BYE both legs"
    return "BYE both legs"


def _row(verdict: Verdict) -> str:
    reason = verdict.reason
    cells = (str(verdict.row), verdict.detail or verdict.situation, str(int(verdict.end_direction)),
             f"{int(reason)} {reason.title}", _observed(verdict), _to_caller(verdict),
             str(verdict.q850))
    return "| " + " | ".join(cells) + " |"


def _table(verdicts: list[Verdict], last: str) -> str:
    header = ("| # | situation | endDirection | endReason (seeds) | vos3000 | "
              f"{last} | Q.850 |\n|---|---|---|---|---|---|---|\n")
    return header + "".join(_row(v) + "\n" for v in verdicts)


def tables() -> dict[str, str]:
    """The generated text of each marked section, by its name."""
    rows = list(table.ALL_ROWS)
    return {
        "setup": _table([v for v in rows if v.row <= 13], "to the caller"),
        "before-answer": _table([v for v in rows if 14 <= v.row <= 20], "to the caller"),
        "after-answer": _table([v for v in rows if v.row >= 21], "signalling"),
        "live": _table(list(table.LIVE_VARIANTS), "signalling"),
    }


def render(document: str) -> str:
    """``document`` with every marked section replaced by its generated table."""
    generated = tables()
    missing = set(generated) - set(_marked(document))
    if missing:
        raise ValueError(f"the document has no marker for: {', '.join(sorted(missing))}")
    return _MARKER.sub(lambda m: m.group(1) + generated[m.group(2)] + m.group(4), document)


def _marked(document: str) -> list[str]:
    return [m.group(2) for m in _MARKER.finditer(document)]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    check = "--check" in args
    paths = [a for a in args if a != "--check"]
    path = Path(paths[0]) if paths else DOC
    try:
        current = path.read_text(encoding="utf-8")
        wanted = render(current)
    except (OSError, ValueError) as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 2
    if check:
        if wanted != current:
            print(f"{path}: the tables are stale; run make docs", file=sys.stderr)
            return 1
        return 0
    if wanted != current:
        path.write_text(wanted, encoding="utf-8")
        print(f"rewrote the tables of {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
