"""Compare Hurtle with Sanic and uvicorn as multi-process apps: throughput, restarts, start-up.

Every server runs 2 worker processes on 127.0.0.1 (a free port), in its own process group,
and is stopped by its pid after each run (leftover processes are reported and killed). Three
measurements, one table each:

1. throughput: wrk on `GET /` (a JSON hello), interleaved rounds, medians;
2. a restart of every worker under load (Hurtle: SIGHUP, zero downtime; Sanic:
   `app.m.restart(all_workers=True, zero_downtime=True)` from a route; uvicorn: SIGHUP),
   counted request by request by a Python client: what was lost, and how long until the
   workers were replaced;
3. the time from the process start to the first 200, over every start of 1 and 2.

Run it in the bench environment (which installs the peers):

    python3 -m hatch run bench:python benchmarks/app_bench.py --duration 5 --rounds 3

See benchmarks/README.md for the options and how to read the tables.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from appbench.client import CLOSED_NEW, CLOSED_REUSED, OK, Load, finish, start_load
from appbench.processes import Proc, ServerProcess, alive, running, wait_workers
from httpbench.model import SCENARIOS, BenchError, Sample, Scenario, ServerFailed
from httpbench.processes import cpu_seconds, request, verify
from httpbench.report import text_table, versions
from httpbench.wrk import ensure_wrk, run_wrk

WORKERS = 2
HELLO = SCENARIOS["hello"]
SANIC_RESTART = Scenario("restart", "GET", "/restart")
BEFORE_TRIGGER = 1.0  # seconds of load before the restart is triggered
AFTER_REPLACED = 1.0  # seconds of load after the workers were replaced
REQUEST_TIMEOUT = 5.0  # the restart client's timeout per connect and per answer
DISTRIBUTIONS = (
    "hurtle", "hurtle-http", "hurtle-worker-manager", "sanic", "uvicorn", "httptools", "uvloop",
)  # fmt: skip
MEASUREMENTS = ("throughput", "restart", "startup")


@dataclass(frozen=True)
class AppServer:
    """A multi-process server under test, and how its workers are restarted."""

    name: str
    script: str
    restart: str  # "sighup" or "route"
    how: str  # for the table's notes


SERVERS = {
    s.name: s
    for s in (
        AppServer(
            "hurtle",
            "hurtle_workers_app.py",
            "sighup",
            "Hurtle.run(workers=2); restart: SIGHUP to the main process (zero downtime)",
        ),
        AppServer(
            "sanic",
            "sanic_workers_app.py",
            "route",
            "Sanic app.run(workers=2); restart: GET /restart calls "
            "app.m.restart(all_workers=True, zero_downtime=True)",
        ),
        AppServer(
            "uvicorn",
            "uvicorn_workers_app.py",
            "sighup",
            "uvicorn --workers 2 (httptools, uvloop, raw ASGI); restart: SIGHUP to the main "
            "process (each new worker started before its old one stops)",
        ),
    )
}


@dataclass(frozen=True)
class Plan:
    """What to run, how long and where."""

    servers: list[AppServer]
    measurements: list[str]
    rounds: int
    duration: int
    warmup: int
    connections: int
    restarts: int
    restart_connections: int
    restart_timeout: float
    client_cpu: int


@dataclass(frozen=True)
class RestartSample:
    """One restart under load: the client's counts and when the workers were replaced."""

    load: Load
    old_exited_s: float | None  # trigger -> every old worker exited
    new_serving_s: float | None  # trigger -> the last of the new workers first answered
    workers_after: int

    @property
    def replaced_s(self) -> float | None:
        """Trigger -> old workers gone and as many new ones answering."""
        if self.old_exited_s is None or self.new_serving_s is None:
            return None
        return max(self.old_exited_s, self.new_serving_s)


