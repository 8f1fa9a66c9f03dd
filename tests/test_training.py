"""scenarios/training/: one scenario per kind of server hangup, and the pages `make training`
writes for them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from scenario_support import ROOT
from simulator import load_scenario, run_scenario

TRAINING = ROOT / "scenarios" / "training"
H323_LESSON = "9-h323-vendor.yaml"


def test_one_scenario_per_kind_of_server_hangup() -> None:
    rows = set()
    for path in sorted(TRAINING.glob("*.yaml")):
        if path.name == H323_LESSON:
            continue
        scenario = load_scenario(path)
        assert len(scenario.description) > 200, path  # written for a class
        result = run_scenario(scenario, None)
        assert result.mismatches() == [], path
        (cdr,) = result.cdrs.values()
        assert cdr.enddirection == 2, path
        rows.add((cdr.endreason, cdr.holdtime > 0))
    # operator, prepaid, max duration, no-timer cap, failed refresh, media, ring, unreachable
    assert len(list(TRAINING.glob("*.yaml"))) == 9  # and the H.323 vendor's lesson
    assert {reason for reason, _ in rows} == {13, 24, 1, 14, 15, 3, 21}
    assert (14, True) in rows and len(rows) == 7  # 14 twice: the cap and the failed refresh


def test_the_h323_vendor_lesson_has_a_busy_call_and_a_server_ending_on_the_h323_leg() -> None:
    scenario = load_scenario(TRAINING / H323_LESSON)
    assert len(scenario.description) > 200
    (vendor,) = scenario.routing_gateways.values()
    assert vendor.protocol == "h323"
    result = run_scenario(scenario, None)
    assert result.mismatches() == []
    busy, silent = result.cdrs["busy"], result.cdrs["silent"]
    assert (busy.enddirection, busy.holdtime) == (1, 0)
    assert silent.enddirection == 2 and silent.holdtime > 0
    # the H.225 each leg of the ladder (and the pcap) shows: tests/test_explain_h225.py


def test_make_training_writes_every_page_and_an_index(tmp_path: Path) -> None:
    target = tmp_path / "training"
    done = subprocess.run([sys.executable, "-m", "simulator.explain.training", str(TRAINING),
                           str(target)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    index = (target / "index.html").read_text()
    links = re.findall(r'href="([^"]+\.html)"', index)
    assert len(links) == 10  # the H.323 lesson has two calls
    for link in links:
        page = (target / link).read_text()
        assert '<script type="application/json" id="explanation">' in page
        assert "endDirection 2 (server)" in page or link == "9-h323-vendor--busy.html"
        # each page's capture beside it, linked from the index
        capture = link.removesuffix(".html") + ".pcap"
        assert f'href="{capture}"' in index
        assert (target / capture).read_bytes()[:4] == b"\xd4\xc3\xb2\xa1"  # pcap, little-endian
    assert "H.225.0" in (target / "9-h323-vendor--silent.html").read_text()
    assert "Prepaid Duration Exceeded" in (target / "2-prepaid-balance-runs-out--lesson.html"
                                           ).read_text()
    for link in links:
        page = (target / link).read_text()
        assert '<a href="index.html">' in page  # every lesson links back to its index
        verdict = re.search(r'<section id="verdict"><b>Verdict</b>(.+?)</section>', page)
        assert verdict and "decision row" in verdict.group(1)
        # no setting left as its name where its value belongs, no negative balance
        assert "media_timeout s" not in page and "money now -" not in page
    media = (target / "6-media-timeout--lesson.html").read_text()
    assert "no media for 60 s (media_timeout)" in media
    assert not (tmp_path / "training.partial").exists()
