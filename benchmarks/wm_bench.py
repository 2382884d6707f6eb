"""Benchmark hurtle-worker-manager: restart and scale latency, IPC throughput, state reads.

    python3 -m hatch run python benchmarks/wm_bench.py [--repeat N] [--messages N]

Measures, each ``--repeat`` times, and prints one table (median and p90 of the samples):

- restart latency: from ``await manager.restart(..., wait=True)`` to the new worker's ack,
  shutdown-first vs zero-downtime, spawn vs forkserver vs fork (1 server worker);
- scale latency: ``await manager.scale(4, wait=True)`` from 1 worker until all 4 acked,
  spawn vs forkserver vs fork;
- IPC throughput: a worker publishing its state, counted until the manager has processed
  the last message: our channel (``multiplexer.report``, fire-and-forget msgspec frames)
  vs a ``multiprocessing.Manager().dict()`` updated the way Sanic's ``WorkerState`` does;
- state read cost in a worker: ``multiplexer.workers`` (a local snapshot) vs Sanic's
  ``dict(manager_dict)`` (``WorkerState.full()``) and a single ``manager_dict[name]``.

Every process it starts is stopped before it exits, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import platform
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import msgspec

import hurtle_worker_manager
from hurtle_worker_manager import WorkerManager, get_multiplexer

SERVER = "Hurtle-Server-0-0"


class Interrupted(Exception):
    """The manager stopped under us (Ctrl-C or SIGTERM)."""


# --- targets run by the managed processes (module level: they travel as import paths) ---


async def idle_server() -> None:
    """Ack at once, then idle until stopped (a stop cancels this coroutine)."""
    get_multiplexer().ack()
    await asyncio.Event().wait()


def ipc_server(messages: int, rounds: int, reads: int) -> None:
    """Flood the manager with reports, time state reads, publish the samples, then idle."""
    mux = get_multiplexer()
    mux.ack()
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(messages):
            mux.report("seq", i)
        # The channel is ordered: the manager answers this command only after it has
        # handled every report sent before it.
        mux.stats().result(timeout=120)
        rates.append(messages / (time.perf_counter() - start))
    read_costs = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(reads):
            mux.workers  # noqa: B018 - the read being measured
        read_costs.append((time.perf_counter() - start) / reads * 1e6)
    mux.report("bench", {"rates": rates, "reads": read_costs})
    try:
        mux.stopping.wait()  # a stop raises KeyboardInterrupt here
    except KeyboardInterrupt:
        pass


def dict_client(shared: Any, name: str, messages: int, rounds: int, reads: int) -> None:
    """Sanic's way, in a worker process: update and read a Manager dict."""
    rmw, plain, full, single = [], [], [], []
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(messages):  # WorkerState.__setitem__: read, merge, write back
            shared[name] = {**shared[name], "seq": i}
        rmw.append(messages / (time.perf_counter() - start))
        start = time.perf_counter()
        for i in range(messages):
            shared["seq"] = i
        plain.append(messages / (time.perf_counter() - start))
    del shared["seq"]
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(reads):
            dict(shared)  # WorkerState.full(), what app.m.workers returns
        full.append((time.perf_counter() - start) / reads * 1e6)
        start = time.perf_counter()
        for _ in range(reads):
            shared[name]  # the read being measured
        single.append((time.perf_counter() - start) / reads * 1e6)
    shared["result"] = {"rmw": rmw, "plain": plain, "full": full, "single": single}


# --- running a manager around a measurement ---


