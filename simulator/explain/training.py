"""``make training``: the explain page of every call of a scenario directory, and an index.

    python -m simulator.explain.training scenarios/training out/training

Each page is the self-contained HTML of ``vossim explain FILE --call ID --html``, beside it the
call's capture (``--pcap``: SIP, and H.225.0 on H.323 legs); ``index.html`` lists the lessons
with their descriptions and endings. The directory appears complete or not at
all (it is built beside the target and moved into place).
"""

from __future__ import annotations

import argparse
import html
import shutil
import sys
from pathlib import Path

from simulator.explain._build import explain_call
from simulator.explain._html import render_html
from simulator.explain._pcap import write_pcap
from simulator.scenario import ScenarioError, load_scenario


def write_training(source: Path, target: Path) -> list[Path]:
    files = sorted(p for p in source.rglob("*.yaml"))
    if not files:
        raise ScenarioError([])
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    rows = []
    written = []
    for path in files:
        scenario = load_scenario(path)
        for call in scenario.calls:
            explanation = explain_call(scenario, call.id)
            name = f"{path.stem}--{call.id}.html"
            (staging / name).write_text(render_html(explanation, index="index.html"),
                                        encoding="utf-8")
            capture = f"{path.stem}--{call.id}.pcap"
            write_pcap(explanation, scenario, staging / capture)
            written.extend([target / name, target / capture])
            header = explanation.header
            rows.append(
                f"<tr><td><a href=\"{html.escape(name)}\">{html.escape(path.stem)}</a> "
                f"(<a href=\"{html.escape(capture)}\">pcap</a>)</td>"
                f"<td>{html.escape(call.id)}</td><td>{html.escape(header['ended'])}</td>"
                f"<td>row {explanation.ending.get('row')}: "
                f"{html.escape(explanation.ending.get('situation', ''))}</td>"
                f"<td>{html.escape(scenario.description.strip())}</td></tr>")
    index = _INDEX.format(rows="\n".join(rows), source=html.escape(str(source)))
    (staging / "index.html").write_text(index, encoding="utf-8")
    written.insert(0, target / "index.html")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return written


_INDEX = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>vossim training: server hangups</title>
<style>
body{{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d232a;background:#fbfbfa}}
table{{border-collapse:collapse;max-width:1400px}}
th,td{{text-align:left;vertical-align:top;padding:6px 12px 6px 0;border-bottom:1px solid #ddd}}
td:last-child{{max-width:640px}}a{{color:#0969da;font-weight:600}}
</style></head><body>
<h1>vossim training: how the server ends a call</h1>
<p>One scenario per kind of server hangup, and one on a vendor that speaks H.323 ({source}).
Open a lesson to see its ladder (SIP, and H.225.0 on H.323 legs) with the switch's own decisions
(timers, pulses, checks), the CDR field by field, and where every value comes from; its pcap holds
the same messages for Wireshark.</p>
<table><tr><th>lesson</th><th>call</th><th>CDR</th><th>decided by</th><th>what happens</th></tr>
{rows}
</table></body></html>
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator.explain.training")
    parser.add_argument("source", type=Path, help="directory of scenarios")
    parser.add_argument("target", type=Path, help="output directory (replaced)")
    args = parser.parse_args(argv)
    try:
        written = write_training(args.source, args.target)
    except ScenarioError as exc:
        for problem in exc.problems or [f"{args.source}: no scenario files found"]:
            print(problem, file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
