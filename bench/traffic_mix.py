"""The end-reason mix and connected-call direction mix of the two big load runs.

The reference for "the traffic generator still makes the same traffic": a change to how
profiles draw their calls changes every CDR (so the output digests), but must not change the
shares of what happens to the calls. ``tests/test_profiles.py`` compares a fresh run of each
entry of ``RUNS`` with the committed ``tests/data/traffic-mix.json`` within a statistical
tolerance.

    python bench/traffic_mix.py                  # print the mix as JSON
    python bench/traffic_mix.py --write FILE     # (re)write the reference file

Run it with the tree to measure on ``PYTHONPATH`` (e.g. main before a generator change).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from simulator import load_scenario, run_scenario

ROOT = Path(__file__).resolve().parent.parent
# name: run_scenario options. workers=2 as in the band test of tests/test_profiles.py, which
# shares these runs.
RUNS: dict[str, dict[str, Any]] = {
    # one minute at 200 calls/s stretched to ~8.5 minutes; P2 runs dry on the way
    "standard": {"scale": 8.5, "calls": 100_000, "workers": 2},
    # a day at 13 times the shipped rate (~108,000 attempts) cut at 100,000
    "wholesale-day": {"rate": 13, "calls": 100_000, "workers": 2},
}


def run(name: str) -> Any:
    return run_scenario(load_scenario(ROOT / "scenarios" / "load" / f"{name}.yaml"), None,
                        **RUNS[name])


def ended_by(stats: Any) -> Counter[int]:
    """Answered calls by endDirection (0 caller, 1 callee, 2 switch)."""
    ended: Counter[int] = Counter()
    for (side, _), gateway in stats.gateways.items():
        if side == "caller":  # every call has one caller gateway: each answered call once
            ended.update(gateway.ended_by)
    return ended


def mix(stats: Any) -> dict[str, Any]:
    """Counts: attempts, each end reason ("code name"), answered calls by endDirection."""
    return {
        "calls": stats.calls,
        "reasons": {f"{code} {reason}": count
                    for (code, reason), count in sorted(stats.reasons.items())},
        "answered": stats.answered,
        "ended_by": {str(direction): count for direction, count in sorted(ended_by(stats).items())},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", metavar="FILE", type=Path)
    args = parser.parse_args(argv)
    text = json.dumps({name: mix(run(name).stats) for name in RUNS}, indent=1) + "\n"
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
