"""The report's plots (matplotlib, Agg: no display needed), written as PNG files."""

from __future__ import annotations

import io
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

# Gateway names come from CDR files: "$a^^b$" is a name, not mathtext to parse (and fail on).
matplotlib.rcParams["text.parse_math"] = False

PLOTS = ("hourly.png", "asr_heatmap.png", "end_reasons.png", "holdtime.png", "concurrency.png")
_TOP_REASONS = 10  # more reasons than this are stacked as "other"
# An hour (or hour x gateway cell) with fewer calls than this is marked: its ASR is a small
# sample (a 53-call final hour at 100 % says little). ``vossim analyze --small-sample N``.
SMALL_SAMPLE = 100


def _gateway_label(side: str, name: str) -> str:
    return f"{'in' if side == 'caller' else 'out'} {name}"


def hourly(report: dict[str, Any], small: int = SMALL_SAMPLE) -> Figure:
    hours = report["hours"]
    labels = [h["hour"][5:13].replace("T", " ") + "h" for h in hours]
    figure, attempts = plt.subplots(figsize=(10, 4.5))
    x = range(len(hours))
    few = [h["calls"] < small for h in hours]
    bars = attempts.bar(x, [h["calls"] for h in hours], color="#9ecae1", label="attempts")
    for bar, is_small in zip(bars, few, strict=True):
        if is_small:
            bar.set_hatch("///")
            bar.set_edgecolor("#555")
            bar.set_facecolor("#e6eef5")
    if any(few):  # a label on the legend, once
        attempts.bar([0], [0], color="#e6eef5", hatch="///", edgecolor="#555",
                     label=f"fewer than {small} calls: small sample")
    attempts.set_ylabel("call attempts")
    attempts.set_xticks(list(x), labels, rotation=60, ha="right", fontsize=8)
    asr = attempts.twinx()
    asr.plot(x, [100 * h["asr"] for h in hours], color="#d62728", marker="o", label="ASR %")
    small_x = [i for i, is_small in enumerate(few) if is_small]
    if small_x:  # hollow markers and the count: read these hours' ASR with care
        asr.plot(small_x, [100 * hours[i]["asr"] for i in small_x], linestyle="none",
                 marker="o", markersize=9, markerfacecolor="white", markeredgecolor="#d62728")
        for i in small_x:
            asr.annotate(f"n={hours[i]['calls']}", (i, 100 * hours[i]["asr"]),
                         textcoords="offset points", xytext=(0, 8), ha="center", fontsize=7,
                         color="#555")
    asr.set_ylim(0, 100)
    asr.set_ylabel("ASR %", color="#d62728")
    acd = attempts.twinx()
    acd.spines["right"].set_position(("axes", 1.1))
    acd.plot(x, [h["acd"] for h in hours], color="#2ca02c", marker="s", label="ACD s")
    acd.set_ylabel("ACD s", color="#2ca02c")
    acd.set_ylim(bottom=0)
    handles = [*attempts.get_legend_handles_labels()[0], *asr.get_legend_handles_labels()[0],
               *acd.get_legend_handles_labels()[0]]
    attempts.legend(handles=handles, loc="upper left", fontsize=8)
    attempts.set_title("Call attempts, ASR and ACD per hour (UTC, by stoptime)")
    figure.tight_layout()
    return figure


def asr_heatmap(report: dict[str, Any], small: int = SMALL_SAMPLE) -> Figure:
    cells = report["hour_gateway_asr"]
    hours = sorted({c["hour"] for c in cells})
    gateways = sorted({(c["side"], c["gateway"]) for c in cells}, key=lambda g: (g[0] != "caller",
                                                                               g[1]))
    grid = [[float("nan")] * len(hours) for _ in gateways]
    for cell in cells:
        grid[gateways.index((cell["side"], cell["gateway"]))][hours.index(cell["hour"])] = \
            100 * cell["asr"]
    figure, axes = plt.subplots(figsize=(max(6, 0.5 * len(hours) + 3),
                                         max(3, 0.35 * len(gateways) + 1.5)))
    image = axes.imshow(grid, aspect="auto", cmap="RdYlGn", vmin=0, vmax=100,
                        interpolation="nearest")
    axes.set_yticks(range(len(gateways)), [_gateway_label(*g) for g in gateways], fontsize=8)
    axes.set_xticks(range(len(hours)), [h[5:13].replace("T", " ") + "h" for h in hours],
                    rotation=60, ha="right", fontsize=8)
    figure.colorbar(image, ax=axes, label="ASR %")
    few = [c for c in cells if c["calls"] < small]
    for cell in few:  # hatched, with the count: a small sample
        row, column = gateways.index((cell["side"], cell["gateway"])), hours.index(cell["hour"])
        axes.add_patch(Rectangle((column - 0.5, row - 0.5), 1, 1, fill=False, hatch="///",
                                 edgecolor="#333", linewidth=0))
        axes.text(column, row, str(cell["calls"]), ha="center", va="center", fontsize=7,
                  color="#111", bbox={"facecolor": "white", "alpha": 0.8, "linewidth": 0,
                                      "pad": 1})
    title = "ASR per hour and gateway (in: mapping, out: routing)"
    if few:
        title += f"\nhatched, with the count: fewer than {small} calls"
    axes.set_title(title)
    figure.tight_layout()
    return figure


