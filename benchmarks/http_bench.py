"""Compare hurtle-http with Sanic, uvicorn, granian and a uvloop + httptools ceiling, with wrk.

Each server runs as a subprocess on 127.0.0.1 (a free port), pinned to one CPU; wrk runs
pinned to another. Rounds are interleaved (every round runs every server, in a rotating
order) so that drift on a shared machine hits all servers alike. Each server process is
started fresh every round, checked for correct answers, warmed up, measured on every
scenario, then stopped by its pid. Medians over the rounds are printed as one table.

Run it in the bench environment (which installs the peers):

    python3 -m hatch run bench:python benchmarks/http_bench.py --duration 3 --rounds 1

See benchmarks/README.md for the options and how to read the table.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import shutil
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from types import FrameType

from httpbench.model import (
    HURTLE,
    HURTLE_API,
    SCENARIOS,
    SERVERS,
    BenchError,
    Plan,
    Results,
    Sample,
    Scenario,
    Server,
    ServerFailed,
)
from httpbench.processes import running, tree_cpu_seconds, verify
from httpbench.report import format_table, header, save_json, summarise
from httpbench.wrk import ensure_wrk, run_wrk


def check_cpus(server_cpu: int, client_cpu: int) -> None:
    """Raise unless taskset exists and both CPUs are distinct and available to us."""
    if shutil.which("taskset") is None:
        raise BenchError("taskset is missing: install util-linux (it pins the processes).")
    available = os.sched_getaffinity(0)
    if server_cpu == client_cpu:
        raise BenchError("--server-cpu and --client-cpu must differ: wrk would steal server CPU.")
    for cpu in (server_cpu, client_cpu):
        if cpu not in available:
            raise BenchError(f"CPU {cpu} is not available here (usable: {sorted(available)}).")


def hurtle_problem() -> str | None:
    """Why hurtle-http cannot be benchmarked yet, or None when it can."""
    try:
        module = importlib.import_module("hurtle_http")
    except Exception as exc:  # a package under construction may fail in any way on import
        return f"hurtle_http is not importable ({type(exc).__name__}: {exc})"
    missing = [name for name in HURTLE_API if not hasattr(module, name)]
    if missing:
        return f"hurtle_http does not provide {', '.join(missing)} yet"
    return None


def select_servers(names: Sequence[str]) -> list[Server]:
    """The chosen servers, without hurtle (and saying so) when it is not ready."""
    chosen = [SERVERS[name] for name in names]
    if HURTLE in names:
        problem = hurtle_problem()
        if problem:
            others = ", ".join(s.name for s in chosen if s.name != HURTLE) or "nothing"
            print(f"note: {problem}: skipping hurtle, benching {others}.", file=sys.stderr)
            chosen = [s for s in chosen if s.name != HURTLE]
    return chosen


def measure(pid: int, port: int, scenario: Scenario, plan: Plan) -> Sample:
    """One measured wrk run, with the server's CPU time over it."""
    before = tree_cpu_seconds(pid)
    sample = run_wrk(port, scenario, plan.duration, plan.connections, plan.client_cpu)
    return replace(sample, server_cpu_s=tree_cpu_seconds(pid) - before)


def bench_server(server: Server, plan: Plan, results: Results) -> None:
    """One round for one server: start, verify, warm up, measure each scenario, stop."""
    with running(server, plan.server_cpu) as (port, pid):
        verify(port, plan.scenarios)
        if plan.warmup:
            for scenario in plan.scenarios:
                run_wrk(port, scenario, plan.warmup, plan.connections, plan.client_cpu)
        for scenario in plan.scenarios:
            sample = measure(pid, port, scenario, plan)
            results.add(server.name, scenario.name, sample)
            print(
                f"  {server.name:<8} {scenario.name:<6} {sample.rps:>10,.0f} req/s"
                f"  p99 {sample.p99_ms:7.2f} ms  errors {sample.errors}"
                f"  server cpu {sample.cpu_share:4.0%}",
                file=sys.stderr,
            )


def run_rounds(plan: Plan, results: Results) -> None:
    """Interleave: every round runs every server once, starting one further along the list."""
    for index in range(plan.rounds):
        shift = index % len(plan.servers)
        order = plan.servers[shift:] + plan.servers[:shift]
        print(
            f"round {index + 1}/{plan.rounds}: {', '.join(s.name for s in order)}", file=sys.stderr
        )
        for server in order:
            if server.name in results.failures:
                continue
            try:
                bench_server(server, plan, results)
            except ServerFailed as exc:
                results.failures[server.name] = str(exc)
                print(f"  {server.name} FAILED: {exc}", file=sys.stderr)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run (10)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per scenario (2)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument("--connections", type=int, default=50, help="wrk connections (50)")
    parser.add_argument("--servers", nargs="+", choices=list(SERVERS), default=list(SERVERS))
    parser.add_argument("--scenarios", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument("--server-cpu", type=int, default=0, help="CPU for the servers (0)")
    parser.add_argument("--client-cpu", type=int, default=1, help="CPU for wrk (1)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also save the results here")
    args = parser.parse_args(argv)
    for option in ("duration", "rounds", "connections"):
        if getattr(args, option) < 1:
            parser.error(f"--{option} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must be 0 or more")
    return args


def raise_interrupt(signum: int, frame: FrameType | None) -> None:
    """Turn SIGTERM into KeyboardInterrupt, so the running server is stopped on the way out."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 on success, 1 if a server failed, 2 on setup errors, 130 if stopped."""
    args = parse_args(argv)
    try:
        ensure_wrk()
        check_cpus(args.server_cpu, args.client_cpu)
    except BenchError as exc:
        print(f"http_bench: {exc}", file=sys.stderr)
        return 2
    servers = select_servers(list(dict.fromkeys(args.servers)))
    if not servers:
        print("http_bench: no server left to benchmark.", file=sys.stderr)
        return 2
    plan = Plan(
        servers=servers,
        scenarios=[SCENARIOS[name] for name in dict.fromkeys(args.scenarios)],
        rounds=args.rounds,
        duration=args.duration,
        warmup=args.warmup,
        connections=args.connections,
        server_cpu=args.server_cpu,
        client_cpu=args.client_cpu,
    )
    signal.signal(signal.SIGTERM, raise_interrupt)
    results = Results()
    load_before = os.getloadavg()[0]
    interrupted = False
    try:
        run_rounds(plan, results)
    except KeyboardInterrupt:
        interrupted = True
        print("interrupted: the table shows the runs completed so far.", file=sys.stderr)
    rows = summarise(plan, results)
    print(header(plan, load_before, os.getloadavg()[0]))
    print()
    print(format_table(rows))
    for name, reason in results.failures.items():
        print(f"\n{name} failed: {reason}")
    if args.json:
        save_json(args.json, plan, results, rows, (load_before, os.getloadavg()[0]))
        print(f"\nsaved {args.json}")
    if interrupted:
        return 130
    return 1 if results.failures else 0


if __name__ == "__main__":
    sys.exit(main())
