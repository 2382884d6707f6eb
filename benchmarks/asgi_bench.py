"""ASGI servers side by side: Hurtle (hurtle_http.AsgiApp), uvicorn and granian.

Scenarios, one process (1 worker) per server, pinned to one CPU, the load on another:
- ``raw-hello``: a raw ASGI app, ``GET /`` → ``{"hello":"world"}`` (wrk);
- ``starlette-json``: a Starlette JSON route (wrk);
- ``ws-echo``: WebSocket echo of a 32-byte text message, one message in flight per
  connection (a lean client in this file: pre-encoded masked frames, no library), in
  messages per second.
Rounds are interleaved as in http_bench.py; medians are printed as one table, with each
server's ratio to Hurtle ("hurtle / it": above 1.00x Hurtle is faster), per second of wall
time and per second of the server's own CPU time (the fairer figure when the machine is
shared: a starved server shows a low cpu share). Run it in the bench environment:

    python3 -m hatch run bench:python benchmarks/asgi_bench.py --duration 5 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from httpbench.model import BENCHMARKS, HOST, Scenario, ServerFailed
from httpbench.processes import free_port, stop, verify, wait_until_ready
from httpbench.report import text_table, versions
from httpbench.wrk import ensure_wrk, run_wrk

SERVERS = ("hurtle", "uvicorn", "granian")
SCENARIOS = ("raw-hello", "starlette-json", "ws-echo")
APP_OF = {"raw-hello": "raw", "starlette-json": "starlette", "ws-echo": "raw"}
HELLO = Scenario("hello", "GET", "/", expected_json={"hello": "world"})
WS_MESSAGE = b"x" * 32


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of ``pid`` and its descendants (granian runs a worker)."""
    total, todo, clock = 0.0, [pid], os.sysconf("SC_CLK_TCK")
    while todo:
        current = todo.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += (int(fields[11]) + int(fields[12])) / clock
        todo.extend(int(child) for child in children)
    return total


@contextmanager
def running(server: str, app: str, cpu: int) -> Iterator[tuple[int, int]]:
    """``servers/asgi_server.py SERVER APP PORT`` pinned to ``cpu``; (port, pid); always stopped."""
    port = free_port()
    script = BENCHMARKS / "servers" / "asgi_server.py"
    command = ["taskset", "-c", str(cpu), sys.executable, str(script), server, app, str(port)]
    env = {**os.environ, "PYTHONPATH": str(BENCHMARKS / "servers")}
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=BENCHMARKS / "servers",
            env=env,
            start_new_session=True,
        )
        try:
            wait_until_ready(process, port, log)
            yield port, process.pid
        finally:
            stop(process)


# --- a lean WebSocket echo client --------------------------------------------------------


def _masked_text_frame(payload: bytes) -> bytes:
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + masked


class _EchoClient(asyncio.Protocol):
    """One connection: handshake, then send a frame each time the previous echo is back."""

    def __init__(self, frame: bytes, expect: int, counter: list[int], done: asyncio.Event):
        self.frame, self.expect, self.counter, self.done = frame, expect, counter, done
        self.buffer = b""
        self.open = False
        self.handshake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.open:
            head, sep, rest = self.buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            if not head.startswith(b"HTTP/1.1 101"):
                self.handshake.set_exception(ServerFailed(f"handshake refused: {head[:200]!r}"))
                return
            self.open, self.buffer = True, rest
            self.handshake.set_result(None)
            assert self.transport is not None
            self.transport.write(self.frame)
        while len(self.buffer) >= self.expect:
            self.buffer = self.buffer[self.expect :]
            self.counter[0] += 1
            if not self.done.is_set():
                assert self.transport is not None
                self.transport.write(self.frame)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(ServerFailed(f"connection lost: {exc!r}"))


