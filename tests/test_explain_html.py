"""`vossim explain --html`: one self-contained page, rendered in a real headless chromium."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from scenario_support import ROOT, cli

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium")
    assert binary, "chromium is not installed (make system-deps)"
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("html")
    out = tmp / "call.html"
    done = cli("explain", str(ROOT / "scenarios" / "disputes" / "shared-balance.yaml"),
               "--call", "disputed", "--html", str(out), "--json")
    assert done.returncode == 0, done.stderr
    return out, json.loads(done.stdout)


def test_page_is_self_contained(page: tuple[Path, dict]) -> None:
    text = page[0].read_text()
    external = r"<link|<img|@import|url\((?!#)|\bsrc=|https?://(?!www\.w3\.org/2000/svg)"
    assert not re.search(external, text)
    assert "<script>" in text and "<style>" in text


def test_ladder_renders_one_arrow_per_message(page: tuple[Path, dict], tmp_path: Path) -> None:
    path, doc = page
    done = chromium(tmp_path, "--virtual-time-budget=3000", "--dump-dom", path.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    messages = [e for e in doc["entries"] if e["src"]]
    assert len(re.findall(r'<g class="arrow ', dom)) == len(messages)
    events = [e for e in doc["entries"] if not e["src"]]
    passed_checks = [e for e in events if e["message"] == "setup_check"]
    timers = [e for e in events if e["kind"] == "timer"]
    # the timer lines are folded away until their toggle is on
    assert len(re.findall(r'<g class="event ', dom)) == \
        len(events) - len(passed_checks) + 1 - len(timers)
    assert 'class="event kind-timer' not in dom and len(timers) == 6
    unfolded = chromium(tmp_path, "--virtual-time-budget=3000", "--dump-dom",
                        path.as_uri() + "#timers=1").stdout
    assert len(re.findall(r'<g class="event kind-timer', unfolded)) == len(timers)
    assert 'data-rendered="' in dom
    # colours per kind: the server's BYEs and the billing events have their own classes
    assert len(re.findall(r'<g class="arrow kind-server-ending"', dom)) == 2
    assert len(re.findall(r'<g class="event kind-billing"', dom)) == 5
    # the full SIP message is in the page for hover/click
    assert "Reason: Q.850;cause=16;text=\"Prepaid Duration Exceeded\"" in dom
    # the CDR table with provenance
    assert "fee 0.45 = 3 periods x 0.15" in dom
    assert "10:15:02.000" in dom


def test_time_switch(page: tuple[Path, dict], tmp_path: Path) -> None:
    path, _ = page
    done = chromium(tmp_path, "--virtual-time-budget=3000", "--dump-dom",
                    path.as_uri() + "#time=delta")
    assert done.returncode == 0
    assert 'data-time="delta"' in done.stdout
    assert "Δ60.000" in done.stdout
    relative = chromium(tmp_path, "--dump-dom", path.as_uri() + "#time=relative").stdout
    assert "+182.000" in relative


def test_screenshot(page: tuple[Path, dict], tmp_path: Path) -> None:
    path, _ = page
    shot = tmp_path / "page.png"
    done = chromium(tmp_path, "--window-size=1600,1200", f"--screenshot={shot}", path.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1600, 1200)
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # text, lanes and coloured arrows drawn
    # the caller lane's green and the billing amber are both on screen
    pixels = {colour for _, colour in colours}
    assert (0x1f, 0x8a, 0x4c) in pixels and (0xb7, 0x79, 0x1f) in pixels


def test_verdict_on_top_and_the_page_fits_1400_px(page: tuple[Path, dict],
                                                  tmp_path: Path) -> None:
    path, doc = page
    text = path.read_text()
    assert text.index('id="verdict"') < text.index('class="header"') < text.index("<h2>Ladder")
    assert "call concurrent (4420700000002 → 8801911000011" in doc["verdict"]
    done = chromium(tmp_path, "--window-size=1400,1000", "--virtual-time-budget=3000",
                    "--dump-dom", path.as_uri())
    assert 'data-fits="true"' in done.stdout
    # the other call is named in full beside the pulses, not by its id alone
    assert "concurrent holds 0.45: 4420700000002 → 8801911000011, answered 10:15:32" \
        in done.stdout


def test_a_click_shows_the_event_once_then_its_data(page: tuple[Path, dict],
                                                    tmp_path: Path) -> None:
    path, doc = page
    index = next(i for i, e in enumerate(doc["entries"]) if e["message"] == "pulse_unpaid")
    passed = sum(1 for e in doc["entries"][:index]
                 if e["message"] == "setup_check" and e["details"]["passed"])
    on_page = index - passed + 1  # the page draws the passed setup checks as one line
    done = chromium(tmp_path, "--virtual-time-budget=3000", "--dump-dom",
                    f"{path.as_uri()}#select={on_page}")
    detail = re.search(r'<pre id="detail">(.*?)</pre>', done.stdout, re.S).group(1)
    text = doc["entries"][index]["text"]
    assert detail.count(html.escape(text, quote=False)) == 1
    assert detail.index(html.escape(text, quote=False)) < detail.index("&quot;available_before"
                                                                       if "&quot;" in detail
                                                                       else '"available_before"')
