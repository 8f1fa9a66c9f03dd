"""The ``vossim`` command line."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console

from cdr_writer import DEFAULT_FORMATS, UnknownFormat, formats_for, parse_formats
from simulator._cli_help import VossimParser, finish
from simulator._console import SafeConsole
from simulator.run import (
    RunResult,
    RunStats,
    SimulationError,
    apply_overrides,
    find_run_errors,
    print_summary,
    run_scenario,
    stop,
)
from simulator.scenario import ScenarioError, load_scenario

EXIT_INVALID = 2
EXIT_MISMATCH = 1
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report it; SIGTERM exits the same way


def _formats(values: list[str] | None, mode: str = "run") -> tuple[str, ...]:
    if not values:
        return DEFAULT_FORMATS
    try:
        return parse_formats(values, mode)
    except UnknownFormat as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT such as 127.0.0.1:9000, found "
                                         f"{text!r}")
    return host.strip("[]"), int(port)


def _udp_port(lowest: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.strip().isdigit() or not lowest <= int(text) <= 65535:
            raise argparse.ArgumentTypeError(f"expected a UDP port {lowest}-65535, found {text!r}")
        return int(text)
    return parse


def _positive_int(text: str) -> int:
    try:
        value = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, found {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, found {value}")
    return value


def _scenario_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.y*ml") if p.suffix in (".yaml", ".yml")))
        else:
            files.append(path)
    return files


def cmd_validate(args: argparse.Namespace, out: Console, err: Console) -> int:
    status = 0
    for path in _scenario_files(args.files):
        try:
            problems = find_run_errors(load_scenario(path))
            if problems:
                raise ScenarioError(problems)
        except ScenarioError as exc:
            for problem in exc.problems:
                err.print(str(problem), markup=False, highlight=False)
            status = EXIT_INVALID
        else:
            out.print(f"{path}: ok", markup=False, highlight=False)
    return status


def cmd_run(args: argparse.Namespace, out: Console, err: Console) -> int:
    from cdr_writer._mariadb import CdrDatabaseError
    from simulator.run import RunOptionError, RunOptions, is_stdout, prepare, progress_for, run

    overrides = list(args.set or [])
    if args.cdr_profile:
        overrides.append(f"switch.cdr_profile={args.cdr_profile}")
    scenario = apply_overrides(load_scenario(args.file), overrides)
    if args.trace and is_stdout(args.trace):
        out = err  # standard output carries the trace's JSON lines, and nothing else
    options = RunOptions(out_dir=args.output, formats=_formats(args.format),
                         trace_path=args.trace, scale=args.scale, rate=args.rate,
                         realtime=args.realtime, speed=args.speed, udp=args.udp,
                         workers=args.workers, dask=args.dask, calls=args.calls, db=args.db,
                         warmup=args.warmup,
                         format_options={"vos-csv-header": args.vos_csv_header or None,
                                         "vos-csv-transactionid":
                                             args.vos_csv_transactionid or None})
    try:
        scenario = prepare(scenario, options)  # every option checked here, none by the CLI
        show_progress = args.progress if args.progress is not None else err.is_terminal
        progress = progress_for(scenario, options, err) if show_progress else None
        with progress or contextlib.nullcontext():
            result = run(scenario, options, progress)
    except (RunOptionError, CdrDatabaseError) as exc:
        err.print(f"vossim run: {exc}", markup=False, highlight=False)
        return EXIT_INVALID
    except OSError as exc:
        where = exc.filename or ("standard output" if isinstance(exc, BrokenPipeError)
                                 else args.output)
        err.print(f"vossim run: cannot write {where}: "
                  f"{exc.strerror or exc}", markup=False, highlight=False)
        return EXIT_INVALID
    places = scenario.switch.SERVER_BILLING_FEE_PRECISTION
    print_summary(out, result.stats, f"{scenario.name or args.file}", places)
    if result.warmup_calls:
        out.print(f"warm-up: {result.warmup_calls:,} calls ended in the {args.warmup:g} s before "
                  "the start (not written)", markup=False, highlight=False)
    attempts = result.stats.calls + result.warmup_calls
    if args.calls is not None and attempts < args.calls:  # said before the file list
        out.print(calls_shortfall(attempts, args.calls, args.rate, bool(scenario.traffic)),
                  markup=False, highlight=False)
    for path in result.files:
        out.print(f"wrote {path}", markup=False, highlight=False)
    for note in result.notes:
        out.print(note, markup=False, highlight=False)
    return 0


def calls_shortfall(attempts: int, wanted: int, rate: float, has_traffic: bool) -> str:
    """The note for a run that made fewer attempts than ``--calls``, with the ``--rate`` that
    would make enough (traffic grows in proportion to the rate; 2 % more covers the draws'
    spread)."""
    text = (f"note: the scenario made {attempts:,} call attempts, fewer than --calls "
            f"{wanted:,}; ")
    if not has_traffic or attempts == 0:
        return text + ("--rate and --scale only multiply traffic: profiles, and this scenario "
                       "has none; add calls or a traffic profile")
    needed = rate * wanted / attempts * 1.02
    digits = max(0, 2 - math.floor(math.log10(needed)))  # three significant digits, rounded up
    suggested = math.ceil(needed * 10**digits) / 10**digits
    return text + f"--rate {suggested:g} would reach {wanted:,} (or stretch it with --scale)"


def cmd_check(args: argparse.Namespace, out: Console, err: Console) -> int:
    status = 0
    files = _scenario_files(args.files)
    if not files:
        err.print("no scenario files found", markup=False)
        return EXIT_INVALID
    for path in files:
        try:
            result: RunResult = run_scenario(load_scenario(path), None)
        except ScenarioError as exc:
            for problem in exc.problems:
                err.print(str(problem), markup=False, highlight=False)
            status = max(status, EXIT_INVALID)
            continue
        except SimulationError as exc:
            err.print(str(exc) if exc.where else f"{path}: {exc}", markup=False, highlight=False)
            status = max(status, EXIT_INVALID)
            continue
        mismatches = result.mismatches()
        expected = sum(len(c.expect) for c in result.scenario.calls)
        if mismatches:
            status = max(status, EXIT_MISMATCH)
            out.print(f"FAIL {path}", markup=False, highlight=False)
            for mismatch in mismatches:
                out.print(f"  {mismatch}", markup=False, highlight=False)
        else:
            out.print(f"ok   {path} ({expected} expectations)", markup=False, highlight=False)
    return status


def cmd_live(args: argparse.Namespace, out: Console, err: Console) -> int:
    # sippy and pjsua2 load only for live mode, and only the live extra installs sippy
    try:
        from simulator.run._live import LiveError, run_live
    except ImportError as exc:
        missing = exc.name or str(exc)
        err.print(f"vossim live: {missing} is not installed; live mode needs the live extra: "
                  "pip install 'vossim[live]'", markup=False, highlight=False)
        return EXIT_INVALID

    overrides = list(args.set or [])
    if args.cdr_profile:
        overrides.append(f"switch.cdr_profile={args.cdr_profile}")
    scenario = apply_overrides(load_scenario(args.file), overrides)
    if args.speed <= 0:
        err.print("--speed must be positive", markup=False)
        return EXIT_INVALID
    stats = RunStats()
    try:
        result = run_live(scenario, stats=stats, port=args.port, speed=args.speed,
                          duration=args.duration, gateway_port=args.gateway_port,
                          out_dir=args.output, formats=_formats(args.format, "live"),
                          pcap=args.pcap,
                          agents=not args.no_agents, media=True if args.media else None,
                      trace=args.trace,
                          echo=lambda line: out.print(line, markup=False, highlight=False))
    except LiveError as exc:
        err.print(f"{args.file}: {exc}", markup=False, highlight=False)
        return EXIT_INVALID
    places = scenario.switch.SERVER_BILLING_FEE_PRECISTION
    print_summary(out, stats, f"{scenario.name or args.file} (live)", places)
    for path in result.files:
        out.print(f"wrote {path}", markup=False, highlight=False)
    for problem in result.agent_errors:
        err.print(f"agent: {problem}", markup=False, highlight=False)
    return 0


def cmd_analyze(args: argparse.Namespace, out: Console, err: Console) -> int:
    import json

    from simulator.analyze import (
        AlarmSyntaxError,
        SourceError,
        analyze,
        parse_threshold,
        print_report,
    )

    try:
        thresholds = [parse_threshold(text) for text in args.alarm or []]
        if args.min_calls < 0:
            raise AlarmSyntaxError(f"expected --min-calls of 0 or more, found {args.min_calls}")
        report = analyze(args.paths, thresholds=thresholds, min_calls=args.min_calls,
                         prefix_digits=args.prefix_digits, reason_codes=args.reason_codes)
        written = []
        if args.plots:
            from simulator.analyze._plots import write_plots

            written.extend(write_plots(report, Path(args.plots), args.small_sample))
        if args.html:
            from simulator.analyze._html import write_html

            written.append(write_html(report, Path(args.html), by=args.by or ["gateway"],
                                      small=args.small_sample))
    except (SourceError, AlarmSyntaxError) as exc:
        shapes = ""
        if isinstance(exc, SourceError):  # what it would have read, every shape of it
            from simulator.analyze import accepted_shapes_text

            shapes = f" ({accepted_shapes_text()})"
        err.print(f"vossim analyze: {exc}{shapes}", markup=False, highlight=False)
        return EXIT_INVALID
    except OSError as exc:
        err.print(f"vossim analyze: {exc.filename or ''}: {exc.strerror or exc}", markup=False,
                  highlight=False)
        return EXIT_INVALID
    if not out.is_terminal:
        out.width = max(out.width, 150)  # a file or pipe: room for the wide tables
    analysed = report["analysed"]
    err.print(f"analysed {analysed['cdrs']:,} CDRs in {analysed['seconds']:.2f} s "
              f"({analysed['cdrs_per_second']:,} CDR/s)", markup=False, highlight=False)
    if args.json:
        out.file.write(json.dumps(report, indent=1) + "\n")
        return 0
    print_report(report, out, args.by or ["gateway"])
    for path in written:
        out.print(f"wrote {path}", markup=False, highlight=False)
    return 0


def cmd_reproduce(args: argparse.Namespace, out: Console, err: Console) -> int:
    from simulator.audit import RowError, print_reproduction, reproduce

    if args.window is not None and not 0 <= args.window <= 86_400:
        err.print("vossim reproduce: --window: expected seconds from 0 to 86,400, found "
                  f"{args.window:g}", markup=False, highlight=False)
        return EXIT_INVALID
    try:
        result = reproduce(args.cdr, flowno=args.flowno, config=args.config, window=args.window,
                           profile=args.profile, name=args.output or "reproduced.yaml")
    except RowError as exc:
        err.print(f"vossim reproduce: {exc}", markup=False, highlight=False)
        return EXIT_INVALID
    output = Path(args.output or f"reproduce-{result.call_id}.yaml")
    try:
        partial = output.with_name(output.name + ".partial")
        partial.write_text(result.text, encoding="utf-8")
        os.replace(partial, output)
    except OSError as exc:
        err.print(f"vossim reproduce: cannot write {exc.filename or output}: "
                  f"{exc.strerror or exc}", markup=False, highlight=False)
        return EXIT_INVALID
    print_reproduction(result, out, everything=not args.differences)
    out.print(f"wrote {output} (call {result.call_id}; vossim explain {output} replays it)",
              markup=False, highlight=False)
    if args.explain:
        from simulator.explain import explain_call, render_terminal

        out.print()
        render_terminal(explain_call(result.scenario, result.call_id), out, "absolute")
    return 0


def cmd_audit(args: argparse.Namespace, out: Console, err: Console) -> int:
    import json

    from simulator.audit import RowError, audit, print_audit, write_html

    if args.batch < 1:
        err.print("vossim audit: --batch: expected at least 1", markup=False, highlight=False)
        return EXIT_INVALID
    try:
        report = audit(args.cdrs, args.config, batch_rows=args.batch)
        if args.html:
            write_html(report, Path(args.html))
    except RowError as exc:
        err.print(f"vossim audit: {exc}", markup=False, highlight=False)
        return EXIT_INVALID
    except OSError as exc:
        err.print(f"vossim audit: {exc.filename or ''}: {exc.strerror or exc}", markup=False,
                  highlight=False)
        return EXIT_INVALID
    if report["unreadable"]["rows"]:
        err.print(f"vossim audit: {report['unreadable']['rows']:,} rows could not be read, "
                  f"e.g. {report['unreadable']['first'][0]}", markup=False, highlight=False)
    if args.json:
        out.file.write(json.dumps(report, indent=1) + "\n")
    else:
        if not out.is_terminal:
            out.width = max(out.width, 150)
        print_audit(report, out)
    if args.html:
        (err if args.json else out).print(f"wrote {args.html}", markup=False, highlight=False)
    return EXIT_MISMATCH if report["differences"] else 0


def build_parser() -> argparse.ArgumentParser:
    parser = VossimParser(prog="vossim", description=(
        "A VOS3000-compatible softswitch simulator: YAML scenarios in, VOS3000 CDRs out."))
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="simulate a scenario and write its CDRs", description=(
        "Simulate a scenario: every call is decided by the switch's decision table and billed, "
        "and its CDR is written in each --format (default pipe and e_cdr) under --output. The "
        "same scenario and seed always write the same bytes. --rate, --scale and --calls size a "
        "load run; --realtime feeds CDRs as calls end; --workers splits a run by account."))
    run.add_argument("file")
    run.add_argument("-o", "--output", default="out", help="output directory (default: out/)")
    run.add_argument("--format", action="append", metavar="F",
                     help="CDR format, repeatable or comma-separated: "
                          f"{', '.join(formats_for('run'))} (default: pipe,e_cdr)")
    run.add_argument("--db", metavar="URL",
                     help="with --format mariadb: mysql://USER:PASS@HOST:PORT/DATABASE (daily "
                          "tables e_cdr_YYYYMMDD; a rerun of the same scenario resumes)")
    run.add_argument("--set", action="append", metavar="PATH=VALUE",
                     help="change any scenario path, e.g. accounts.ACME.money=5, "
                          "calls[ID].refresh_fails=false, or a switch: key such as "
                          "SERVER_BILLING_FEE_PRECISTION=4 (repeatable)")
    run.add_argument("--vos-csv-header", action="store_true",
                     help="with --format vos-csv: a header line of column names in each file")
    run.add_argument("--vos-csv-transactionid", action="store_true",
                     help="with --format vos-csv: the 53rd column, transactionid")
    run.add_argument("--cdr-profile", choices=("seeds", "vos3000"),
                     help="the CDR profile (as --set switch.cdr_profile=…): seeds (the seed "
                          "pages' columns, default) or vos3000 (what real VOS3000 rows show)")
    run.add_argument("--trace", metavar="FILE",
                     help="write every call's signalling as JSON lines")
    run.add_argument("--scale", type=float, default=1.0, metavar="X",
                     help="stretch every traffic profile's duration X times (same rates)")
    run.add_argument("--rate", type=float, default=1.0, metavar="X",
                     help="multiply every traffic profile's cps by X (same span, X times the "
                          "calls)")
    run.add_argument("--calls", type=_positive_int, metavar="N",
                     help="stop arrivals after the first N call attempts (exact volumes, e.g. "
                          "--rate 125 --calls 1000000 on wholesale-day: one day, 1M calls)")
    run.add_argument("--realtime", action="store_true",
                     help="run on the wall clock; CDRs are written (flushed) as calls end")
    run.add_argument("--speed", type=float, metavar="X",
                     help="with --realtime: X simulated seconds per wall-clock second")
    run.add_argument("--warmup", type=float, default=0.0, metavar="S",
                     help="run S seconds of traffic before the start, unpaced and unwritten, so "
                          "a --realtime feed begins in steady state with calls in progress")
    run.add_argument("--udp", type=_host_port, metavar="HOST:PORT",
                     help="also send each CDR as one UDP datagram (its pipe line)")
    run.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                     help="progress bar on stderr (default: when stderr is a terminal)")
    run.add_argument("--workers", type=int, default=1, metavar="N",
                     help="split the run by account over N local processes")
    run.add_argument("--dask", metavar="ADDRESS",
                     help="run the shards on a Dask cluster, e.g. tcp://10.0.0.5:8786")
    run.set_defaults(handler=cmd_run)

    validate = sub.add_parser(
        "validate", help="check scenario files without running them",
        description="Load each scenario file (or every *.yaml under a directory) and report "
                    "every problem as FILE:LINE: key: what was expected, without running it. "
                    "Exit 2 when any file is invalid.")
    validate.add_argument("files", nargs="+")
    validate.set_defaults(handler=cmd_validate)

    check = sub.add_parser(
        "check", help="run scenarios and compare every expect block",
        description="Run each scenario (or every *.yaml under a directory) and compare each "
                    "call's CDR with its expect: block. Prints ok or FAIL with the fields that "
                    "differ; exit 1 on a mismatch, 2 on an invalid scenario.")
    check.add_argument("files", nargs="+", metavar="FILE|DIR")
    check.set_defaults(handler=cmd_check)

    from simulator.explain import add_parser as add_explain

    add_explain(sub)

    analyze = sub.add_parser(
        "analyze", help="ASR, ACD, end reasons, fees and alarms from any VOS3000 CDRs",
        description="Read VOS3000 CDRs (pipe files, e_cdr CSV, SQLite, MySQL/MariaDB, JSON lines, "
                    "Parquet, or a vossim output directory) and report attempts, ASR, ACD, NER, "
                    "PDD, the endDirection x endReason mix, fees, short calls, concurrency and "
                    "the seeds' alarms.")
    analyze.add_argument("paths", nargs="+", metavar="PATH",
                         help="a CDR file, an output directory or mysql://USER:PASS@HOST:PORT/DB")
    analyze.add_argument("--by", action="append", choices=("gateway", "customer", "prefix",
                                                           "hour"),
                         help="tables to print, repeatable (default: gateway)")
    analyze.add_argument("--alarm", action="append", metavar="RULE",
                         help="a threshold [SCOPE:]METRIC OP VALUE[%%][@MIN_CALLS], e.g. "
                              "asr<40%%@100, customer:acd<30 (repeatable)")
    analyze.add_argument("--min-calls", type=int, default=1, metavar="N",
                         help="no alarm for a gateway (customer, ...) with fewer calls (default 1)")
    analyze.add_argument("--prefix-digits", type=int, default=4, metavar="N",
                         help="without a feePrefix column, group by the callee's first N digits")
    analyze.add_argument("--reason-codes", choices=("auto", "vos3000", "seeds", "table", "sip",
                                                     "q850"), default="auto",
                         help="how endReason numbers are named when the CDRs carry no name: "
                              "vos3000 (real rows: -7 caller hangup, -69 no route, SIP codes), "
                              "seeds (the 25-code table; also 'table'), sip, q850; default auto: "
                              "vos3000 when a code is negative, else seeds for codes 1-25")
    analyze.add_argument("--plots", metavar="DIR", help="write PNG plots into DIR")
    analyze.add_argument("--html", metavar="FILE", help="write one self-contained HTML page")
    analyze.add_argument("--small-sample", type=_positive_int, default=100, metavar="N",
                         help="in the plots, mark hours and hour x gateway cells with fewer "
                              "than N calls as small samples (default 100)")
    analyze.add_argument("--json", action="store_true", help="print the report as one JSON object")
    analyze.set_defaults(handler=cmd_analyze)

    reproduce = sub.add_parser(
        "reproduce", help="a CDR row -> a commented scenario that replays it, and the replayed "
                          "row beside the original",
        description="Read one CDR row (a file with --flowno, or the row itself as a CSV/TSV "
                    "line, JSON object or pipe line), write the scenario that replays it "
                    "(the operator's --config, or the minimal accounts, rate and gateways the "
                    "row implies, each marked as an assumption), run it and compare the "
                    "regenerated row with the original, field by field.")
    reproduce.add_argument("cdr", metavar="CDR", help="a CDR file or one row as text")
    reproduce.add_argument("--flowno", type=int, metavar="N",
                           help="the row whose flowno is N (needed when the file holds several)")
    reproduce.add_argument("--config", metavar="SCENARIO",
                           help="the operator's accounts, rates and gateways (a scenario file)")
    reproduce.add_argument("-o", "--output", metavar="OUT.yaml",
                           help="where to write the scenario (default reproduce-flowno-N.yaml)")
    reproduce.add_argument("--window", type=float, metavar="S",
                           help="also replay the account's rows within S seconds (shared "
                                "balances and limits only reproduce together)")
    reproduce.add_argument("--profile", choices=("seeds", "vos3000"),
                           help="the CDR profile the row is in (default: what its end reason "
                                "shows)")
    reproduce.add_argument("--differences", action="store_true",
                           help="show only the fields that differ")
    reproduce.add_argument("--explain", action="store_true",
                           help="go straight on to vossim explain of the replayed call")
    reproduce.set_defaults(handler=cmd_reproduce)

    audit = sub.add_parser(
        "audit", help="re-decide and re-rate CDRs against the configuration; report what "
                      "differs and the money at stake",
        description="Replay every row against the configuration (a scenario file): rows of "
                    "one account that overlap in time are replayed together. Exit 1 when some "
                    "row differs.")
    audit.add_argument("cdrs", nargs="+", metavar="CDRS", help="CDR files")
    audit.add_argument("--config", required=True, metavar="SCENARIO",
                       help="the operator's accounts, rates and gateways (a scenario file)")
    audit.add_argument("--json", action="store_true",
                       help="print {rows, consistent, differences, ...} as one JSON object")
    audit.add_argument("--html", metavar="OUT", help="write one self-contained HTML page")
    audit.add_argument("--batch", type=int, default=2000, metavar="N",
                       help="replay about N rows per simulation (default 2000)")
    audit.set_defaults(handler=cmd_audit)

    live = sub.add_parser("live", help="run a scenario over real SIP on 127.0.0.1 (sippy switch, "
                                       "pjsua2 parties); serve external SIP peers such as SIPp",
                          description=(
        "Run the same switch over real SIP on 127.0.0.1: a sippy B2BUA decides every call with "
        "the same decision table, the scenario's callers and gateways are played by pjsua2 "
        "agents, and external peers (SIPp, a softphone) may call in too. CDRs are written as "
        "files when it stops (--duration, the scenario's end, or Ctrl-C). Needs the live "
        "extra: pip install 'vossim[live]'."))
    live.add_argument("file")
    live.add_argument("--port", type=_udp_port(0), default=5060,
                      help="switch UDP port (default 5060; 0 picks a free one, printed at start)")
    live.add_argument("--duration", type=float, metavar="S",
                      help="serve for S seconds of real time, then write CDRs and stop "
                           "(default: until the scenario's calls are done, or Ctrl-C)")
    live.add_argument("--speed", type=float, default=1.0, metavar="X",
                      help="compress scenario time X times (see README: SIP timers limit it)")
    live.add_argument("--gateway-port", type=_udp_port(1), default=5060, metavar="P",
                      help="port for scenario addresses that name none (default 5060)")
    live.add_argument("--pcap", metavar="FILE", help="record the packets on loopback")
    live.add_argument("--trace", metavar="FILE",
                      help="write every call's ladder and the core's events as JSON lines "
                           "(the same lines as vossim run --trace)")
    live.add_argument("-o", "--output", default="out", help="output directory (default: out/)")
    live.add_argument("--format", action="append", metavar="F",
                      help="CDR format, repeatable or comma-separated: "
                           f"{', '.join(formats_for('live'))} (default: pipe,e_cdr)")
    live.add_argument("--set", action="append", metavar="PATH=VALUE",
                      help="change any scenario path (as vossim run --set)")
    live.add_argument("--cdr-profile", choices=("seeds", "vos3000"),
                      help="the CDR profile, as vossim run --cdr-profile")
    live.add_argument("--media", action="store_true",
                      help="anchor every call's RTP at the switch (default: only when a call "
                           "stops its RTP under a media timeout)")
    live.add_argument("--no-agents", action="store_true",
                      help="do not play the scenario's calls; only serve external peers")
    live.set_defaults(handler=cmd_live)
    return finish(parser)


def main(argv: list[str] | None = None) -> int:
    out = SafeConsole(soft_wrap=True)
    err = SafeConsole(stderr=True, soft_wrap=True)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if getattr(args, "format", None):
            _formats(args.format, args.command)
    except argparse.ArgumentTypeError as exc:
        command = parser._subparsers._group_actions[0].choices[args.command]  # type: ignore[union-attr]
        command.error(f"argument --format: {exc}")
    previous = install_signal_handlers()
    try:
        return args.handler(args, out, err)
    except ScenarioError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False, highlight=False)
        return EXIT_INVALID
    except SimulationError as exc:
        err.print(str(exc) if exc.where else f"{getattr(args, 'file', '')}: {exc}",
                  markup=False, highlight=False)
        return EXIT_INVALID
    except KeyboardInterrupt as exc:
        err.print(_interrupted_message(exc), markup=False, highlight=False)
        return EXIT_INTERRUPTED
    finally:  # main may run inside another program (or a test): leave its signals as they were
        stop.taken()
        for signum, handler in previous.items():
            if handler is not None:  # None: set outside Python, cannot be put back
                signal.signal(signum, handler)


class Terminated(KeyboardInterrupt):
    """SIGTERM, taken like Ctrl-C: the run cleans up its staging and says what it wrote."""

    def __str__(self) -> str:
        return "terminated (SIGTERM)"


_MAIN_PID = os.getpid()


def install_signal_handlers() -> dict[int, Any]:
    """SIGTERM is taken like Ctrl-C; both stops are also kept until the run takes them.
    Returns the handlers replaced."""
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _on_sigterm)}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not when ignored
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, _on_sigint)
    return previous


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    if os.getpid() != _MAIN_PID:  # a forked worker: die as SIGTERM means, the parent cleans up
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    stop.signalled(Terminated())


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    if os.getpid() != _MAIN_PID:  # a forked worker: stop as Python does, the parent cleans up
        raise KeyboardInterrupt
    stop.signalled(KeyboardInterrupt())


def _interrupted_message(exc: KeyboardInterrupt) -> str:
    from simulator.run import FeedInterrupted

    what = str(exc) or "interrupted"
    if isinstance(exc, FeedInterrupted) and exc.files:
        names = ", ".join(str(p) for p in exc.files)
        return (f"{what}; {exc.records:,} CDRs were written as the calls ended, and every line "
                f"on disk is complete: {names}")
    return f"{what}; nothing was written"


if __name__ == "__main__":
    sys.exit(main())
