"""docs/decision-table.md's tables are written from the decision table and cannot go stale."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.core import decisions as table
from simulator.explain import _decision_doc as doc


def test_the_documented_tables_are_the_decision_table() -> None:
    current = doc.DOC.read_text(encoding="utf-8")
    assert doc.render(current) == current, "stale: run make docs"
    assert doc.main(["--check"]) == 0


def test_every_row_appears_with_its_numbers() -> None:
    generated = "".join(doc.tables().values())
    for verdict in table.ALL_ROWS:
        assert f"| {verdict.row} | {verdict.detail or verdict.situation} | " \
               f"{int(verdict.end_direction)} | {int(verdict.reason)} " in generated
    assert "| -69 |" in generated and "-124 *" in generated


def test_a_changed_row_makes_the_document_stale(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "decision-table.md"
    copy.write_text(doc.DOC.read_text(encoding="utf-8"), encoding="utf-8")
    from dataclasses import replace

    moved = replace(table.MEDIA_TIMEOUT, q850=99)
    monkeypatch.setattr(table, "ALL_ROWS", (*table.ALL_ROWS[:-1], moved))
    assert doc.main(["--check", str(copy)]) == 1
    assert doc.main([str(copy)]) == 0
    assert "| 41 |" not in copy.read_text().split("after-answer")[1].split("end generated")[0]
    assert doc.main(["--check", str(copy)]) == 0
