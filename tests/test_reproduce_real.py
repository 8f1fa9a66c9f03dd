"""``vossim reproduce`` on the real VOS3000 rows: each of them, reproduced without --config,
replays to its ending, holdtime and stoptime.

The real rows are third-party data: they are read from ../shared/reference/real-cdrs/ at run
time (the tests skip, saying why, in a clone without ../shared) and never copied here.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from simulator.audit import EQUAL, UNKNOWN, reproduce
from simulator.run._run import find_run_errors, run_scenario
from simulator.scenario._loader import parse_scenario

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "reference" / "real-cdrs" / "e_cdr-2023-07-16.csv"

needs_real_rows = pytest.mark.skipif(
    not REAL.is_file(), reason=f"the real CDR rows are third-party data, read from {REAL}, "
                               "which this checkout does not have (../shared is absent)")


def _flownos(path: Path) -> list[int]:
    with path.open(newline="") as handle:
        return [int(row["flowno"]) for row in csv.DictReader(handle)]


@needs_real_rows
def test_every_real_row_replays_to_its_ending_holdtime_and_stoptime() -> None:
    flownos = _flownos(REAL)
    assert len(flownos) == 49
    for flowno in flownos:
        result = reproduce(str(REAL), flowno=flowno)
        assert result.cdr is not None, flowno
        for name in ("enddirection", "endreason", "holdtime"):
            verdict = result.field(name)
            assert verdict.status == EQUAL, (flowno, name, verdict)
        assert abs(int(result.field("stoptime").simulated)
                   - int(result.field("stoptime").original)) <= 1000, flowno
        # the scenario written is a valid file that runs alone and meets its own expectations
        scenario = parse_scenario(result.text, f"flowno-{flowno}.yaml")
        assert not find_run_errors(scenario), flowno
        assert run_scenario(scenario, None).mismatches() == [], flowno


@needs_real_rows
def test_a_real_answered_row_infers_its_per_second_rate_and_marks_assumptions() -> None:
    with REAL.open(newline="") as handle:
        answered = [r for r in csv.DictReader(handle) if int(r["holdtime"]) > 60]
    row = answered[0]
    result = reproduce(str(REAL), flowno=int(row["flowno"]))
    assert "billed per second" in result.text and "from the row: fee" in result.text
    assert "assumption" in result.text
    assert result.field("fee").status == EQUAL and result.field("feetime").status == EQUAL
    assert result.field("callercallid").status == UNKNOWN  # ids: not determinable
    # with the account's other rows around it, the same
    windowed = reproduce(str(REAL), flowno=int(row["flowno"]), window=60)
    assert windowed.window_rows > 0
    for name in ("enddirection", "endreason", "holdtime", "fee", "stoptime"):
        assert windowed.field(name).status == EQUAL, name
    # a row that was not billed says that its price is not in it
    failed = reproduce(str(REAL), flowno=_flownos(REAL)[0])
    assert "its price is not in it" in failed.text


@needs_real_rows
def test_real_rows_reproduce_in_every_shape_the_readers_take(tmp_path: Path) -> None:
    import json

    with REAL.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(reader)
    chosen = [rows[0], rows[7], *(r for r in rows if int(r[header.index("holdtime")]) > 0)]
    headerless = tmp_path / "headerless.csv"
    headerless.write_text("".join(",".join(f'"{v}"' if "," in v else v for v in row) + "\n"
                                  for row in rows))
    tabbed = tmp_path / "export.tsv"
    tabbed.write_text("\t".join(header) + "\n" + "".join("\t".join(r) + "\n" for r in rows))
    for row in chosen:
        fields = dict(zip(header, row, strict=True))
        flowno = int(fields["flowno"])
        expected = reproduce(str(REAL), flowno=flowno)
        line = ",".join(f'"{v}"' if "," in v or '"' in v else v
                        for v in (x.replace('"', '""') for x in row))
        for source, kwargs in ((str(headerless), {"flowno": flowno}),
                               (str(tabbed), {"flowno": flowno}),
                               (line, {}),
                               (json.dumps(fields), {})):
            result = reproduce(source, **kwargs)
            for name in ("enddirection", "endreason", "holdtime", "fee", "stoptime"):
                assert result.field(name).status == EQUAL, (source[:40], flowno, name)
            # the same scenario, whatever shape the row came in (but the title's file name)
            assert result.text.split("\n", 1)[1] == expected.text.split("\n", 1)[1]
