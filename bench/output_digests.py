"""Digests of every CDR and trace file vossim writes for the scenario library.

The reference for "the output did not change": for every scenario under ``scenarios/`` it runs
the simulator with every CDR format and ``--trace``, plus ``scenarios/load/standard.yaml`` with
``--workers 2``, and records one sha256 per output file. ``tests/test_output_digests.py``
regenerates them and compares with the committed ``tests/data/output-digests.json``.

    python bench/output_digests.py                  # print the digests as JSON
    python bench/output_digests.py --write FILE     # (re)write the digest file
    python bench/output_digests.py --check FILE     # exit 1 and list what differs

Run it with the tree to measure first on ``PYTHONPATH`` (e.g. an old commit's worktree) to make
a baseline. SQLite databases are digested by their SQL dump, not their bytes: the file header
records the SQLite library version, which differs between machines while the rows do not.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import sys
import tempfile
from pathlib import Path

from simulator import load_scenario, run_scenario

ROOT = Path(__file__).resolve().parent.parent
FORMATS = ("pipe", "e_cdr", "sqlite", "jsonl")
SHARDED = (("load/standard.yaml", 2),)  # (scenario, workers): the parallel merge path


def file_digest(path: Path) -> str:
    if path.suffix == ".db":
        db = sqlite3.connect(path)
        try:
            text = "\n".join(db.iterdump())
        finally:
            db.close()
        return hashlib.sha256(text.encode()).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_digests(scenario_file: Path, workers: int = 1) -> dict[str, str]:
    """sha256 of every file one run writes, by path relative to its output directory."""
    with tempfile.TemporaryDirectory(prefix="vossim-digests-") as tmp:
        out = Path(tmp) / "out"
        trace = None if workers > 1 else Path(tmp) / "out" / "trace.jsonl"
        run_scenario(load_scenario(scenario_file), out, FORMATS, trace_path=trace,
                     workers=workers)
        return {str(p.relative_to(out)): file_digest(p)
                for p in sorted(out.rglob("*")) if p.is_file()}


def runs(root: Path = ROOT) -> list[tuple[str, Path, int]]:
    """(name, scenario file, workers) of every run the digests cover."""
    library = root / "scenarios"
    out = [(str(path.relative_to(library)), path, 1) for path in sorted(library.rglob("*.yaml"))]
    out += [(f"{name} --workers {workers}", library / name, workers) for name, workers in SHARDED]
    return out


def all_digests(root: Path = ROOT) -> dict[str, dict[str, str]]:
    return {name: run_digests(path, workers) for name, path, workers in runs(root)}


def differences(expected: dict[str, dict[str, str]],
                found: dict[str, dict[str, str]]) -> list[str]:
    """What differs between two digest sets, one line per run or file."""
    problems = []
    for run in sorted(set(expected) | set(found)):
        want, got = expected.get(run), found.get(run)
        if want is None or got is None:
            problems.append(f"{run}: {'not in the digest file' if want is None else 'not run'}")
            continue
        for name in sorted(set(want) | set(got)):
            if want.get(name) != got.get(name):
                what = ("missing" if name not in got else "new file" if name not in want
                        else "different bytes")
                problems.append(f"{run}: {name}: {what}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", metavar="FILE", type=Path)
    action.add_argument("--check", metavar="FILE", type=Path)
    args = parser.parse_args(argv)
    found = all_digests()
    if args.check:
        expected = json.loads(args.check.read_text())
        # A scenario added after the digests were made has no reference: it is listed, not
        # compared (as tests/test_output_digests.py does).
        new = sorted(set(found) - set(expected))
        problems = differences(expected, {run: found[run] for run in found if run in expected})
        for problem in problems:
            print(problem)
        for run in new:
            print(f"{run}: new, no reference (not compared)")
        print(f"{sum(map(len, found.values()))} files in {len(found)} runs: "
              f"{len(problems)} differences")
        return 1 if problems else 0
    text = json.dumps(found, indent=1, sort_keys=True) + "\n"
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
