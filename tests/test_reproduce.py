"""``vossim reproduce``: a CDR row back to a scenario that replays it (rows vossim wrote in the
seeds profile; the real rows are in ``test_reproduce_real.py``)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from simulator.audit import DIFFERENT, EQUAL, reproduce
from simulator.cli import main
from simulator.run._run import run_scenario
from simulator.scenario._loader import load_scenario

ROOT = Path(__file__).resolve().parent.parent
DECISION_TABLE = sorted((ROOT / "scenarios" / "decision-table").glob("*.yaml"))

def _flownos(path: Path) -> list[int]:
    with path.open(newline="") as handle:
        return [int(row["flowno"]) for row in csv.DictReader(handle)]


def _written_rows(tmp_path: Path, scenario: Path) -> Path:
    out = tmp_path / scenario.stem
    run_scenario(load_scenario(scenario), out, ("e_cdr",))
    (path,) = out.glob("e_cdr_*.csv")
    return path


# Rows whose ending needs what the row alone does not show: the account's other calls (a CPS or
# concurrency limit, a full gateway) or how many gateways a failover went through.
NEEDS_WINDOW = {"06-cps-limit", "07-concurrent-limit", "13-no-available-route"}


@pytest.mark.parametrize("scenario", DECISION_TABLE, ids=lambda p: p.stem)
def test_rows_of_every_decision_table_row_reproduce_in_the_seeds_profile(
        scenario: Path, tmp_path: Path) -> None:
    path = _written_rows(tmp_path, scenario)
    window = 120.0 if scenario.stem in NEEDS_WINDOW else None
    for flowno in _flownos(path):
        result = reproduce(str(path), flowno=flowno, window=window)
        assert result.profile == "seeds"
        for name in ("enddirection", "endreason", "holdtime", "fee", "feetime",
                     "customeraccount"):
            assert result.field(name).status == EQUAL, (flowno, name, result.field(name))
        assert abs(int(result.field("stoptime").simulated)
                   - int(result.field("stoptime").original)) <= 1000 or \
            scenario.stem == "18-failover"  # one gateway here; the row tried two
        # against the scenario itself as the configuration, every decided field is equal,
        # the failover's gateways included
        configured = reproduce(str(path), flowno=flowno, window=window, config=str(scenario))
        for name in ("enddirection", "endreason", "holdtime", "fee", "feetime", "stoptime",
                     "calleegatewayid", "customeraccount", "callerpdd"):
            assert configured.field(name).status == EQUAL, (flowno, name, configured.field(name))


def test_the_reproduced_scenario_explains_as_it_is(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    scenario = ROOT / "scenarios" / "decision-table" / "24-prepaid-exhausted.yaml"
    path = _written_rows(tmp_path, scenario)
    out = tmp_path / "disputed.yaml"
    assert main(["reproduce", str(path), "-o", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "prepaid money cannot pay the next pulse" in shown and f"wrote {out}" in shown
    assert main(["validate", str(out)]) == 0
    assert main(["check", str(out)]) == 0
    capsys.readouterr()
    assert main(["explain", str(out)]) == 0  # no --call: the scenario has one call
    assert "Prepaid Duration Exceeded" in capsys.readouterr().out
    assert main(["reproduce", str(path), "-o", str(tmp_path / "again.yaml"), "--explain"]) == 0
    both = capsys.readouterr().out
    assert "equal" in both and "Prepaid Duration Exceeded" in both and "ending" in both


def test_a_different_field_says_why(tmp_path: Path) -> None:
    path = _written_rows(tmp_path, ROOT / "scenarios" / "decision-table" / "21-caller-bye.yaml")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        header, rows = list(reader.fieldnames or []), list(reader)
    rows[0]["holdtime"] = str(int(rows[0]["holdtime"]) + 5)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows(rows)
    config = ROOT / "scenarios" / "decision-table" / "21-caller-bye.yaml"
    result = reproduce(str(path), config=str(config))
    holdtime = result.field("holdtime")
    assert holdtime.status == DIFFERENT and "not its stoptime - starttime" in holdtime.reason
    assert result.field("fee").status == EQUAL  # billed on what the times say
    assert "calls:" in result.text and "rate_tables:" in result.text


def test_names_from_the_row_stay_data_in_the_scenario(tmp_path: Path) -> None:
    path = _written_rows(tmp_path, ROOT / "scenarios" / "decision-table" / "22-callee-bye.yaml")
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        header, rows = list(reader.fieldnames or []), list(reader)
    rows[0]["customername"] = 'Evil" # \\ name: {x: [1]}'
    rows[0]["callergatewayid"] = "GW'\" <b> #x"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, header)
        writer.writeheader()
        writer.writerows(rows)
    result = reproduce(str(path))
    assert result.scenario.accounts[rows[0]["customeraccount"]].name == rows[0]["customername"]
    assert result.field("customername").status == EQUAL
    assert result.field("callergatewayid").status == EQUAL


def test_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _written_rows(tmp_path, ROOT / "scenarios" / "decision-table" / "06-cps-limit.yaml")
    for args, message in (((str(path),), "pick one with --flowno N"),
                          ((str(path), "--flowno", "99"), "no row with flowno 99"),
                          ((str(tmp_path / "none.csv"),), "expected a CDR file or one CDR row"),
                          ((str(path), "--flowno", "1", "--window", "-3"), "--window")):
        assert main(["reproduce", *args, "-o", str(tmp_path / "x.yaml")]) == 2, args
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and err.count("\n") == 1, (args, err)
    assert not (tmp_path / "x.yaml").exists()


@pytest.mark.parametrize("scenario", sorted((ROOT / "scenarios" / "real").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_the_vos3000_export_and_a_pasted_row_reproduce(scenario: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    """vossim's own vos-csv export (52 columns, no header) of the real situations, a file and
    one row pasted as text, with the scenario itself as --config too."""
    out = tmp_path / "out"
    run_scenario(load_scenario(scenario), out, ("vos-csv",))
    (path,) = out.glob("cdr_*.csv")
    lines = path.read_text().splitlines()
    for index, line in enumerate(lines):
        by_file = reproduce(str(path), flowno=int(line.split(",")[41]))
        pasted = reproduce(line)
        configured = reproduce(line, config=str(scenario))
        assert by_file.profile == pasted.profile == "vos3000"
        for result in (by_file, pasted, configured):
            for name in ("enddirection", "endreason", "holdtime", "fee", "feetime", "agentfee",
                         "stoptime", "calleegatewayid"):
                assert result.field(name).status == EQUAL, (index, name, result.field(name))
    assert main(["reproduce", lines[0], "-o", str(tmp_path / "pasted.yaml")]) == 0
    assert "wrote" in capsys.readouterr().out