async def wait_for(
    condition: Callable[[], bool], what: str, timeout: float = 120, every: float = 0.002
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(every)


def acked_servers(manager: WorkerManager) -> int:
    return sum(
        1
        for name, entry in manager.workers.items()
        if entry.get("server") and entry.get("state") == "ACKED" and "#" not in name
    )


def settled(manager: WorkerManager, servers: int) -> bool:
    """Exactly ``servers`` acked servers and no old instance still draining."""
    table = manager.workers
    return acked_servers(manager) == servers and not any("#" in name for name in table)


async def with_manager(
    manager: WorkerManager, servers: int, body: Callable[[WorkerManager], Awaitable[Any]]
) -> Any:
    """Run ``manager``, wait for its servers, run ``body``, then stop every process."""
    serving = asyncio.create_task(manager.serve())
    work = asyncio.create_task(_after_start(manager, servers, body))
    done, _ = await asyncio.wait({serving, work}, return_when=asyncio.FIRST_COMPLETED)
    if work not in done:  # the manager stopped first: a signal, or a failure
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await work
        serving.result()
        raise Interrupted
    manager.terminate()
    await serving
    return work.result()


async def _after_start(
    manager: WorkerManager, servers: int, body: Callable[[WorkerManager], Awaitable[Any]]
) -> Any:
    await wait_for(lambda: settled(manager, servers), f"{servers} acked server(s)")
    return await body(manager)


def new_manager(start_method: str, target: Any, **kwargs: Any) -> WorkerManager:
    return WorkerManager(
        target, start_method=start_method, graceful_timeout=10.0, heartbeat_timeout=60.0, **kwargs
    )


# --- the measurements ---


async def measure_restart(start_method: str, zero_downtime: bool, repeat: int) -> list[float]:
    async def body(manager: WorkerManager) -> list[float]:
        samples = []
        for i in range(repeat + 1):  # the first restart is a warm-up
            start = time.perf_counter()
            await manager.restart(all_workers=True, zero_downtime=zero_downtime, wait=True)
            elapsed = (time.perf_counter() - start) * 1000
            if i:
                samples.append(elapsed)
            await wait_for(lambda: settled(manager, 1), "the old worker to exit")
        return samples

    result: list[float] = await with_manager(new_manager(start_method, idle_server), 1, body)
    return result


async def measure_scale(start_method: str, repeat: int) -> list[float]:
    async def body(manager: WorkerManager) -> list[float]:
        samples = []
        for i in range(repeat + 1):  # the first round is a warm-up
            start = time.perf_counter()
            await manager.scale(4, wait=True)
            elapsed = (time.perf_counter() - start) * 1000
            if i:
                samples.append(elapsed)
            await manager.scale(1, wait=True)
            await wait_for(lambda: settled(manager, 1), "the scale-down")
        return samples

    result: list[float] = await with_manager(new_manager(start_method, idle_server), 1, body)
    return result


async def measure_channel(messages: int, reads: int, repeat: int) -> dict[str, list[float]]:
    async def body(manager: WorkerManager) -> dict[str, list[float]]:
        def published() -> bool:
            return "bench" in manager.workers.get(SERVER, {})

        # Poll slowly: reading the state takes the manager's loop from the flood.
        await wait_for(published, "the worker's IPC results", timeout=600, every=0.2)
        result: dict[str, list[float]] = manager.workers[SERVER]["bench"]
        return result

    kwargs = {"messages": messages, "rounds": repeat, "reads": reads}
    manager = new_manager("spawn", ipc_server, server_kwargs=kwargs)
    result: dict[str, list[float]] = await with_manager(manager, 1, body)
    return result


def measure_manager_dict(messages: int, reads: int, repeat: int) -> dict[str, list[float]]:
    context = multiprocessing.get_context("spawn")
    name = "Sanic-Server-0-0"
    now = datetime.now(timezone.utc)
    with context.Manager() as sync_manager:
        shared = sync_manager.dict()
        shared["Sanic-Main"] = {"pid": os.getpid()}
        shared[name] = {
            "server": True,
            "state": "ACKED",
            "pid": os.getpid(),
            "start_at": now,
            "starts": 1,
            "restart_at": now,
        }
        process = context.Process(
            target=dict_client, args=(shared, name, messages, repeat, reads), name="dict-client"
        )
        process.start()
        try:
            process.join(600)
        finally:
            if process.is_alive():
                process.kill()
                process.join(10)
        if process.exitcode != 0:
            raise RuntimeError(f"the Manager dict client failed (exit code {process.exitcode})")
        result: dict[str, list[float]] = shared["result"]
        process.close()
    return result


# --- the table ---


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Row:
    """One line of the table: a measurement and its samples."""

    group: str
    variant: str
    unit: str
    samples: list[float]
    higher_is_better: bool = False

    def cells(self) -> list[str]:
        median = statistics.median(self.samples)
        # p90 on the worse side: the 90th percentile of a time, the 10th of a rate.
        worse = percentile(self.samples, 0.1 if self.higher_is_better else 0.9)
        count = str(len(self.samples))
        return [self.group, self.variant, self.unit, _fmt(median), _fmt(worse), count]


def _fmt(value: float) -> str:
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def print_table(rows: list[Row]) -> None:
    header = ["measurement", "variant", "unit", "median", "p90", "n"]
    table = [header] + [row.cells() for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    right = {3, 4, 5}

    def render(line: list[str]) -> str:
        return "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ).rstrip()

    print(render(header))
    print(render(["-" * w for w in widths]))
    for row in rows:
        print(render(row.cells()))


def save_json(path: Path, rows: list[Row], load: tuple[float, float], argv: list[str]) -> None:
    """Write every row with its samples, the versions and the machine as JSON (for the charts)."""
    document = {
        "benchmark": "wm_bench",
        "command": " ".join(["benchmarks/wm_bench.py", *argv]),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "load_average": {"before": load[0], "after": load[1]},
        "versions": {
            "hurtle-worker-manager": hurtle_worker_manager.__version__,
            "msgspec": msgspec.__version__,
        },
        "rows": [
            {
                "measurement": row.group,
                "variant": row.variant,
                "unit": row.unit,
                "higher_is_better": row.higher_is_better,
                "median": statistics.median(row.samples),
                "samples": row.samples,
            }
            for row in rows
        ],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


# --- main ---


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark hurtle-worker-manager.")
    parser.add_argument("--repeat", type=int, default=5, help="samples per measurement")
    parser.add_argument(
        "--messages",
        type=int,
        default=20000,
        help="reports per IPC round (the Manager dict gets a tenth: each is a round trip)",
    )
    parser.add_argument("--reads", type=int, default=2000, help="state reads per round")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=["restart", "scale", "ipc"],
        default=["restart", "scale", "ipc"],
        help="run only some measurements",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also save the results here")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"hurtle-worker-manager {hurtle_worker_manager.__version__}, msgspec "
        f"{msgspec.__version__}, Python {platform.python_version()}, {os.cpu_count()} CPU(s), "
        f"load average {load:.2f}; --repeat {args.repeat}",
        flush=True,
    )
    rows: list[Row] = []

    def step(label: str) -> None:
        print(f"  measuring {label} ...", file=sys.stderr, flush=True)

    try:
        if "restart" in args.only:
            for method in ("spawn", "forkserver", "fork"):
                for zero_downtime in (False, True):
                    order = "zero-downtime" if zero_downtime else "shutdown-first"
                    step(f"restart {method} {order}")
                    samples = asyncio.run(measure_restart(method, zero_downtime, args.repeat))
                    rows.append(
                        Row("restart -> new worker acked", f"{method}, {order}", "ms", samples)
                    )
        if "scale" in args.only:
            for method in ("spawn", "forkserver", "fork"):
                step(f"scale {method}")
                samples = asyncio.run(measure_scale(method, args.repeat))
                rows.append(Row("scale 1 -> 4 workers acked", method, "ms", samples))
        if "ipc" in args.only:
            step("IPC over the hurtle channel")
            ours = asyncio.run(measure_channel(args.messages, args.reads, args.repeat))
            step("IPC over a multiprocessing.Manager dict")
            theirs = measure_manager_dict(max(1, args.messages // 10), args.reads, args.repeat)
            rows += [
                Row(
                    "IPC worker -> manager",
                    "hurtle channel: multiplexer.report()",
                    "msg/s",
                    ours["rates"],
                    higher_is_better=True,
                ),
                Row(
                    "IPC worker -> manager",
                    "Manager dict: Sanic WorkerState update",
                    "msg/s",
                    theirs["rmw"],
                    higher_is_better=True,
                ),
                Row(
                    "IPC worker -> manager",
                    "Manager dict: plain d[key] = value",
                    "msg/s",
                    theirs["plain"],
                    higher_is_better=True,
                ),
                Row("state read in a worker", "hurtle: multiplexer.workers", "us", ours["reads"]),
                Row(
                    "state read in a worker",
                    "Manager dict: dict(d) (Sanic m.workers)",
                    "us",
                    theirs["full"],
                ),
                Row("state read in a worker", "Manager dict: one d[name]", "us", theirs["single"]),
            ]
    except (Interrupted, KeyboardInterrupt):
        print("interrupted: every process was stopped; partial results:", file=sys.stderr)
        print_table(rows)
        return 130
    print_table(rows)
    after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average after: {after:.2f} (p90 is the worse side: 10th percentile for msg/s)")
    if args.json:
        given = list(argv if argv is not None else sys.argv[1:])
        save_json(args.json, rows, (load, after), given)
        print(f"saved {args.json}")
    return 0


if __name__ == "__main__":  # required: spawned workers import this module
    sys.exit(main())