async def _ws_load(port: int, connections: int, duration: float) -> tuple[int, float]:
    loop = asyncio.get_running_loop()
    frame = _masked_text_frame(WS_MESSAGE)
    expect = 2 + len(WS_MESSAGE)  # the server's unmasked frame of the same text
    counter, done = [0], asyncio.Event()
    clients = []
    for _ in range(connections):
        transport, client = await loop.create_connection(
            lambda: _EchoClient(frame, expect, counter, done), HOST, port
        )
        key = base64.b64encode(os.urandom(16))
        transport.write(
            b"GET /ws HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        clients.append((transport, client))
    await asyncio.wait_for(asyncio.gather(*(c.handshake for _, c in clients)), 10)
    start_count, started = counter[0], time.perf_counter()
    await asyncio.sleep(duration)
    done.set()
    count, elapsed = counter[0] - start_count, time.perf_counter() - started
    for transport, _ in clients:
        transport.close()
    return count, elapsed


def ws_echo(port: int, connections: int, duration: float, cpu: int) -> tuple[float, float]:
    """Messages per second of echo (client pinned to ``cpu`` in this process)."""
    os.sched_setaffinity(0, {cpu})
    try:
        count, elapsed = asyncio.run(_ws_load(port, connections, duration))
    finally:
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    return count / elapsed, elapsed


# --- the runs ----------------------------------------------------------------------------


@dataclass
class Results:
    """Rates by (server, scenario) over rounds, and server CPU shares; failures by server."""

    rates: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    cpu: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    errors: dict[tuple[str, str], int] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


def bench_one(server: str, scenario: str, args: argparse.Namespace, results: Results) -> None:
    with running(server, APP_OF[scenario], args.server_cpu) as (port, pid):
        if scenario == "ws-echo":
            ws_echo(port, args.connections, args.warmup or 0.5, args.client_cpu)
            before = tree_cpu_seconds(pid)
            rate, elapsed = ws_echo(port, args.connections, args.duration, args.client_cpu)
            errors = 0
        else:
            verify(port, [HELLO])
            if args.warmup:
                run_wrk(port, HELLO, args.warmup, args.connections, args.client_cpu)
            before = tree_cpu_seconds(pid)
            sample = run_wrk(port, HELLO, args.duration, args.connections, args.client_cpu)
            rate, elapsed, errors = sample.rps, sample.seconds, sample.errors
        share = (tree_cpu_seconds(pid) - before) / elapsed if elapsed else 0.0
    key = (server, scenario)
    results.rates.setdefault(key, []).append(rate)
    results.cpu.setdefault(key, []).append(share)
    results.errors[key] = results.errors.get(key, 0) + errors
    print(
        f"  {server:<8} {scenario:<15} {rate:>10,.0f}/s  errors {errors}  server cpu {share:4.0%}",
        file=sys.stderr,
    )


def table(args: argparse.Namespace, results: Results) -> str:
    header = [
        "scenario",
        "server",
        "per second",
        "hurtle / it",
        "cpu",
        "per cpu-s",
        "hurtle / it",
        "errors",
    ]
    cells, breaks = [], []
    for scenario in args.scenarios:
        if cells:
            breaks.append(len(cells))
        ours = results.rates.get(("hurtle", scenario))
        reference = statistics.median(ours) if ours else None
        ours_cpu = results.cpu.get(("hurtle", scenario))
        reference_per_cpu = (
            reference / statistics.median(ours_cpu)
            if reference and ours_cpu and statistics.median(ours_cpu)
            else None
        )
        for server in args.servers:
            rates = results.rates.get((server, scenario))
            if not rates:
                cells.append([scenario, server, "failed", "", "", "", "", ""])
                continue
            rate = statistics.median(rates)
            share = statistics.median(results.cpu[(server, scenario)])
            per_cpu = rate / share if share else 0.0
            ratio = f"{reference / rate:.2f}x" if reference and server != "hurtle" else ""
            cpu_ratio = (
                f"{reference_per_cpu / per_cpu:.2f}x"
                if reference_per_cpu and per_cpu and server != "hurtle"
                else ""
            )
            cells.append(
                [
                    scenario,
                    server,
                    f"{rate:,.0f}",
                    ratio,
                    f"{share:.0%}",
                    f"{per_cpu:,.0f}",
                    cpu_ratio,
                    str(results.errors[(server, scenario)]),
                ]
            )
    return text_table(header, cells, breaks=breaks)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per measured run (5)")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of warm-up (1)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument("--connections", type=int, default=50, help="connections (50)")
    parser.add_argument("--servers", nargs="+", choices=SERVERS, default=list(SERVERS))
    parser.add_argument("--scenarios", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--server-cpu", type=int, default=0, help="CPU for the servers (0)")
    parser.add_argument("--client-cpu", type=int, default=1, help="CPU for the load (1)")
    return parser.parse_args(argv)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def hurtle_problem() -> str | None:
    """Why Hurtle's ASGI server cannot be benchmarked here, or None when it can."""
    try:
        import hurtle_http
    except Exception as exc:
        return f"hurtle_http is not importable ({type(exc).__name__}: {exc})"
    return None if hasattr(hurtle_http, "AsgiApp") else "hurtle_http has no AsgiApp yet"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if "hurtle" in args.servers and (problem := hurtle_problem()):
        print(f"note: {problem}: skipping hurtle.", file=sys.stderr)
        args.servers = [s for s in args.servers if s != "hurtle"]
    ensure_wrk()
    signal.signal(signal.SIGTERM, _interrupt)
    results = Results()
    try:
        for index in range(args.rounds):
            shift = index % len(args.servers)
            order = args.servers[shift:] + args.servers[:shift]
            print(f"round {index + 1}/{args.rounds}: {', '.join(order)}", file=sys.stderr)
            for server in order:
                for scenario in args.scenarios:
                    if server in results.failures:
                        continue
                    try:
                        bench_one(server, scenario, args, results)
                    except (ServerFailed, OSError, asyncio.TimeoutError) as exc:
                        results.failures[server] = f"{scenario}: {exc}"
                        print(f"  {server} FAILED: {exc}", file=sys.stderr)
    except KeyboardInterrupt:
        print("interrupted: the table shows the runs completed so far.", file=sys.stderr)
    found = versions(("hurtle-http", "uvicorn", "granian", "starlette", "websockets", "uvloop"))
    print(
        f"asgi_bench: 1 process per server on CPU {args.server_cpu}, load on CPU "
        f"{args.client_cpu}, {args.connections} connections, {args.duration} s x "
        f"{args.rounds} rounds (median)"
    )
    print(", ".join(f"{name} {number}" for name, number in found.items()))
    print()
    print(table(args, results))
    for name, reason in results.failures.items():
        print(f"\n{name} failed: {reason}")
    return 1 if results.failures else 0


if __name__ == "__main__":
    sys.exit(main())
