"""Fuzz campaign: mutated scenarios, library scenarios under random flags, mutated CDR files.

    python bench/fuzz_scenarios.py --cases 3000 --timeout 20 --workers 2

Cases are split over three strategies (``--split``, default 60/20/20 %):

* ``scenario``: mutated copies of scenarios/ (values, keys, lines, characters, YAML structure;
  type confusion per key, nasty strings in every string and key, extreme numbers, dropped,
  duplicated and renamed keys and sections, anchors and merge keys) through the loader and, when
  they load, a run. Each must be refused with ``file:line:column`` on every problem, refused by
  ``find_run_errors`` (placed the same way), or run to the end with every pipe line whole.
* ``cli``: ``vossim run`` of a library scenario with a random mix of ``--format``,
  ``--workers``, ``--calls``, ``--set``, ``--scale``, ``--rate``, ``--speed``, ``--warmup``,
  ``--realtime`` and ``--trace``. Each must succeed with whole CDR lines, or be refused (exit 2)
  with an error that names a flag, a file or a place, leaving no output behind.
* ``cdr``: mutated pipe, e_cdr CSV, JSON lines, SQLite and Parquet files into ``vossim analyze``
  and, for pipe lines, ``vossim explain --cdr``. Each must report, or be refused with one line
  naming the file (or the field).

A traceback, a case that takes longer than ``--timeout`` (a hang), an error without a location,
a torn CDR line, output left after a refusal or a worker that died counts against the campaign;
the script prints each such case and exits 1 if there is one. Each worker runs under an
address-space limit. Valid mutants with a lot of traffic are scaled down to about
``--max-calls`` generated calls.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing
import random
import re
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import yaml

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


# -- structured mutations: the parsed scenario changed as data, then written back as YAML ------
NASTY_STRINGS = [
    "[/v]", "[red]GW", "\x1b]0;title\x07", "\x1b[31mred", "a|b", "x\ny", "441\n", "\r",
    "fe80::1%eth|0\nX", "fe80::1%eth0", "", " ", "\u202e", "\ufeff", "\u2028", "\x00",
    "x" * 256, "${HOME}", "../../etc/passwd", "%s%n", "\t", "'", '"', "é", "𝄞", "1e3", "0x10",
    "true", "null", "2026-02-30", "-0", "٣٣", "１２３",
]
EXTREME_NUMBERS: list[Any] = [
    0, -1, 1, 2 ** 31, 2 ** 63, 2 ** 64, -(2 ** 63) - 1, 10 ** 19, 10 ** 30, 1e308, -1e308,
    float("nan"), float("inf"), float("-inf"), 1e-320, 0.1, -0.0, 86_401, 604_801, 31_622_401,
    10 ** 200,
]
OTHER_TYPES: list[Any] = [
    None, True, False, [], {}, [1, 2], {"a": 1}, "text", 7, 2.5, "2026-11-20T10:00:00Z",
    [[[]]], {"x": {"y": None}},
]


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    """Every (path, value) in a loaded YAML tree, the root excluded."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append(((*path, key), value))
            found.extend(_paths(value, (*path, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.append(((*path, i), value))
            found.extend(_paths(value, (*path, i)))
    return found


def _set(tree: Any, path: tuple[Any, ...], value: Any) -> None:
    node = tree
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _type_confusion(rng: random.Random, tree: Any) -> None:
    path, value = rng.choice(_paths(tree))
    choices = [v for v in OTHER_TYPES if type(v) is not type(value)]
    _set(tree, path, rng.choice(choices))


def _nasty_strings(rng: random.Random, tree: Any) -> None:
    """Nasty text in strings and keys, many at once (every one, a third of the time)."""
    share = 1.0 if rng.random() < 0.33 else 0.2
    for path, value in _paths(tree):
        if isinstance(value, str) and rng.random() < share:
            with contextlib.suppress(KeyError, IndexError, TypeError):  # a key renamed above
                _set(tree, path, rng.choice(NASTY_STRINGS))
    mappings = [v for _, v in _paths(tree) if isinstance(v, dict)] + [tree]
    for mapping in rng.sample(mappings, k=min(len(mappings), 3)):
        if mapping:
            key = rng.choice(list(mapping))
            mapping[rng.choice(NASTY_STRINGS)] = mapping.pop(key)


def _extreme_numbers(rng: random.Random, tree: Any) -> None:
    numbers = [(p, v) for p, v in _paths(tree)
               if isinstance(v, int | float) and not isinstance(v, bool)]
    for path, _ in rng.sample(numbers, k=min(len(numbers), rng.choice([1, 2, 5]))):
        _set(tree, path, rng.choice(EXTREME_NUMBERS))


def _keys_and_sections(rng: random.Random, tree: Any) -> None:
    """Drop, duplicate (under another name or the same one) or rename keys and sections."""
    mappings = [v for _, v in _paths(tree) if isinstance(v, dict) and v]
    mapping = tree if rng.random() < 0.3 or not mappings else rng.choice(mappings)
    if not mapping:
        return
    key = rng.choice(list(mapping))
    kind = rng.randrange(4)
    if kind == 0:
        del mapping[key]
    elif kind == 1:
        mapping[f"{key}_copy"] = json.loads(json.dumps(mapping[key], default=str))
    elif kind == 2:
        new = rng.choice([key.upper() if isinstance(key, str) else key, f"{key}s", f"x-{key}",
                          str(key)[:-1], rng.choice(list(mapping))])
        mapping[new] = mapping.pop(key)
    else:  # a list item dropped or doubled
        lists = [(p, v) for p, v in _paths(tree) if isinstance(v, list) and v]
        if lists:
            _, items = rng.choice(lists)
            if rng.random() < 0.5:
                items.pop(rng.randrange(len(items)))
            else:
                items.append(items[rng.randrange(len(items))])


def _dump(tree: Any) -> str:
    return yaml.safe_dump(tree, sort_keys=False, allow_unicode=True, width=10 ** 6)


def _duplicate_line(rng: random.Random, text: str) -> str:
    """A key written twice in the same mapping (a dict cannot hold that: done as text)."""
    lines = [i for i, line in enumerate(text.split("\n")) if re.match(r"^\s*[\w-]+: ", line)]
    if not lines:
        return text
    out = text.split("\n")
    i = rng.choice(lines)
    out.insert(i + 1, out[i])
    return "\n".join(out)


def _anchors_and_merges(rng: random.Random, text: str) -> str:
    """Anchors, aliases and ``<<`` merge keys: real ones, broken ones, misplaced ones."""
    lines = text.split("\n")
    entries = [i for i, line in enumerate(lines) if re.match(r"^  [^\s#-][^:]*: *$", line)]
    kind = rng.randrange(5)
    if kind == 0 and len(entries) >= 2:  # one section entry merges another
        a, b = rng.sample(entries, 2)
        lines[a] = lines[a] + " &base"  # (a forward alias, when b comes first, is refused)
        lines.insert(b + 1, "    <<: *base")
        return "\n".join(lines)
    if kind == 1:  # a merge of something that is not a mapping, or of nothing
        target = rng.choice(["[1, 2]", "*nosuch", "x", "[*a, *a]", "{}", "null"])
        return text.replace("\nswitch:", f"\nx-a: &a {{k: 1}}\nswitch:\n  <<: {target}", 1) \
            if "\nswitch:" in text else text + f"\nx-a: &a [1]\nswitch: {{<<: {target}}}\n"
    if kind == 2:  # an alias of a whole section in place of another
        sections = [m.group(1) for m in re.finditer(r"^(\w+):", text, re.M)]
        if len(sections) >= 2:
            a, b = rng.sample(sections, 2)
            text = re.sub(rf"^{a}:", f"{a}: &sec", text, count=1, flags=re.M)
            return text + f"\n{b}_alias: *sec\n" if rng.random() < 0.5 else \
                re.sub(rf"^{b}:.*$", f"{b}: *sec", text, count=1, flags=re.M)
        return text
    if kind == 3:  # an anchor on a scalar reused as a key and as a value elsewhere
        values = [m for m in _VALUE.finditer(text)]
        if len(values) >= 2:
            first, second = rng.sample(values, 2)
            start, end = sorted([first.span(), second.span()])
            return (text[:start[0]] + "&v " + text[start[0]:start[1]] + text[start[1]:end[0]]
                    + "*v" + text[end[1]:])
        return text
    # a merge key in a list of calls, or merging a list of mappings
    return text.replace("  - id:", "  - <<: [{caller: '1'}, {callee: '2'}]\n    id:", 1)


def structured(rng: random.Random, text: str) -> str:
    """One of the structured mutations of a seed scenario."""
    kind = rng.randrange(6)
    if kind == 4:
        return _duplicate_line(rng, text)
    if kind == 5:
        return _anchors_and_merges(rng, text)
    tree = yaml.safe_load(text)
    (_type_confusion, _nasty_strings, _extreme_numbers, _keys_and_sections)[kind](rng, tree)
    try:
        return _dump(tree)
    except (yaml.YAMLError, UnicodeError, ValueError, RecursionError):
        return text


def seeds() -> list[tuple[str, str]]:
    return [(str(p.relative_to(ROOT)), p.read_text(encoding="utf-8"))
            for p in sorted((ROOT / "scenarios").rglob("*.yaml"))]


STRATEGIES = ("scenario", "cli", "cdr")
Case = tuple[str, str, Any]  # (strategy, where it came from, what the worker runs)


def cases_of(count: int, seed: int, split: tuple[float, ...] = (0.6, 0.2, 0.2)) -> list[Case]:
    """Each case as (strategy, source, payload); the same seed gives the same cases. Scenario
    cases alternate between the text mutations and the structured ones."""
    rng = random.Random(seed)
    sources = seeds()
    library = [name for name, _ in sources]
    weights = [max(w, 0.0) for w in split]
    out: list[Case] = []
    for _ in range(count):
        strategy = rng.choices(STRATEGIES, weights=weights)[0]
        if strategy == "scenario":
            name, text = rng.choice(sources)
            text = mutate(rng, text) if rng.random() < 0.5 else structured(rng, text)
            out.append(("scenario", name, text))
        elif strategy == "cli":
            argv = cli_case(rng, library)
            out.append(("cli", argv[1], argv))
        else:
            kind = rng.choice(CDR_KINDS)
            out.append(("cdr", kind, (kind, rng.randrange(2 ** 32))))
    return out


# -- library scenarios under random flags -----------------------------------------------------
def _format_flag(rng: random.Random) -> list[str]:
    value = rng.choice(["pipe", "e_cdr", "jsonl", "sqlite", "parquet", "pipe,jsonl",
                        "pipe,e_cdr,sqlite,jsonl,parquet", "jsonl,parquet", "csv", "", "pipe,pipe",
                        "PIPE", "mariadb", "jsonl,mariadb", "all"])
    db = ["--db", "mysql://u:p@127.0.0.1:1/vos"] if "mariadb" in value and rng.random() < 0.7 \
        else []
    return ["--format", value, *db]


_SETS = [
    "seed=!!float x", "seed=" + "9" * 5000, "start=2026-02-30", "name=[/v]", 'name="\\ud800"',
    "description=\x1b]0;t\x07", "SS_SIP_SESSION_TTL=0", "SS_SIP_SESSION_TTL=1",
    "switch.max_call_duration=5", "switch.max_call_duration=1e300", "switch.no_answer_timeout=0",
    "nosuch=1", "=", "seed", "calls[0].at=1e16", "calls[0].at=2029-01-01T00:00:00Z",
    "calls[0].caller=\"441\\n\"", "calls[nosuch].at=1", "seed=&a [*a]", "seed=[1, {a: 2}]",
    "switch.SERVER_BILLING_FEE_PRECISTION=4", "switch.SERVER_BILLING_FEE_PRECISTION=9",
    "traffic[0].cps=1e9", "traffic[0].cps=0.5", "traffic[0].duration=-1", "accounts={}",
    "rate_tables=null", "routing_gateways.X.ip=fe80::1%eth|0", "seed=1: 2: [",
]


def _number_flag(name: str, valid: list[str], invalid: list[str]) -> Any:
    """``name`` with a value that is fine two times in three, one that is not otherwise."""
    return lambda rng: [name, rng.choice(valid if rng.random() < 0.67 else invalid)]


_FLAGS = [
    _format_flag,
    _number_flag("--workers", ["1", "1", "2"], ["3", "0", "-1", "x", "9223372036854775808",
                                                "64", "1.5", "200"]),
    _number_flag("--calls", ["1", "20", "200", "1_000"], ["0", "-5", "x", "1e3",
                                                          "10000000000000"]),
    lambda rng: [arg for _ in range(rng.randint(1, 3)) for arg in ("--set", rng.choice(_SETS))],
    _number_flag("--scale", ["0.5", "1", "2", "1e-300"], ["0", "-1", "nan", "inf", "1e300", "x"]),
    _number_flag("--rate", ["0.5", "1", "3", "1e-300"], ["0", "-1", "nan", "inf", "1e300", "x"]),
    _number_flag("--warmup", ["0", "5", "60"], ["-1", "nan", "1e300", "x", "inf"]),
    lambda rng: ["--realtime", "--speed", rng.choice(["10000", "100000", "1000000"]
                                                     if rng.random() < 0.67 else
                                                     ["0", "-1", "nan", "inf", "x"])],
    # --speed without --realtime (unless drawn too), now and then: it is refused every time
    lambda rng: ["--speed", rng.choice(["10000", "0", "x"])] if rng.random() < 0.3 else [],
    _number_flag("--trace", ["{tmp}/t.jsonl", "-", "/dev/null", "{tmp}/out/t.jsonl"],
                 ["{tmp}/no/such/t.jsonl", "{tmp}"]),
]


def cli_case(rng: random.Random, library: list[str]) -> list[str]:
    """``vossim run`` of a library scenario with one to five random flags; ``{tmp}`` is the
    case's own directory. Arrivals are capped (``--calls``) unless the flags already say."""
    argv = ["run", rng.choice(library), "-o", "{tmp}/out", "--no-progress"]
    for make in rng.sample(_FLAGS, k=rng.randint(1, 5)):
        argv += make(rng)
    if "--calls" not in argv:
        argv += ["--calls", rng.choice(["1", "30", "300"])]
    return argv


def _error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[-1] if lines[0].startswith("usage:") else lines[0]


# what names a place in a refusal: file:line:column, a flag or a CDR field (or a path given)
_PLACED = re.compile(r"\S+:\d+:\d+: |(^|\s)--[a-z][a-z-]*|\bfield \w+ \(#\d+\)")


def _call_main(argv: list[str]) -> tuple[int, str, str]:
    """``vossim ARGV`` in this process: exit code, standard output, standard error."""
    from simulator.cli import main as vossim

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = vossim(argv)
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 2
    return code, stdout.getvalue(), stderr.getvalue()


def _torn(directory: Path) -> str:
    for path in directory.rglob("*.txt"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.count("|") != 17:
                return f"{path.name}: {line!r}"
    for path in directory.rglob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                json.loads(line)
            except ValueError:
                return f"{path.name}: {line!r}"
    return ""


def classify_cli(template: list[str]) -> tuple[str, str]:
    with tempfile.TemporaryDirectory(prefix="vossim-fuzz-cli-") as tmp:
        argv = [arg.replace("{tmp}", tmp) for arg in template]
        try:
            code, _, stderr = _call_main(argv)
        except BaseException:  # anything out of main is the finding
            return "traceback", traceback.format_exc()
        if "Traceback" in stderr:
            return "traceback", stderr
        out = Path(tmp) / "out"
        if code == 0:
            torn = _torn(out) if out.exists() else ""
            return ("torn-cdr", torn) if torn else ("ran", "")
        line = _error_line(stderr)
        if code != 2:
            return "bad-exit", f"exit {code}: {line}"
        left = [str(p.relative_to(tmp)) for p in Path(tmp).rglob("*")]
        if left:
            return "left-output", f"{line} -- left: {', '.join(sorted(left)[:5])}"
        if not (_PLACED.search(line) or "mysql://" in line
                or any(arg in line for arg in argv if "/" in arg)):
            return "no-line", line
        return "refused", line


# -- mutated CDR files into analyze and explain --cdr -----------------------------------------
CDR_KINDS = ("pipe", "e_cdr", "jsonl", "sqlite", "parquet")
CDR_NASTY = ["x", "true", "nan", "", "-1", "1e18", str(10 ** 18), str(10 ** 30), "9" * 5000,
             "inf", "-inf", "1.5", "0x10", "[/v]", "\x1b[31m", "é", '"', "a,b", "a|b", " 7 ",
             "١٢", "null", "2026-11-20T10:00:00Z", "2026-02-30 25:00:00", "-0"]
_BASE: dict[str, Path] = {}


def _base_cdrs() -> dict[str, Path]:
    """The demo scenario's CDRs in every file format, made once per worker."""
    if not _BASE:
        from simulator import load_scenario, run_scenario

        out = Path(tempfile.mkdtemp(prefix="vossim-fuzz-base-"))
        _BASE["dir"] = out
        run_scenario(load_scenario(ROOT / "scenarios" / "demo.yaml"), out,
                     ("pipe", "e_cdr", "jsonl", "sqlite", "parquet"))
        _BASE.update(pipe=sorted(out.glob("cdr/*.txt"))[0],
                     e_cdr=sorted(out.glob("e_cdr_*.csv"))[0], jsonl=out / "cdr.jsonl",
                     sqlite=out / "vos3000.db", parquet=sorted(out.glob("*.parquet"))[0])
    return _BASE


def _damage_bytes(rng: random.Random, data: bytes) -> bytes:
    kind = rng.randrange(4)
    if kind == 0 or not data:
        return data[:rng.randrange(len(data) + 1)]
    at = rng.randrange(len(data))
    if kind == 1:
        size = rng.choice([1, 8, 100, 4096])
        return data[:at] + bytes(rng.randrange(256) for _ in range(size)) + data[at + size:]
    if kind == 2:
        return data[:at] + rng.choice([b"\xff\xfe", b"\x00", b"\r", b"\xc3", b"\n\n"]) + data[at:]
    return data[:at] + b"\x00" * min(4096, len(data) - at) + data[at + 4096:]


def _mutate_text(rng: random.Random, kind: str, data: bytes) -> bytes:
    lines = data.decode("utf-8").split("\n")
    body = [i for i, line in enumerate(lines) if line and not (kind == "e_cdr" and i == 0)]
    op = rng.randrange(7)
    if op <= 2 and body:  # a field (or a JSON value) replaced
        i = rng.choice(body)
        if kind == "jsonl":
            record = json.loads(lines[i])
            key = rng.choice(list(record))
            record[key] = rng.choice([*CDR_NASTY, None, [], {}, True, 10 ** 30, 1.5, -1])
            if rng.random() < 0.2:
                record[key.swapcase()] = rng.choice(CDR_NASTY)
            lines[i] = json.dumps(record, ensure_ascii=False)
        else:
            separator = "|" if kind == "pipe" else ","
            fields = lines[i].split(separator)
            fields[rng.randrange(len(fields))] = rng.choice(CDR_NASTY)
            lines[i] = separator.join(fields)
    elif op == 3 and body:  # lines dropped, doubled or swapped
        i, j = rng.choice(body), rng.choice(body)
        rng.choice([lambda: lines.pop(i), lambda: lines.insert(i, lines[j]),
                    lambda: lines.__setitem__(slice(i, i + 1), [lines[j]])])()
    elif op == 4:  # lines that are not CDRs
        junk = rng.choice(["{}", "[]", "null", "1", '{"a": 1}', "", "|" * 17, "," * 62, "x",
                           lines[0] if lines else ""])
        lines.insert(rng.randrange(len(lines) + 1), junk)
    elif op == 5 and kind == "e_cdr" and lines:  # the header
        names = lines[0].split(",")
        rng.shuffle(names) if rng.random() < 0.3 else names.pop(rng.randrange(len(names)))
        lines[0] = ",".join(names)
    else:
        return _damage_bytes(rng, "\n".join(lines).encode("utf-8"))
    return "\n".join(lines).encode("utf-8")


def _mutate_sqlite(rng: random.Random, path: Path) -> None:
    if rng.random() < 0.35:
        path.write_bytes(_damage_bytes(rng, path.read_bytes()))
        return
    with contextlib.closing(sqlite3.connect(path)) as db:
        (table,) = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchone()
        columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
        column = rng.choice(["starttime", "stoptime", "holdtime", "endreason", "enddirection",
                             "callergatewayid", "fee", "callerpdd", *columns])
        op = rng.randrange(5)
        if op == 0:
            value = rng.choice([*CDR_NASTY, None, 10 ** 18, -(2 ** 63), 1e308, b"\xff\x00"])
            db.execute(f"UPDATE {table} SET `{column}` = ? WHERE rowid IN (SELECT rowid FROM "
                       f"{table} ORDER BY random() LIMIT 1)", (value,))
        elif op == 1:
            db.execute(f"UPDATE {table} SET `{column}` = CAST(X'41FFC3' AS TEXT)")
        elif op == 2:
            db.execute(f"ALTER TABLE {table} DROP COLUMN `{column}`")
        elif op == 3:
            db.execute(f"ALTER TABLE {table} RENAME COLUMN `{column}` TO `{column.upper()}x`")
        else:
            db.execute(f"DROP TABLE {table}")
            db.execute("CREATE TABLE e_cdr (stoptime TEXT, holdtime BLOB)")
            db.execute("INSERT INTO e_cdr VALUES (?, ?)", (rng.choice(CDR_NASTY), b"\x01"))
        db.commit()


def _mutate_parquet(rng: random.Random, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if rng.random() < 0.4:
        path.write_bytes(_damage_bytes(rng, path.read_bytes()))
        return
    table = pq.read_table(path)
    name = rng.choice(["starttime", "stoptime", "holdtime", "endreason", "calleegatewayid",
                       *table.column_names])
    index = table.column_names.index(name)
    op = rng.randrange(3)
    if op == 0:
        values = [rng.choice(CDR_NASTY) for _ in range(table.num_rows)]
        table = table.set_column(index, name, pa.array(values, type=pa.string()))
    elif op == 1:
        table = table.remove_column(index)
    else:
        table = table.rename_columns([n.upper() if n == name else n for n in table.column_names])
    pq.write_table(table, path)


def cdr_case(kind: str, seed: int, directory: Path) -> tuple[Path, list[list[str]]]:
    """The mutated file of ``kind`` and the vossim commands to give it."""
    rng = random.Random(seed)
    base = _base_cdrs()[kind]
    path = directory / {"pipe": "2026112010.txt", "e_cdr": "e_cdr_20261120.csv",
                        "jsonl": "cdr.jsonl", "sqlite": "vos3000.db",
                        "parquet": "e_cdr_20261120.parquet"}[kind]
    shutil.copy(base, path)
    if kind == "sqlite":
        _mutate_sqlite(rng, path)
    elif kind == "parquet":
        _mutate_parquet(rng, path)
    else:
        path.write_bytes(_mutate_text(rng, kind, base.read_bytes()))
    options = rng.choice([[], ["--by", "gateway"], ["--json"], ["--by", "prefix",
                          "--prefix-digits", rng.choice(["1", "4", "40", "0"])],
                          ["--min-calls", rng.choice(["0", "-1", "100"])], ["--by", "hour"],
                          ["--plots", str(directory / "p"), "--html", str(directory / "r.html")]])
    commands = [["analyze", str(path), *options],
                ["explain", "--cdr", str(path), "--flowno", str(rng.randint(0, 30))]]
    if kind in ("pipe", "e_cdr", "jsonl"):  # one line of it, given as text
        lines = path.read_bytes().decode("utf-8", "replace").splitlines()
        if lines:
            commands.append(["explain", "--cdr", rng.choice(lines)])
    return path, commands


def classify_cdr(payload: tuple[str, int]) -> tuple[str, str]:
    kind, seed = payload
    with tempfile.TemporaryDirectory(prefix="vossim-fuzz-cdr-") as tmp:
        try:
            path, commands = cdr_case(kind, seed, Path(tmp))
        except Exception:  # the mutation itself (not vossim) failed: not a finding
            return "ran", "mutation failed"
        outcome = ("ran", "")
        for argv in commands:
            try:
                code, _, stderr = _call_main(argv)
            except BaseException:  # anything out of main is the finding
                return "traceback", f"{argv}\n{traceback.format_exc()}"
            if "Traceback" in stderr:
                return "traceback", f"{argv}\n{stderr}"
            if code == 0:
                continue
            line = _error_line(stderr)
            if code != 2:
                return "bad-exit", f"{argv[:2]} exit {code}: {line}"
            left = [p.name for p in (path.parent / "p", path.parent / "r.html")
                    if argv[0] == "analyze" and p.exists()]
            if left:
                return "left-output", f"{argv[:2]}: {line} -- left: {', '.join(left)}"
            if len([x for x in stderr.splitlines() if x.strip()]) != 1:
                return "no-line", f"{argv[:2]} more than one line: {stderr!r}"
            one_line = len(argv) == 3 and argv[1] == "--cdr"  # the CDR line itself: its field
            placed = str(path) in line or _PLACED.search(line) or (
                one_line and ("pipe CDR line" in line or "field " in line or "--cdr" in line))
            if not placed:
                return "no-line", f"{argv[:2]}: {line}"
            outcome = ("refused", line)
    return outcome


# -- one case ----------------------------------------------------------------------------------
def classify(text: str, max_calls: int) -> tuple[str, str]:  # a scenario case
    """(outcome, detail); outcomes other than refused*/ran* count against the campaign."""
    from cdr_writer import FORMATS
    from simulator.run import _run
    from simulator.run._options import scale_traffic
    from simulator.run._run import run_scenario
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


def classify_case(case: Case, max_calls: int) -> tuple[str, str]:
    strategy, _, payload = case
    if strategy == "cli":
        return classify_cli(payload)
    if strategy == "cdr":
        return classify_cdr(payload)
    return classify(payload, max_calls)


def _worker(conn: Connection, max_calls: int, memory_mb: int) -> None:
    # A case that eats memory fails in its worker (MemoryError) instead of starving the machine.
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    # polars reserves its address space when first imported: before any case has used some
    import polars  # noqa: F401
    try:
        while True:
            case = conn.recv()
            if case is None:
                return
            conn.send(classify_case(case, max_calls))
    finally:
        if "dir" in _BASE:
            shutil.rmtree(_BASE["dir"], ignore_errors=True)


@dataclass
class _Slot:
    process: multiprocessing.Process
    conn: Connection
    case: int = -1
    started: float = 0.0


def _start(max_calls: int, memory_mb: int) -> _Slot:
    parent, child = multiprocessing.Pipe()
    # not a daemon: a cli case with --workers 2 starts processes of its own
    process = multiprocessing.Process(target=_worker, args=(child, max_calls, memory_mb))
    process.start()
    return _Slot(process, parent)


def campaign(cases: int, seed: int, timeout: float, workers: int, max_calls: int,
             memory_mb: int = 4000, split: tuple[float, ...] = (0.6, 0.2, 0.2),
             ) -> tuple[Counter[tuple[str, str]], list[tuple[int, str, str, str]]]:
    texts = cases_of(cases, seed, split)
    outcomes: Counter[tuple[str, str]] = Counter()
    bad: list[tuple[int, str, str, str]] = []
    slots = [_start(max_calls, memory_mb) for _ in range(workers)]
    try:
        _run_cases(texts, slots, timeout, max_calls, memory_mb, outcomes, bad)
    finally:
        for slot in slots:
            with contextlib.suppress(OSError):
                slot.conn.send(None)
            slot.process.join(5)
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join()
    return outcomes, bad


def _run_cases(texts: list[Case], slots: list[_Slot], timeout: float, max_calls: int,
               memory_mb: int, outcomes: Counter[tuple[str, str]],
               bad: list[tuple[int, str, str, str]]) -> None:
    queue = list(range(len(texts)))[::-1]
    running = 0
    while queue or running:
        for i, slot in enumerate(slots):
            if slot.case < 0 and queue:
                slot.case, slot.started = queue.pop(), time.monotonic()
                slot.conn.send(texts[slot.case])
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
            outcomes[(texts[case][0], outcome)] += 1
            if not outcome.startswith(("refused", "ran")):
                bad.append((case, f"{texts[case][0]} {texts[case][1]}", outcome, detail))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds per case")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-calls", type=int, default=2000,
                        help="scale generated traffic down to about this many calls")
    parser.add_argument("--memory", type=int, default=4000, metavar="MB",
                        help="address-space limit of each worker (MemoryError beyond it)")
    parser.add_argument("--split", default="60,20,20", metavar="S,C,D",
                        help="shares of scenario, cli and cdr cases (default 60,20,20)")
    parser.add_argument("--save", type=Path, help="write each failing case here")
    args = parser.parse_args(argv)
    split = tuple(float(x) for x in args.split.split(","))
    started = time.monotonic()
    outcomes, bad = campaign(args.cases, args.seed, args.timeout, args.workers, args.max_calls,
                             args.memory, split)
    elapsed = time.monotonic() - started
    for case, source, outcome, detail in bad:
        print(f"--- case {case} ({source}): {outcome}\n{detail.rstrip()}")
    print(f"cases: {args.cases:,} in {elapsed:.0f} s (seed {args.seed}, {args.workers} workers)")
    for strategy in STRATEGIES:
        mine = {o: n for (s, o), n in outcomes.items() if s == strategy}
        print(f"  {strategy:9} {sum(mine.values()):6,}: " + ", ".join(
            f"{o} {n:,}" for o, n in sorted(mine.items())))
    total: Counter[str] = Counter()
    for (_, outcome), count in outcomes.items():
        total[outcome] += count
    print(f"tracebacks: {total['traceback']}  hangs: {total['hang']}  "
          f"errors without a location: {total['no-line']}  torn CDR lines: {total['torn-cdr']}"
          f"  outputs left after a refusal: {total['left-output']}  other exits: "
          f"{total['bad-exit']}  workers died: {total['died']}")
    if args.save is not None and bad:
        args.save.mkdir(parents=True, exist_ok=True)
        texts = cases_of(args.cases, args.seed, split)
        for case, *_ in bad:
            strategy, _, payload = texts[case]
            text = payload if strategy == "scenario" else json.dumps(payload)
            (args.save / f"case-{case}.{'yaml' if strategy == 'scenario' else 'json'}"
             ).write_text(text, encoding="utf-8")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
