"""Fuzz campaign: mutated copies of scenarios/ through the loader and, when they load, a run.

    python bench/fuzz_scenarios.py --cases 2000 --timeout 20 --workers 2

Every case must end one of these ways: refused with ``file:line:column`` on every problem,
refused by ``find_run_errors`` (placed the same way), or run to the end with every pipe line whole
(18 fields). A traceback, a case that takes longer than ``--timeout`` (a hang), an error without
a line, a torn CDR line or a worker that died counts against the campaign; the script prints each
such case and exits 1 if there is one. Each worker runs under an address-space limit.
Valid mutants with a lot of traffic are scaled down to about ``--max-calls`` generated calls.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import re
import resource
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILE = "fuzz.yaml"
_LOCATED = re.compile(rf"^{re.escape(FILE)}:\d+:\d+: ")

# Values a careless or hostile author might write: bounds, overflows, impossible dates, bad tags,
# names that would break a CDR line, YAML structure where a scalar belongs.
NASTY = [
    "-1", "0", "-0.0", "1e9", "1e12", "999999", "1e16", "1e30", "1e308", "1.0e+308", "1e400",
    "-1e400", ".inf", "-.inf",
    ".nan", "9" * 5000, "99999999999999999999", "18446744073709551616", "0x7fffffffffffffff",
    "0o777", "1_000", "+.5", "1:20:30", "604801", "31622401", "86401", "4.5", "2**64",
    "2026-02-30", "2026-13-45", "!!timestamp 2026-02-30", "!!timestamp x", "9999-12-31",
    "0001-01-01", "10000-01-01", "1969-12-31", "2026-11-20T25:61:00Z",
    "!!float x", "!!int 'abc'", "!!binary x", "!!python/object:os.system x", "!!set {a, b}",
    "!!bool maybe", "!!null x", "!!str", "!!map [1]", "!!seq {a: 1}",
    '"ACME\\nGW|x"', '"a|b"', '"x\\x07y"', '"\\u2028"', '"\\x00"', "'é'", "''", '""',
    "[]", "{}", "null", "~", "true", "no", "[1, [2, [3]]]", "{a: {b: {c: 1}}}",
    "*nosuch", "&anchor x", "x" * 300,
]
CHARS = ["\x00", "\x07", "\x1b", "\t", "\x7f", "\x85", "|", ":", "[", "{", "]", "}", "&", "*",
         "!", '"', "'", "#", "-", ",", " ", "\n", "%", "@", "`", "\ufeff"]
_VALUE = re.compile(r"(?<=: )[^\s#{}\[\],][^#{}\[\],\n]*")
_KEY = re.compile(r"(?<=[\s{,])([A-Za-z_][A-Za-z0-9_]*)(?=: )")


def _replace_value(rng: random.Random, text: str) -> str:
    spans = [m.span() for m in _VALUE.finditer(text)]
    if not spans:
        return text
    start, end = rng.choice(spans)
    if rng.random() < 0.8:
        value = rng.choice(NASTY)
    else:
        other = rng.choice(spans)
        value = text[other[0]:other[1]]
    return text[:start] + value + text[end:]


def _rename_key(rng: random.Random, text: str) -> str:
    spans = [m.span() for m in _KEY.finditer(text)]
    if not spans:
        return text
    start, end = rng.choice(spans)
    other = rng.choice(spans)
    key = rng.choice([text[other[0]:other[1]], text[start:end] + "x", "<<", "? x", "1", "[a]",
                      '"A|B"', '"G\\nW"', '"\\t"'])
    return text[:start] + key + text[end:]


def _line_edit(rng: random.Random, text: str) -> str:
    lines = text.split("\n")
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    kind = rng.randrange(4)
    if kind == 0:
        del lines[i]
    elif kind == 1:
        lines.insert(i, lines[j])
    elif kind == 2:
        lines[i], lines[j] = lines[j], lines[i]
    else:
        lines[i] = " " * rng.choice([1, 2, 4]) + lines[i]
    return "\n".join(lines)


def _char_edit(rng: random.Random, text: str) -> str:
    i = rng.randrange(len(text) + 1)
    if rng.random() < 0.3 and text:
        return text[:i] + text[i + 1:]
    return text[:i] + rng.choice(CHARS) + text[i:]


def _structure(rng: random.Random, text: str) -> str:
    kind = rng.randrange(6)
    if kind == 0:
        depth = rng.choice([40, 200, 1000, 5000])
        return text.replace("name: ", "name: " + "[" * depth + "]" * depth + " #", 1)
    if kind == 1:
        levels = rng.randint(3, 9)
        laughs = ["lol0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
        laughs += [f"lol{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 10)}]" for n in range(1, levels)]
        return text + "\nx-laughs:\n" + "\n".join("  " + line for line in laughs) + "\n"
    if kind == 2:
        return text.replace("name: ", "name: &self [1, *self] #", 1)
    if kind == 3:
        return text + ("\ncalls:\n  - {id: " + rng.choice(NASTY) + ", at: " + rng.choice(NASTY)
                       + ", from: X, caller: '1', callee: '2'}\n")
    if kind == 4:
        return "%YAML 1.1\n--- " + text if rng.random() < 0.5 else text + "\n---\nversion: 1\n"
    return text.replace("\n", "\r\n") if rng.random() < 0.5 else "\ufeff" + text


MUTATIONS = (_replace_value, _replace_value, _replace_value, _rename_key, _line_edit,
             _char_edit, _structure)


def mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        text = rng.choice(MUTATIONS)(rng, text)
    return text


def seeds() -> list[tuple[str, str]]:
    return [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8"))
            for p in sorted((ROOT / "scenarios").rglob("*.yaml"))]


def cases_of(count: int, seed: int) -> list[tuple[str, str]]:
    """(source file, mutated text) for each case; the same seed gives the same cases."""
    rng = random.Random(seed)
    sources = seeds()
    out = []
    for _ in range(count):
        name, text = rng.choice(sources)
        out.append((name, mutate(rng, text)))
    return out


# -- one case ----------------------------------------------------------------------------------
def classify(text: str, max_calls: int) -> tuple[str, str]:
    """(outcome, detail); outcomes other than refused*/ran* count against the campaign."""
    from cdr_writer import FORMATS
    from simulator.run import _run
    from simulator.run._run import run_scenario, scale_traffic
    from simulator.scenario._loader import ScenarioError, parse_scenario
    from simulator.transports._simulated import SimulationError, expected_arrivals

    try:
        scenario = parse_scenario(text, FILE)
    except ScenarioError as exc:
        unplaced = [str(p) for p in exc.problems if not _LOCATED.match(str(p))]
        return ("no-line", unplaced[0]) if unplaced else ("refused", str(exc.problems[0]))
    except Exception:
        return "traceback", traceback.format_exc()
    try:
        # (absent before the hardening: lets the campaign run on an old tree for comparison)
        find_run_errors = getattr(_run, "find_run_errors", lambda _: [])
        problems = find_run_errors(scenario)
        if problems:
            first = str(problems[0])
            return ("refused-run", first) if _LOCATED.match(first) else ("no-line", first)
        calls = expected_arrivals(scenario)
        if calls > max_calls:
            scenario = scale_traffic(scenario, max_calls / calls)
        with tempfile.TemporaryDirectory(prefix="vossim-fuzz-") as out:
            run_scenario(scenario, out, tuple(f for f in FORMATS if f != "mariadb"))
            for path in Path(out).rglob("*.txt"):
                for line in path.read_text(encoding="utf-8").splitlines():
                    if line.count("|") != 17:
                        return "torn-cdr", f"{path.name}: {line!r}"
    except SimulationError as exc:
        placed = getattr(exc, "where", None)  # (absent before the hardening)
        return ("refused-run", str(exc)) if placed else ("no-line", str(exc))
    except Exception:
        return "traceback", traceback.format_exc()
    return "ran", ""


def _worker(conn: Connection, max_calls: int, memory_mb: int) -> None:
    # A case that eats memory fails in its worker (MemoryError) instead of starving the machine.
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    while True:
        text = conn.recv()
        if text is None:
            return
        conn.send(classify(text, max_calls))


@dataclass
class _Slot:
    process: multiprocessing.Process
    conn: Connection
    case: int = -1
    started: float = 0.0


def _start(max_calls: int, memory_mb: int) -> _Slot:
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=_worker, args=(child, max_calls, memory_mb),
                                      daemon=True)
    process.start()
    return _Slot(process, parent)


def campaign(cases: int, seed: int, timeout: float, workers: int, max_calls: int,
             memory_mb: int = 1500) -> tuple[Counter[str], list[tuple[int, str, str, str]]]:
    texts = cases_of(cases, seed)
    outcomes: Counter[str] = Counter()
    bad: list[tuple[int, str, str, str]] = []
    slots = [_start(max_calls, memory_mb) for _ in range(workers)]
    queue = list(range(cases))[::-1]
    running = 0
    while queue or running:
        for i, slot in enumerate(slots):
            if slot.case < 0 and queue:
                slot.case, slot.started = queue.pop(), time.monotonic()
                slot.conn.send(texts[slot.case][1])
                running += 1
            if slot.case < 0:
                continue
            case = slot.case
            try:
                answered = slot.conn.poll(0.01)
                outcome, detail = slot.conn.recv() if answered else ("", "")
            except (EOFError, ConnectionError):  # the worker died under the case
                answered = False
                outcome, detail = "died", f"the worker died (exit code {slot.process.exitcode})"
            if answered:
                slot.case = -1
            elif outcome == "died":
                slot.process.join()
                slots[i] = _start(max_calls, memory_mb)
            elif time.monotonic() - slot.started > timeout:
                slot.process.kill()
                slot.process.join()
                outcome, detail = "hang", f"more than {timeout:g} s"
                slots[i] = _start(max_calls, memory_mb)
            else:
                continue
            running -= 1
            outcomes[outcome] += 1
            if not outcome.startswith(("refused", "ran")):
                bad.append((case, texts[case][0], outcome, detail))
    for slot in slots:
        slot.conn.send(None)
        slot.process.join(5)
    return outcomes, bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per case")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-calls", type=int, default=2000,
                        help="scale generated traffic down to about this many calls")
    parser.add_argument("--memory", type=int, default=1500, metavar="MB",
                        help="address-space limit of each worker (MemoryError beyond it)")
    parser.add_argument("--save", type=Path, help="write each failing case here")
    args = parser.parse_args(argv)
    started = time.monotonic()
    outcomes, bad = campaign(args.cases, args.seed, args.timeout, args.workers, args.max_calls,
                             args.memory)
    elapsed = time.monotonic() - started
    for case, source, outcome, detail in bad:
        print(f"--- case {case} (from {source}): {outcome}\n{detail.rstrip()}")
    print(f"cases: {args.cases:,} in {elapsed:.0f} s (seed {args.seed}, {args.workers} workers)")
    for outcome, count in sorted(outcomes.items()):
        print(f"  {outcome:12} {count:6,}")
    print(f"tracebacks: {outcomes['traceback']}  hangs: {outcomes['hang']}  "
          f"errors without a line: {outcomes['no-line']}  torn CDR lines: {outcomes['torn-cdr']}"
          f"  workers died: {outcomes['died']}")
    if args.save is not None and bad:
        args.save.mkdir(parents=True, exist_ok=True)
        texts = cases_of(args.cases, args.seed)
        for case, *_ in bad:
            (args.save / f"case-{case}.yaml").write_text(texts[case][1], encoding="utf-8")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
