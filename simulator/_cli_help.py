"""How ``vossim`` helps itself: every subcommand's description and examples, its own usage on an
error with a did-you-mean for an unknown flag or command, and ``--version``.

It works on the finished parser (``finish``), so a subcommand or flag added anywhere in
``simulator.cli`` gets the same treatment without touching this module; only its examples are
listed here, one entry per subcommand (a test checks that every subcommand has some).
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from typing import Any, NoReturn

EXAMPLES: dict[str, tuple[str, ...]] = {
    "run": (
        "vossim run scenarios/demo.yaml -o out",
        "vossim run scenarios/demo.yaml --format pipe,e_cdr,jsonl --trace out/trace.jsonl",
        "vossim run scenarios/load/wholesale-day.yaml --rate 125 --calls 1000000 --workers 2",
        "vossim run scenarios/demo.yaml --format mariadb --db mysql://USER:PASS@127.0.0.1:3306/DB",
    ),
    "validate": (
        "vossim validate scenarios/demo.yaml",
        "vossim validate scenarios/",
    ),
    "check": (
        "vossim check scenarios/decision-table",
        "vossim check scenarios/disputes/shared-balance.yaml",
    ),
    "explain": (
        "vossim explain scenarios/disputes/shared-balance.yaml          (lists its calls)",
        "vossim explain scenarios/disputes/shared-balance.yaml --call disputed",
        "vossim explain scenarios/disputes/shared-balance.yaml --call disputed --html call.html",
        "vossim explain scenarios/prepaid-cutoff.yaml --call disputed --what-if "
        "accounts.ACME.money=5",
        "vossim explain --cdr out/cdr/20261120.txt --flowno 3",
    ),
    "analyze": (
        "vossim analyze out/",
        "vossim analyze out/ --by customer --by hour --html report.html --plots plots/",
        "vossim analyze e_cdr_20261120.csv --alarm 'asr<40%@100' --json",
        "vossim analyze mysql://USER:PASS@127.0.0.1:3306/DB",
    ),
    "reproduce": (
        "vossim reproduce e_cdr_20261120.csv --flowno 17",
        "vossim reproduce e_cdr_20261120.csv --flowno 17 --config operator.yaml --explain",
    ),
    "audit": (
        "vossim audit e_cdr_20261120.csv --config operator.yaml",
        "vossim audit e_cdr_*.csv --config operator.yaml --html audit.html",
    ),
    "live": (
        "vossim live scenarios/demo.yaml --port 0",
        "vossim live scenarios/demo.yaml --speed 10 --format jsonl --pcap calls.pcap",
        "vossim live scenarios/demo.yaml --no-agents --duration 60   (serve SIPp or a softphone)",
    ),
}


class HelpFormatter(argparse.HelpFormatter):
    """Descriptions wrap as usual; an ``examples:`` block keeps its lines as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return "\n".join(indent + line for line in text.splitlines())
        return super()._fill_text(text, width, indent)


class VossimParser(argparse.ArgumentParser):
    """An error prints the usage of the (sub)command it is about, then what was wrong and,
    for a mistyped flag or command, the closest one."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}{self._did_you_mean(message)}\n")

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:  # type: ignore[override]
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:  # argparse would blame the top level: send them to the subcommand's parser
            (_subcommand(self, parsed) or self).error(
                f"unrecognized arguments: {' '.join(extras)}")
        return parsed

    def _did_you_mean(self, message: str) -> str:
        unknown = re.match(r"unrecognized arguments: (.*)", message)
        if unknown:
            options = [s for action in self._actions for s in action.option_strings]
            hints = []
            for word in unknown.group(1).split():
                if not word.startswith("-"):
                    continue
                close = difflib.get_close_matches(word.split("=")[0], options, n=1, cutoff=0.6)
                if close:
                    hints.append((close[0], word.split("=")[0]))
            if len(hints) == 1:
                return f" (did you mean {hints[0][0]}?)"
            named = ", ".join(f"{right} for {wrong}" for right, wrong in hints)
            return f" (did you mean {named}?)" if hints else ""
        choice = re.match(r"argument \S+: invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            choices = re.findall(r"'([^']*)'", choice.group(2))
            close = difflib.get_close_matches(choice.group(1), choices, n=1, cutoff=0.5)
            return f" (did you mean {close[0]!r}?)" if close else ""
        return ""


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:  # type: ignore[type-arg]
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def _subcommand(parser: argparse.ArgumentParser, parsed: Any) -> argparse.ArgumentParser | None:
    action = _subparsers(parser)
    name = getattr(parsed, action.dest, None) if action else None
    return action.choices.get(name) if action and name else None


class _Version(argparse.Action):
    """``--version``: vossim's version and which core decides the calls (worked out only when
    asked: finding the core imports it)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS,
                 default: str = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: Any, values: Any,
                 option_string: str | None = None) -> None:
        sys.stdout.write(version_text() + "\n")
        parser.exit(0)


def version_text() -> str:
    from importlib.metadata import PackageNotFoundError, version

    from simulator._core_choice import core_status

    try:
        number = version("vossim")
    except PackageNotFoundError:  # a checkout run without installing it
        number = "(not installed)"
    status = core_status()  # "python (why)" or "compiled (where)"
    core, _, detail = status.partition(" ")
    how = "the pure-Python core" if core == "python" else "the compiled core (mypyc)"
    return (f"vossim {number}, deciding calls with {how}{' ' + detail if detail else ''}; "
            f"Python {sys.version.split()[0]}")


def finish(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Give every subcommand a description (its one-line help when it has none), its examples
    and the wrapping formatter; add ``--version``."""
    parser.add_argument("--version", action=_Version, help="print the version and which core "
                                                           "runs, then exit")
    parser.formatter_class = HelpFormatter
    action = _subparsers(parser)
    if action is None:
        return parser
    helps = {choice.dest: choice.help for choice in action._choices_actions}
    lines = []
    for name, sub in action.choices.items():
        sub.formatter_class = HelpFormatter
        if not sub.description and helps.get(name):
            text = helps[name] or ""
            sub.description = text[:1].upper() + text[1:] + "."
        examples = EXAMPLES.get(name, ())
        if examples:
            sub.epilog = "examples:\n" + "\n".join(f"  {line}" for line in examples)
            lines.append(f"  {examples[0]}")
    parser.epilog = "examples:\n" + "\n".join(lines) + \
        "\n\n  vossim COMMAND --help   describes one command, with more examples"
    return parser
