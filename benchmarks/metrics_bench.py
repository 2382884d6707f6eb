"""How long one /metrics scrape takes to render, Hurtle's renderer vs prometheus_client.

Usage (from the repo root, in an environment with both installed, e.g. the meta test env):
``python benchmarks/metrics_bench.py [--processes 64] [--rounds 2000] [--live 64]``.
``--live N`` also times ``GET /metrics`` on a real app with N fork workers.

Both produce the same families from the same 64-process stats answer: Hurtle's renderer
(``hurtle_inspector.metrics.render_metrics``) and a prometheus_client custom collector fed
the same numbers, rendered by ``generate_latest`` on a private registry. Also prints the
import time each adds to an inspector process (which already imports hurtle_inspector).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))

from httpbench.report import text_table

from hurtle_http import RequestStats
from hurtle_inspector.metrics import render_metrics
from hurtle_worker_manager.messages import ProcessEntry, ProcessStats, StatsResult


def fixture(count: int) -> tuple[StatsResult, dict[str, ProcessEntry]]:
    now = datetime.now(timezone.utc)
    rows, entries = [], {}
    for index in range(count):
        name = f"Hurtle-Server-{index}-0"
        stats = RequestStats(served=index * 1000, in_flight=index % 4, connections=3)
        rows.append(
            ProcessStats(
                name=name, pid=1000 + index, state="ACKED", generation=3, starts=3,
                uptime=12.5, rss=60_000_000 + index, cpu_seconds=3.25,
                reports={"http": msgspec.Raw(msgspec.msgpack.encode(stats))},
                heartbeat_age=0.4,
            )
        )  # fmt: skip
        entries[name] = ProcessEntry(
            server=True, state="ACKED", pid=1000 + index, start_at=now, starts=3,
            restarts={"recycle": 1, "exit": 1},
        )  # fmt: skip
    return StatsResult(processes=rows), entries


def ours(stats: StatsResult, entries: dict[str, ProcessEntry]) -> Callable[[], bytes]:
    def render() -> bytes:
        return render_metrics(stats, entries, totals={"http": {"served": 5.0}}, phase="ready")

    return render


def theirs(stats: StatsResult, entries: dict[str, ProcessEntry]) -> Callable[[], bytes]:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

    decode = msgspec.msgpack.Decoder(RequestStats).decode

    class Collector:
        def collect(self) -> Iterator[Metric]:
            requests = CounterMetricFamily("hurtle_process_requests", "r", labels=["process"])
            flight = GaugeMetricFamily("hurtle_process_requests_in_flight", "f", labels=["process"])
            conns = GaugeMetricFamily("hurtle_process_connections", "c", labels=["process"])
            rss = GaugeMetricFamily("hurtle_process_resident_memory_bytes", "m", labels=["process"])
            cpu = CounterMetricFamily("hurtle_process_cpu_seconds", "c", labels=["process"])
            up = GaugeMetricFamily("hurtle_process_uptime_seconds", "u", labels=["process"])
            beat = GaugeMetricFamily(
                "hurtle_process_heartbeat_age_seconds", "b", labels=["process"]
            )
            starts = CounterMetricFamily("hurtle_process_starts", "s", labels=["process"])
            restarts = CounterMetricFamily(
                "hurtle_process_restarts", "r", labels=["process", "reason"]
            )
            workers = GaugeMetricFamily("hurtle_workers", "w", labels=["state"])
            total = 5
            for row in stats.processes:
                http = decode(row.reports["http"])
                total += http.served
                requests.add_metric([row.name], http.served)
                flight.add_metric([row.name], http.in_flight)
                conns.add_metric([row.name], http.connections)
                rss.add_metric([row.name], row.rss or 0)
                cpu.add_metric([row.name], row.cpu_seconds or 0)
                up.add_metric([row.name], row.uptime)
                beat.add_metric([row.name], row.heartbeat_age or 0)
            for name, entry in entries.items():
                starts.add_metric([name], entry.starts)
                for reason, count in entry.restarts.items():
                    restarts.add_metric([name, reason], count)
            workers.add_metric(["ACKED"], len(entries))
            yield CounterMetricFamily("hurtle_requests", "t", value=total)
            yield from (requests, flight, conns, rss, cpu, up, beat, starts, restarts, workers)

    registry = CollectorRegistry()
    registry.register(Collector())  # type: ignore[arg-type]

    def render() -> bytes:
        return generate_latest(registry)

    return render


def timing(render: Callable[[], bytes], rounds: int) -> tuple[float, float, int]:
    size = len(render())
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        render()
        samples.append(time.perf_counter() - start)
    samples.sort()
    return statistics.median(samples) * 1e3, samples[int(len(samples) * 0.99)] * 1e3, size


def import_cost(module: str, preloaded: str) -> float:
    """Milliseconds ``import module`` adds to a process that already imported ``preloaded``."""
    code = (
        f"import time, {preloaded}; t = time.perf_counter(); import {module}; "
        "print(time.perf_counter() - t)"
    )
    runs = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout)
        for _ in range(5)
    ]  # fmt: skip
    return statistics.median(runs) * 1e3


def proc_reads(count: int, rounds: int) -> tuple[float, float]:
    """Median and p99 ms to read RSS and CPU time of ``count`` live processes from /proc
    (what the manager does for each scrape's stats answer)."""
    from hurtle_worker_manager import _platform

    children = [subprocess.Popen(["sleep", "60"]) for _ in range(count)]
    try:
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            for child in children:
                _platform.rss_bytes(child.pid)
                _platform.cpu_seconds(child.pid)
            samples.append(time.perf_counter() - start)
    finally:
        for child in children:
            child.kill()
            child.wait()
    samples.sort()
    return statistics.median(samples) * 1e3, samples[int(len(samples) * 0.99)] * 1e3


def live(workers: int, rounds: int) -> tuple[float, float, int]:
    """Median and p99 ms of ``GET /metrics`` on a real app with ``workers`` fork workers."""
    import http.client
    import re
    import signal
    import tempfile

    script = Path(__file__).resolve().parent / "servers" / "metrics_app.py"
    log = tempfile.NamedTemporaryFile("w+", suffix=".log")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, str(script), str(workers)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        port = 0
        deadline = time.monotonic() + 120
        while not port:
            found = re.search(
                r"Inspector listening on http://127\.0\.0\.1:(\d+)", Path(log.name).read_text()
            )
            if found:
                port = int(found.group(1))
            elif time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit("the app did not start:\n" + Path(log.name).read_text()[-2000:])
            else:
                time.sleep(0.2)

        def scrape() -> bytes:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                conn.request("GET", "/metrics")
                return conn.getresponse().read()
            finally:
                conn.close()

        deadline = time.monotonic() + 300
        acked = f'hurtle_workers{{state="ACKED"}} {workers}'.encode()
        while acked not in scrape():
            if time.monotonic() > deadline:
                raise SystemExit(f"{workers} workers did not start within 300 s")
            time.sleep(0.5)
        samples = []
        for _ in range(rounds):
            start = time.perf_counter()
            size = len(scrape())
            samples.append(time.perf_counter() - start)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(120)
        log.close()
    samples.sort()
    return statistics.median(samples) * 1e3, samples[int(len(samples) * 0.99)] * 1e3, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument(
        "--live", type=int, default=0, help="also scrape a real app with N fork workers"
    )
    options = parser.parse_args()
    stats, entries = fixture(options.processes)
    rows = []
    for label, factory, module in (
        ("hurtle renderer", ours, "hurtle_inspector.metrics"),
        ("prometheus_client", theirs, "prometheus_client"),
    ):
        median, p99, size = timing(factory(stats, entries), options.rounds)
        cost = import_cost(module, "hurtle_inspector")
        rows.append([label, f"{median:.3f}", f"{p99:.3f}", str(size), f"{cost:.1f}"])
    print(f"/metrics render, {options.processes} processes, {options.rounds} rounds")
    header = ["renderer", "median ms", "p99 ms", "bytes", "added import ms"]
    print(text_table(header, rows, left=1))
    median, p99 = proc_reads(options.processes, min(options.rounds, 500))
    print(
        f"\n/proc reads (RSS + CPU) of {options.processes} live processes: "
        f"median {median:.3f} ms, p99 {p99:.3f} ms"
    )
    if options.live:
        median, p99, size = live(options.live, 200)
        print(
            f"GET /metrics on a live app with {options.live} workers (200 scrapes, "
            f"{size} bytes): median {median:.3f} ms, p99 {p99:.3f} ms"
        )


if __name__ == "__main__":
    main()
