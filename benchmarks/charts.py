"""Render the Performance page's charts (SVG) from the JSON the benchmark scripts save.

    python3 -m hatch run bench:python benchmarks/charts.py [--results DIR] [--out DIR]

Reads ``http_bench.json``, ``app_bench.json`` and ``wm_bench.json`` from ``--results``
(default ``benchmarks/results``; a missing file skips its charts) and writes SVG files to
``--out`` (default ``docs/assets/performance``). Produce the JSON with each script's
``--json PATH`` option (see benchmarks/README.md). The SVGs carry no date, so rendering the
same JSON twice gives the same files.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

ROOT = Path(__file__).resolve().parents[1]
COLOURS = {
    "hurtle": "#e4572e",
    "sanic": "#4c72b0",
    "uvicorn": "#55a868",
    "granian": "#8172b2",
    "ceiling": "#8c8c8c",
    "spawn": "#4c72b0",
    "fork": "#e4572e",
}
plt.rcParams.update(
    {
        "svg.hashsalt": "hurtle",
        "svg.fonttype": "none",
        "font.size": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "axes.grid.axis": "y",
        "grid.alpha": 0.3,
    }
)


def save(fig: Any, path: Path, rect: tuple[float, float, float, float] = (0, 0, 1, 1)) -> None:
    fig.tight_layout(rect=rect)
    fig.savefig(path, format="svg", metadata={"Date": None})
    plt.close(fig)
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def subtitle(doc: dict[str, Any]) -> str:
    load = doc.get("load_average", {})
    machine = doc.get("machine", {})
    parts = [doc.get("date", ""), f"{machine.get('cpus', '?')} CPUs"]
    if load:
        parts.append(f"load {load.get('before', 0):.1f} -> {load.get('after', 0):.1f}")
    return ", ".join(p for p in parts if p)


def http_chart(doc: dict[str, Any], out: Path) -> None:
    """Grouped bars per scenario and server: median req/s (whiskers min-max over rounds),
    and requests per CPU-second of the server (the figure least moved by other load)."""
    rows = doc["summary"]
    scenarios = list(dict.fromkeys(r["scenario"] for r in rows))
    servers = list(dict.fromkeys(r["server"] for r in rows))
    width = 0.8 / len(servers)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for i, server in enumerate(servers):
        cells = {r["scenario"]: r for r in rows if r["server"] == server}
        xs = [s + (i - (len(servers) - 1) / 2) * width for s in range(len(scenarios))]
        med = [cells[s]["rps"] if s in cells else 0 for s in scenarios]
        pairs = list(zip(med, scenarios, strict=True))
        low = [m - cells[s]["rps_min"] if s in cells else 0 for m, s in pairs]
        high = [cells[s]["rps_max"] - m if s in cells else 0 for m, s in pairs]
        colour = COLOURS.get(server)
        axes[0].bar(xs, med, width, label=server, color=colour, yerr=[low, high],
                    capsize=2, error_kw={"elinewidth": 0.8})  # fmt: skip
        per_cpu = [cells[s]["per_cpu_s"] if s in cells else 0 for s in scenarios]
        axes[1].bar(xs, per_cpu, width, label=server, color=colour)
    for ax, label in ((axes[0], "requests / s (median)"), (axes[1], "requests / CPU-second")):
        ax.set_xticks(range(len(scenarios)), scenarios)
        ax.set_ylabel(label)
    axes[0].set_title("throughput")
    axes[1].set_title("efficiency")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, ncols=len(servers), loc="lower center", frameon=False)
    fig.suptitle(
        f"One process, HTTP/1.1, wrk -c{doc['plan']['connections']}  ({subtitle(doc)})",
        fontsize=10,
    )
    save(fig, out / "http_throughput.svg", rect=(0, 0.07, 1, 1))


def app_charts(doc: dict[str, Any], out: Path) -> None:
    """Two workers per server: throughput; a restart under load; start to first 200."""
    servers = doc["plan"]["servers"]
    colours = [COLOURS.get(s) for s in servers]
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
    through = doc.get("throughput", {})
    if through:
        med = [statistics.median(x["rps"] for x in through.get(s, [{"rps": 0}])) for s in servers]
        axes[0].bar(servers, med, color=colours)
        axes[0].set_title("throughput, GET /\n(req/s, median)")
    restarts = doc.get("restarts", {})
    if restarts:
        failed = [sum(r["failed"] for r in restarts.get(s, [])) for s in servers]
        sent = [sum(r["requests"] for r in restarts.get(s, [])) for s in servers]
        bars = axes[1].bar(servers, failed, color=colours)
        for bar, lost, total in zip(bars, failed, sent, strict=True):
            axes[1].annotate(f"{lost} of {total:,}", (bar.get_x() + bar.get_width() / 2,
                             bar.get_height()), ha="center", va="bottom", fontsize=8)  # fmt: skip
        axes[1].set_title("requests failed during\nrestarts of every worker")
        axes[1].set_ylim(0, max([*failed, 1]) * 1.25)
        replaced = [
            statistics.median(v) if (v := [r["replaced_s"] for r in restarts.get(s, [])
                                            if r["replaced_s"] is not None]) else 0
            for s in servers
        ]  # fmt: skip
        twin = axes[1].twinx()
        twin.plot(servers, replaced, "k_", markersize=22, markeredgewidth=2)
        twin.set_ylabel("workers replaced after (s, black bars)")
        twin.set_ylim(0, max([*replaced, 0.1]) * 1.3)
        twin.grid(False)
    startups = doc.get("startups_s", {})
    if startups:
        med = [statistics.median(startups.get(s, [0])) for s in servers]
        axes[2].bar(servers, med, color=colours)
        axes[2].set_title("process start -> first 200\n(s, median)")
    fig.suptitle(f"Two worker processes per server  ({subtitle(doc)})", fontsize=10)
    save(fig, out / "app_bench.svg")


def wm_chart(doc: dict[str, Any], out: Path) -> None:
    """Restart and scale latency (spawn vs fork), and IPC / state reads vs a Manager dict."""
    rows = doc["rows"]
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.6))
    timed = [r for r in rows if r["unit"] == "ms"]
    if timed:
        labels = [f"{r['measurement'].split(' ')[0]}\n{r['variant']}" for r in timed]
        colours = [COLOURS["fork"] if "fork" in r["variant"] else COLOURS["spawn"] for r in timed]
        axes[0].barh(labels, [r["median"] for r in timed], color=colours)
        axes[0].invert_yaxis()
        axes[0].set_xlabel("ms to the new workers' ack (median)")
        axes[0].set_title("restart and scale 1 -> 4")
        axes[0].grid(axis="x", alpha=0.3)
        axes[0].tick_params(axis="y", labelsize=7)
    for ax, unit, title, xlabel in (
        (axes[1], "msg/s", "worker -> manager messages", "messages / s (log)"),
        (axes[2], "us", "reading every process's state", "µs per read (log)"),
    ):
        picked = [r for r in rows if r["unit"] == unit]
        if not picked:
            continue
        labels = [r["variant"].replace(": ", ":\n") for r in picked]
        colours = [COLOURS["hurtle"] if "hurtle" in r["variant"] else COLOURS["sanic"]
                   for r in picked]  # fmt: skip
        ax.barh(labels, [r["median"] for r in picked], color=colours, log=True)
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
        ax.set_title(title)
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(axis="y", labelsize=7)
    fig.suptitle(f"hurtle-worker-manager  ({subtitle(doc)})", fontsize=10)
    save(fig, out / "wm_bench.svg")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "assets" / "performance")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    found = 0
    for name, render in (
        ("http_bench.json", http_chart),
        ("app_bench.json", app_charts),
        ("wm_bench.json", wm_chart),
    ):
        path = args.results / name
        if not path.exists():
            print(f"skipping {name}: not in {args.results}", file=sys.stderr)
            continue
        render(json.loads(path.read_text()), args.out)
        found += 1
    if not found:
        print("charts: no results to render", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