def end_reasons(report: dict[str, Any]) -> Figure:
    names = {e["code"]: f"{e['code']} {e['name']}" for e in report["by_end_reason"]}
    totals = sorted(report["by_end_reason"], key=lambda e: -e["calls"])
    shown = [e["code"] for e in totals[:_TOP_REASONS]]
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for entry in report["end_reasons_by_gateway"]:
        label = names[entry["endreason"]] if entry["endreason"] in shown else "other"
        counts[(entry["side"], entry["gateway"])][label] += entry["calls"]
    gateways = sorted(counts, key=lambda g: (g[0] != "caller", g[1]))
    labels = [names[c] for c in shown] + (["other"] if len(totals) > len(shown) else [])
    figure, axes = plt.subplots(figsize=(10, max(3.5, 0.4 * len(gateways) + 2)))
    left = [0.0] * len(gateways)
    colours = plt.get_cmap("tab20")
    for i, label in enumerate(labels):
        shares = []
        for gateway in gateways:
            total = sum(counts[gateway].values())
            shares.append(100 * counts[gateway].get(label, 0) / total if total else 0)
        axes.barh(range(len(gateways)), shares, left=left, label=label, color=colours(i % 20))
        left = [a + b for a, b in zip(left, shares, strict=True)]
    axes.set_yticks(range(len(gateways)), [_gateway_label(*g) for g in gateways], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, 100)
    axes.set_xlabel("share of the gateway's calls, %")
    axes.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    axes.set_title("End reasons per gateway")
    figure.tight_layout()
    return figure


def holdtime(report: dict[str, Any]) -> Figure:
    counts = report["holdtime_histogram"]["counts"]
    figure, axes = plt.subplots(figsize=(10, 4))
    if counts:
        total = sum(n for _, n in counts)
        running, limit = 0, counts[-1][0]
        for seconds, n in counts:  # show up to the 99.5th percentile: the tail hides the spikes
            running += n
            if running >= 0.995 * total:
                limit = seconds
                break
        shown = [(s, n) for s, n in counts if s <= limit]
        axes.bar([s for s, _ in shown], [n for _, n in shown], width=1.0, color="#3182bd")
        axes.set_xlim(-0.5, limit + 0.5)
    axes.set_xlabel("hold time, s (1 s bins; spikes at billing increments show here)")
    axes.set_ylabel("answered calls")
    axes.set_title("Hold-time histogram of answered calls")
    figure.tight_layout()
    return figure


def concurrency(report: dict[str, Any]) -> Figure:
    series = report["concurrency"]["series"]
    figure, axes = plt.subplots(figsize=(10, 3.5))
    axes.step(range(len(series)), [p for _, p in series], where="post", color="#6a51a3")
    step = max(1, len(series) // 12)
    axes.set_xticks(range(0, len(series), step),
                    [series[i][0][5:16].replace("T", " ") for i in range(0, len(series), step)],
                    rotation=45, ha="right", fontsize=8)
    axes.set_ylabel("answered calls up")
    axes.set_ylim(bottom=0)
    axes.set_title(f"Concurrent calls (peak per {report['concurrency']['bucket_seconds']} s; "
                   f"peak {report['concurrency']['peak']:,})")
    figure.tight_layout()
    return figure


_MAKERS = dict(zip(PLOTS, (hourly, asr_heatmap, end_reasons, holdtime, concurrency),
                   strict=True))


def render(report: dict[str, Any], small: int = SMALL_SAMPLE) -> dict[str, bytes]:
    """Every plot as PNG bytes, by file name (nothing when there are no CDRs); hours and cells
    with fewer than ``small`` calls are marked as small samples."""
    if not report["calls"]:
        return {}
    images = {}
    for name, make in _MAKERS.items():
        figure = make(report, small) if make in (hourly, asr_heatmap) else make(report)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100)
        plt.close(figure)
        images[name] = buffer.getvalue()
    return images


def write_plots(report: dict[str, Any], directory: Path, small: int = SMALL_SAMPLE
                ) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in render(report, small).items():
        path = directory / name
        partial = directory / f".{name}.partial"
        partial.write_bytes(data)
        partial.replace(path)
        written.append(path)
    return written