@dataclass
class Results:
    """Every sample by server, and the servers that failed, with why."""

    throughput: dict[str, list[tuple[Sample, float]]] = field(default_factory=dict)
    restarts: dict[str, list[RestartSample]] = field(default_factory=dict)
    startups: dict[str, list[float]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


def tree_cpu(server: ServerProcess) -> dict[int, float]:
    """CPU seconds used so far by every live process of the server's group."""
    found = {}
    for pid in server.group():
        try:
            found[pid] = cpu_seconds(pid)
        except OSError:
            continue
    return found


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two readings (processes present in both)."""
    return sum(after[pid] - before[pid] for pid in before.keys() & after.keys())


def bench_throughput(app: AppServer, plan: Plan, results: Results) -> None:
    """Start, wait for both workers, verify, warm up, measure `GET /` with wrk, stop."""
    with running(app.name, app.script, WORKERS) as server:
        results.startups.setdefault(app.name, []).append(server.first_200_s)
        wait_workers(server, WORKERS)
        verify(server.port, [HELLO])
        if plan.warmup:
            run_wrk(server.port, HELLO, plan.warmup, plan.connections, plan.client_cpu)
        before = tree_cpu(server)
        sample = run_wrk(server.port, HELLO, plan.duration, plan.connections, plan.client_cpu)
        cpu = cpu_used(before, tree_cpu(server))
    results.throughput.setdefault(app.name, []).append((sample, cpu))
    print(
        f"  throughput {app.name:<8} {sample.rps:>9,.0f} req/s  p99 {sample.p99_ms:7.2f} ms"
        f"  errors {sample.errors}  server cpu {cpu / sample.seconds:4.0%}"
        f"  (first 200 after {server.first_200_s:.2f} s)",
        file=sys.stderr,
    )


async def trigger(app: AppServer, server: ServerProcess) -> None:
    """Ask the server to restart every worker, its own way."""
    if app.restart == "sighup":
        os.kill(server.pid, signal.SIGHUP)
        return
    status, body = await asyncio.to_thread(request, server.port, SANIC_RESTART)
    if status != 200:
        raise ServerFailed(f"GET /restart answered {status}: {body[:200]!r}")


async def restart_under_load(
    app: AppServer, server: ServerProcess, old: dict[int, Proc], plan: Plan
) -> RestartSample:
    """Load, trigger the restart, poll until the workers are replaced, load a little more."""
    load = Load()
    tasks = start_load(server.port, load, plan.restart_connections, REQUEST_TIMEOUT)
    try:
        await asyncio.sleep(BEFORE_TRIGGER)
        triggered = time.monotonic()
        await trigger(app, server)
        old_exited: float | None = None
        new_serving: float | None = None
        polls = 0
        while time.monotonic() < triggered + plan.restart_timeout:
            now = time.monotonic()
            if old_exited is None and not any(alive(p) for p in old.values()):
                old_exited = now - triggered
            if new_serving is None:
                new = sorted(t for pid, t in load.first_answer.items() if pid not in old)
                if len(new) >= len(old):
                    new_serving = new[len(old) - 1] - triggered
            if old_exited is not None and new_serving is not None:
                break
            polls += 1
            if polls % 10 == 0:
                server.group()  # remember the new processes for the leftover check
            await asyncio.sleep(0.01)
        await asyncio.sleep(AFTER_REPLACED)
    finally:
        await finish(tasks, load, REQUEST_TIMEOUT)
    return RestartSample(load, old_exited, new_serving, len(server.workers()))


@contextmanager
def pinned(cpu: int) -> Iterator[None]:
    """Run this process on `cpu` only, meanwhile (processes it starts would inherit it)."""
    allowed = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, allowed)


def bench_restart(app: AppServer, plan: Plan, results: Results) -> None:
    """Start, wait for both workers, restart them all under load, stop."""
    with running(app.name, app.script, WORKERS) as server:
        results.startups.setdefault(app.name, []).append(server.first_200_s)
        old = wait_workers(server, WORKERS)
        with pinned(plan.client_cpu):  # the client, like wrk; the server started unpinned
            sample = asyncio.run(restart_under_load(app, server, old, plan))
    results.restarts.setdefault(app.name, []).append(sample)
    load = sample.load
    failures = ", ".join(f"{k} {n}" for k, n in sorted(load.outcomes.items()) if k != OK)
    print(
        f"  restart    {app.name:<8} {load.total:>7,} requests, {load.failed} failed"
        f"{' (' + failures + ')' if failures else ''}; old workers exited after "
        f"{seconds(sample.old_exited_s)}, new ones answering after "
        f"{seconds(sample.new_serving_s)}; {sample.workers_after} workers after",
        file=sys.stderr,
    )


def seconds(value: float | None) -> str:
    """`1.23 s`, or a note that it did not happen within the run."""
    return "never" if value is None else f"{value:.2f} s"


def run_plan(plan: Plan, results: Results) -> None:
    """Throughput rounds, then restart runs, each interleaved over the servers."""
    jobs = []
    if "throughput" in plan.measurements or "startup" in plan.measurements:
        jobs += [("throughput", bench_throughput, i) for i in range(plan.rounds)]
    if "restart" in plan.measurements:
        jobs += [("restart", bench_restart, i) for i in range(plan.restarts)]
    for kind, bench, index in jobs:
        shift = index % len(plan.servers)
        order = plan.servers[shift:] + plan.servers[:shift]
        print(f"{kind} {index + 1}: {', '.join(s.name for s in order)}", file=sys.stderr)
        for app in order:
            if app.name in results.failures:
                continue
            try:
                bench(app, plan, results)
            except ServerFailed as exc:
                results.failures[app.name] = f"{kind}: {exc}"
                print(f"  {app.name} FAILED: {exc}", file=sys.stderr)


def throughput_table(plan: Plan, results: Results) -> str:
    """req/s, its range, p99, errors and the server's CPU, medians over the rounds."""
    rps = {
        name: statistics.median(s.rps for s, _ in samples)
        for name, samples in results.throughput.items()
    }
    cells = []
    for app in plan.servers:
        samples = results.throughput.get(app.name)
        if not samples:
            continue
        rates = [s.rps for s, _ in samples]
        median = rps[app.name]
        sanic = rps.get("sanic")
        cells.append(
            (
                app.name,
                str(len(samples)),
                f"{median:,.0f}",
                f"±{(max(rates) - min(rates)) / 2 / median:.0%}" if median else "-",
                f"{statistics.median(s.p99_ms for s, _ in samples):.2f}",
                " ".join(str(s.errors) for s, _ in samples),
                f"{statistics.median(cpu / s.seconds for s, cpu in samples):.0%}",
                f"{median / sanic:.2f}x" if sanic else "-",
            )
        )
    header = ("server", "runs", "req/s", "range", "p99 ms", "errors", "cpu", "vs sanic")
    return text_table(header, cells)


def restart_table(plan: Plan, results: Results) -> str:
    """Per server, over the runs: what the client saw, and how long the replacement took."""
    cells = []
    for app in plan.servers:
        samples = results.restarts.get(app.name)
        if not samples:
            continue
        total = Load()
        for sample in samples:
            total.outcomes.update(sample.load.outcomes)
        outcomes = total.outcomes
        timeouts = outcomes["timeout"] + outcomes["connect timeout"]
        replaced = [s.replaced_s for s in samples]
        done = [r for r in replaced if r is not None]
        cells.append(
            (
                app.name,
                str(len(samples)),
                f"{total.total:,}",
                str(total.failed),
                str(total.non_2xx()),
                str(outcomes["refused"]),
                str(outcomes[CLOSED_REUSED]),
                str(outcomes[CLOSED_NEW]),
                str(timeouts),
                f"{statistics.median(s.load.longest_gap for s in samples) * 1000:.0f}",
                f"{statistics.median(done):.2f}" if done else "-",
                " ".join("-" if r is None else f"{r:.2f}" for r in replaced),
                " ".join(str(s.workers_after) for s in samples),
            )
        )
    header = (
        "server", "runs", "requests", "failed", "non-2xx", "refused", "closed reused",
        "closed new", "timeouts", "gap ms", "replaced s", "each run s", "workers after",
    )  # fmt: skip
    return text_table(header, cells)


def startup_table(plan: Plan, results: Results) -> str:
    """Process start to first 200: median, min, max over every start."""
    cells = []
    for app in plan.servers:
        times = results.startups.get(app.name)
        if not times:
            continue
        cells.append(
            (
                app.name,
                str(len(times)),
                f"{statistics.median(times):.3f}",
                f"{min(times):.3f}",
                f"{max(times):.3f}",
            )
        )
    return text_table(("server", "starts", "median s", "min s", "max s"), cells)


def header(plan: Plan, load_before: float, load_after: float) -> str:
    """The conditions of the run, printed above the tables."""
    names = ", ".join(f"{k} {v}" for k, v in versions(DISTRIBUTIONS).items())
    return (
        f"{WORKERS} workers per server, servers on any CPU, wrk (1 thread) and the restart "
        f"client on CPU {plan.client_cpu}: the client shares the machine with the workers.\n"
        f"{names}\n"
        f"load average (1 min) before {load_before:.2f}, after {load_after:.2f} on "
        f"{os.cpu_count()} CPUs. Short runs on a machine shared with other jobs: compare "
        "servers within this run, and mistrust differences smaller than the ranges."
    )


def report(plan: Plan, results: Results, load_before: float) -> None:
    """Print the header and one table per measurement."""
    print(header(plan, load_before, os.getloadavg()[0]))
    for app in plan.servers:
        print(f"  {app.name}: {app.how}")
    if results.throughput and "throughput" in plan.measurements:
        print(
            f"\n1. Throughput, GET / ({plan.rounds} round(s) x {plan.duration} s after "
            f"{plan.warmup} s warm-up, wrk -t1 -c{plan.connections}; medians; errors per run;"
            " cpu: the server's processes, of 100% per CPU)\n"
        )
        print(throughput_table(plan, results))
    if results.restarts:
        print(
            f"\n2. Restart of every worker under load ({plan.restart_connections} keep-alive "
            f"connections + 1 fresh connection every 20 ms, GET /pid; {BEFORE_TRIGGER:.0f} s "
            f"before the trigger, {AFTER_REPLACED:.0f} s after the replacement; counts summed "
            "over the runs; gap: median longest time without any 200; replaced: trigger -> old "
            "workers exited and as many new ones answered, median)\n"
        )
        print(restart_table(plan, results))
    if results.startups and "startup" in plan.measurements:
        print("\n3. Process start -> first 200 on GET / (every start of the runs above)\n")
        print(startup_table(plan, results))
    for name, reason in results.failures.items():
        print(f"\n{name} failed: {reason}")


def machine() -> dict[str, object]:
    """Where the run happened: CPU model and count, kernel, Python."""
    model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if "model name" in ln), "")
    except OSError:
        pass
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def save_json(
    path: Path, plan: Plan, results: Results, load: tuple[float, float], command: str
) -> None:
    """Write the plan, the machine, every sample and the failures as JSON (for the charts)."""
    document = {
        "benchmark": "app_bench",
        "command": command,
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "machine": machine(),
        "load_average": {"before": load[0], "after": load[1]},
        "versions": versions(DISTRIBUTIONS),
        "plan": {
            **{k: v for k, v in asdict(plan).items() if k != "servers"},
            "servers": [app.name for app in plan.servers],
            "workers": WORKERS,
        },
        "servers": {app.name: app.how for app in plan.servers},
        "throughput": {
            name: [
                {
                    "rps": s.rps,
                    "p50_ms": s.p50_ms,
                    "p99_ms": s.p99_ms,
                    "errors": s.errors,
                    "seconds": s.seconds,
                    "server_cpu_s": cpu,
                }
                for s, cpu in samples
            ]
            for name, samples in results.throughput.items()
        },
        "restarts": {
            name: [
                {
                    "requests": r.load.total,
                    "failed": r.load.failed,
                    "outcomes": dict(r.load.outcomes),
                    "longest_gap_s": r.load.longest_gap,
                    "old_exited_s": r.old_exited_s,
                    "new_serving_s": r.new_serving_s,
                    "replaced_s": r.replaced_s,
                    "workers_after": r.workers_after,
                }
                for r in samples
            ]
            for name, samples in results.restarts.items()
        },
        "startups_s": results.startups,
        "failures": results.failures,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run (5)")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of wrk warm-up (1)")
    parser.add_argument("--rounds", type=int, default=3, help="throughput rounds (3)")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections (50)")
    parser.add_argument("--restarts", type=int, default=3, help="restart runs per server (3)")
    parser.add_argument(
        "--restart-connections", type=int, default=16, help="restart client connections (16)"
    )
    parser.add_argument(
        "--restart-timeout", type=float, default=30.0, help="max seconds per restart (30)"
    )
    parser.add_argument("--servers", nargs="+", choices=list(SERVERS), default=list(SERVERS))
    parser.add_argument("--only", nargs="+", choices=MEASUREMENTS, default=list(MEASUREMENTS))
    parser.add_argument("--client-cpu", type=int, default=1, help="CPU for wrk (1)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also save the results here")
    args = parser.parse_args(argv)
    for option in ("duration", "rounds", "connections", "restarts", "restart_connections"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must be 0 or more")
    if args.client_cpu not in os.sched_getaffinity(0):
        parser.error(f"--client-cpu {args.client_cpu} is not available here")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 on success, 1 if a server failed, 2 on setup errors, 130 if stopped."""
    args = parse_args(argv)
    try:
        ensure_wrk()
    except BenchError as exc:
        print(f"app_bench: {exc}", file=sys.stderr)
        return 2
    plan = Plan(
        servers=[SERVERS[name] for name in dict.fromkeys(args.servers)],
        measurements=list(dict.fromkeys(args.only)),
        rounds=args.rounds,
        duration=args.duration,
        warmup=args.warmup,
        connections=args.connections,
        restarts=args.restarts,
        restart_connections=args.restart_connections,
        restart_timeout=args.restart_timeout,
        client_cpu=args.client_cpu,
    )
    # SIGTERM as Ctrl-C: the running server is stopped on the way out.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    results = Results()
    load_before = os.getloadavg()[0]
    interrupted = False
    try:
        run_plan(plan, results)
    except KeyboardInterrupt:
        interrupted = True
        print("interrupted: the tables show the runs completed so far.", file=sys.stderr)
    report(plan, results, load_before)
    if args.json:
        command = "benchmarks/app_bench.py " + " ".join(argv if argv is not None else sys.argv[1:])
        save_json(args.json, plan, results, (load_before, os.getloadavg()[0]), command.strip())
        print(f"\nsaved {args.json}")
    if interrupted:
        return 130
    return 1 if results.failures else 0


if __name__ == "__main__":
    sys.exit(main())
