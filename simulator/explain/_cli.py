"""``vossim explain``: the command, its options and its errors."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from rich.console import Console

EXIT_INVALID = 2


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    explain = sub.add_parser(
        "explain", help="why did this call end this way: ladder, core events, CDR with "
                        "provenance; HTML page, pcap, what-if; or decode a pipe CDR line")
    explain.add_argument("file", nargs="?", help="scenario file (or, with --cdr FILE, a pipe "
                                                 "CDR file)")
    explain.add_argument("--call", metavar="ID", help="the call's id in the scenario (not needed "
                                                      "when it has one call)")
    explain.add_argument("--time", choices=("absolute", "relative", "delta"),
                         default="absolute", help="ladder times: wall clock, since the INVITE, "
                                                  "or since the previous line")
    explain.add_argument("--json", action="store_true",
                         help="print the explanation as one JSON document")
    explain.add_argument("--html", metavar="OUT.html", help="write a self-contained HTML page")
    explain.add_argument("--pcap", metavar="OUT.pcap",
                         help="write the call's signalling: SIP over UDP, H.225.0 (Q.931 in "
                              "TPKT) over TCP port 1720 for H.323 legs")
    explain.add_argument("--rtp", action="store_true",
                         help="with --pcap: also write the call's RTP (PCMU, 20 ms), so a media "
                              "timeout shows the stream stopping")
    explain.add_argument("--what-if", action="append", metavar="KEY=VALUE", dest="what_if",
                         help="run again with a scenario path changed, e.g. "
                              "accounts.ACME.money=5 (repeatable)")
    explain.add_argument("--cdr", metavar="ROW|FILE",
                         help="explain one CDR, field by field: a CSV or TSV e_cdr row (any "
                              "layout vossim analyze reads), a JSON object or a pipe line; or "
                              "a CDR file of any of these shapes, with --flowno")
    explain.add_argument("--flowno", type=int, metavar="N",
                         help="with --cdr FILE: the CDR whose flowno is N")
    explain.set_defaults(handler=cmd_explain)


def cmd_explain(args: argparse.Namespace, out: Console, err: Console) -> int:
    from simulator.explain._build import ExplainError, explain_call
    from simulator.explain._terminal import render_terminal
    from simulator.scenario import load_scenario

    try:
        _check_options(args)
        if args.cdr is not None:
            return _decode(args, out)
        scenario = load_scenario(args.file)
        if args.call is None:  # a scenario of one call (as vossim reproduce writes) needs none
            if len(scenario.calls) != 1:
                return _list_calls(args, scenario, out)
            args.call = scenario.calls[0].id
        explanation = explain_call(scenario, args.call)
        if args.what_if:
            from simulator.explain._whatif import what_if

            explanation.what_if.append(what_if(scenario, args.call, args.what_if, explanation))
        written = []
        if args.html:
            from simulator.explain._html import render_html

            _write_atomically(Path(args.html), render_html(explanation).encode("utf-8"))
            written.append(args.html)
        if args.pcap:
            from simulator.explain._pcap import write_pcap

            write_pcap(explanation, scenario, Path(args.pcap), rtp=args.rtp)
            written.append(args.pcap)
    except ExplainError as exc:
        err.print(f"vossim explain: {exc}", markup=False, highlight=False)
        return EXIT_INVALID
    except OSError as exc:
        err.print(f"vossim explain: cannot write {exc.filename}: {exc.strerror or exc}",
                  markup=False, highlight=False)
        return EXIT_INVALID
    if args.json:
        out.file.write(json.dumps(explanation.to_dict(), indent=2) + "\n")
    else:
        render_terminal(explanation, out, args.time)
    for path in written:
        (err if args.json else out).print(f"wrote {path}", markup=False, highlight=False)
    return 0


def _list_calls(args: argparse.Namespace, scenario: Any, out: Console) -> int:
    """``explain FILE`` of a scenario of several calls: each call's id, numbers and outcome, to
    pick one for ``--call``."""
    from rich.table import Table
    from rich.text import Text

    from simulator.explain._build import ExplainError
    from simulator.run import replay

    if not scenario.calls:
        raise ExplainError(f"{args.file} has no scripted calls; its traffic calls are named "
                           "PROFILE-N (e.g. --call standard-1)")
    kept = replay(scenario, {c.id for c in scenario.calls})
    rows = []
    for call in scenario.calls:
        cdr = kept[call.id].record
        direction = {0: "caller", 1: "callee", 2: "server"}.get(cdr.enddirection, "?")
        rows.append({"call": call.id, "caller": cdr.callere164, "callee": cdr.calleee164,
                     "endDirection": cdr.enddirection, "endReason": cdr.endreason,
                     "reason": cdr.end_reason_name, "holdTime": cdr.holdtime,
                     "outcome": f"ended by the {direction} (endDirection {cdr.enddirection}), "
                                f"endReason {cdr.endreason} {cdr.end_reason_name}, holdTime "
                                f"{cdr.holdtime} s"})
    if args.json:
        out.file.write(json.dumps({"scenario": scenario.name, "calls": rows}, indent=2) + "\n")
        return 0
    if not out.is_terminal:
        out.width = max(out.width, 150)  # a file or pipe: one line a call
    table = Table(title=f"{len(rows)} calls in {args.file}; explain one with --call ID",
                  title_justify="left")
    for column in ("call", "caller", "callee", "outcome"):
        table.add_column(column, no_wrap=column != "outcome")
    for row in rows:
        table.add_row(*(Text(str(row[column])) for column in ("call", "caller", "callee",
                                                              "outcome")))
    out.print(table)
    return 0


def _check_options(args: argparse.Namespace) -> None:
    from simulator.explain._build import ExplainError

    if args.cdr is not None:
        given = [name for name, value in (("FILE", args.file), ("--call", args.call),
                                          ("--html", args.html), ("--pcap", args.pcap),
                                          ("--what-if", args.what_if)) if value]
        if given:
            raise ExplainError(f"--cdr decodes a CDR line on its own; it does not go with "
                               f"{', '.join(given)}")
        return
    if args.flowno is not None:
        raise ExplainError("--flowno goes with --cdr FILE")
    if not args.file:
        raise ExplainError("expected a scenario FILE and --call ID (or --cdr 'PIPE LINE')")
    if args.rtp and not args.pcap:
        raise ExplainError("--rtp goes with --pcap OUT.pcap")


def _decode(args: argparse.Namespace, out: Console) -> int:
    from simulator.explain._cdrline import decode_file, decode_text, names_a_file, render_decoded

    text = args.cdr
    if args.flowno is not None or names_a_file(text):
        decoded = decode_file(Path(text), args.flowno)
    else:
        decoded = decode_text(text)
    if args.json:
        out.file.write(json.dumps(decoded, indent=2) + "\n")
    else:
        if not out.is_terminal:
            out.width = max(out.width, 160)  # a file or pipe: room for the meanings
        render_decoded(decoded, out)
    return 0


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)
