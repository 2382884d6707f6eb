"""The summary: medians and ratios per (scenario, server), the table, the JSON file."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from httpbench.model import CEILING, SANIC, Plan, Results, Sample


@dataclass(frozen=True)
class Row:
    """The summary of one (server, scenario) cell over all rounds."""

    scenario: str
    server: str
    runs: int
    rps: float
    rps_min: float
    rps_max: float
    p99_ms: float
    errors: int
    cpu_share: float
    per_cpu_s: float
    vs_ceiling: float | None
    vs_sanic: float | None


def ratio(value: float, reference: float | None) -> float | None:
    """value / reference, or None when there is no reference to compare with."""
    return value / reference if reference else None


def summarise(plan: Plan, results: Results) -> list[Row]:
    """Medians (req/s, p99), totals (errors) and ratios, by scenario then server."""
    rows = []
    for scenario in plan.scenarios:
        median_rps = {
            server.name: statistics.median(s.rps for s in samples)
            for server in plan.servers
            if (samples := results.samples.get((server.name, scenario.name)))
        }
        for server in plan.servers:
            samples = results.samples.get((server.name, scenario.name))
            if not samples:
                continue
            rps = median_rps[server.name]
            rows.append(
                Row(
                    scenario=scenario.name,
                    server=server.name,
                    runs=len(samples),
                    rps=rps,
                    rps_min=min(s.rps for s in samples),
                    rps_max=max(s.rps for s in samples),
                    p99_ms=statistics.median(s.p99_ms for s in samples),
                    errors=sum(s.errors for s in samples),
                    cpu_share=statistics.median(s.cpu_share for s in samples),
                    per_cpu_s=statistics.median(s.per_cpu_s for s in samples),
                    vs_ceiling=ratio(rps, median_rps.get(CEILING)),
                    vs_sanic=ratio(rps, median_rps.get(SANIC)),
                )
            )
    return rows


def format_ratio(value: float | None) -> str:
    """0.83x, or a dash when there is nothing to compare with."""
    return "-" if value is None else f"{value:.2f}x"


def format_table(rows: Sequence[Row]) -> str:
    """One aligned text table, a blank line between scenarios."""
    header = (
        "scenario", "server", "req/s", "range", "p99 ms", "errors",
        "cpu", "req/cpu-s", "vs ceiling", "vs sanic",
    )  # fmt: skip
    cells = [
        (
            row.scenario,
            row.server,
            f"{row.rps:,.0f}",
            f"±{(row.rps_max - row.rps_min) / 2 / row.rps:.0%}" if row.rps else "-",
            f"{row.p99_ms:.2f}",
            str(row.errors),
            f"{row.cpu_share:.0%}",
            f"{row.per_cpu_s:,.0f}",
            format_ratio(row.vs_ceiling),
            format_ratio(row.vs_sanic),
        )
        for row in rows
    ]
    breaks = [i for i in range(1, len(rows)) if rows[i].scenario != rows[i - 1].scenario]
    return text_table(header, cells, breaks=breaks)


def text_table(
    header: Sequence[str],
    cells: Sequence[Sequence[str]],
    *,
    left: int = 2,
    breaks: Sequence[int] = (),
) -> str:
    """One aligned text table: the first `left` columns flush left, the others flush right.

    A blank line goes before each row whose index is in `breaks` (to separate groups).
    """
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]

    def line(values: Sequence[str]) -> str:
        head = [v.ljust(w) for v, w in zip(values[:left], widths[:left], strict=True)]
        tail = [v.rjust(w) for v, w in zip(values[left:], widths[left:], strict=True)]
        return "  ".join(head + tail).rstrip()

    out = [line(header), line(["-" * w for w in widths])]
    for index, values in enumerate(cells):
        if index in breaks:
            out.append("")
        out.append(line(values))
    return "\n".join(out)


DISTRIBUTIONS = ("hurtle-http", "sanic", "uvicorn", "granian", "httptools", "uvloop")


def versions(distributions: Sequence[str] = DISTRIBUTIONS) -> dict[str, str]:
    """Versions of Python and of the packages that shape the numbers."""
    found = {"python": platform.python_version()}
    for dist in distributions:
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[dist] = "not installed"
    return found


def header(plan: Plan, load_before: float, load_after: float) -> str:
    """The conditions of the run, printed above the table."""
    names = ", ".join(f"{k} {v}" for k, v in versions().items())
    return (
        f"{plan.rounds} round(s) x {plan.duration} s per scenario (after {plan.warmup} s warm-up), "
        f"{plan.connections} connections; servers on CPU {plan.server_cpu}, "
        f"wrk (1 thread) on CPU {plan.client_cpu}\n{names}\n"
        f"load average (1 min) before {load_before:.2f}, after {load_after:.2f} "
        f"on {os.cpu_count()} CPUs: anything above ~1 means other work shared the machine.\n"
        "req/s, p99, cpu (the server's CPU share), req/cpu-s: medians over the rounds; "
        "range: half the max-min spread of req/s."
    )


def sample_json(sample: Sample) -> dict[str, float]:
    """A sample's fields and derived figures, for the JSON file."""
    derived = {"rps": sample.rps, "cpu_share": sample.cpu_share, "per_cpu_s": sample.per_cpu_s}
    return {**asdict(sample), **derived}


def save_json(
    path: Path,
    plan: Plan,
    results: Results,
    rows: Sequence[Row],
    load: tuple[float, float] | None = None,
) -> None:
    """Write the plan, the versions, every sample and the summary rows as JSON."""
    document = {
        "benchmark": "http_bench",
        **({"load_average": {"before": load[0], "after": load[1]}} if load else {}),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "plan": {
            "servers": [s.name for s in plan.servers],
            "scenarios": [s.name for s in plan.scenarios],
            **{k: v for k, v in asdict(plan).items() if k not in ("servers", "scenarios")},
        },
        "versions": versions(),
        "samples": {
            f"{server}/{scenario}": [sample_json(s) for s in samples]
            for (server, scenario), samples in results.samples.items()
        },
        "summary": [asdict(row) for row in rows],
        "failures": results.failures,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
