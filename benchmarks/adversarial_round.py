"""The adversarial round of issue 16, re-runnable and bounded in time: failures per scenario.

Run from the repository root in the bench environment (uvicorn beside Hurtle):

    python3 -m hatch -e bench run python benchmarks/adversarial_round.py [--quick]

Every scenario starts a fresh server on a free loopback port, drives it, stops it by its
pid and checks that no process is left behind. A failure is a request that got no correct
answer (EOF, reset, timeout, wrong status) or a broken promise the scenario states; the
table prints them per scenario, Hurtle beside uvicorn. Scenarios that need the inspector
(reloads, scaling, bad inputs, concurrent reloads, kill -9 of the inspector) run on Hurtle
only. Loopback only; traffic is bounded in count and time (about 3 min, `--quick` ~1 min).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS))

from appbench.processes import ServerProcess, stop_all, wait_first_200, wait_workers  # noqa: E402
from httpbench.model import ServerFailed  # noqa: E402
from httpbench.processes import free_port  # noqa: E402
from httpbench.report import text_table  # noqa: E402

HOST = "127.0.0.1"
GET = b"GET / HTTP/1.1\r\nHost: round\r\n\r\n"


@dataclass
class Outcome:
    """What one scenario saw on one server."""

    attempts: int = 0
    failures: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, ok: bool, why: str = "") -> None:
        self.attempts += 1
        if not ok:
            self.failures += 1
            if why and len(self.notes) < 3 and why not in self.notes:
                self.notes.append(why)


@dataclass(frozen=True)
class Plan:
    quick: bool

    def scale(self, full: float, quick: float) -> float:
        return quick if self.quick else full


# --- servers ---


@dataclass(frozen=True)
class Target:
    name: str
    script: str
    inspector: bool


TARGETS = {
    "hurtle": Target("hurtle", "adversarial_hurtle.py", True),
    "uvicorn": Target("uvicorn", "adversarial_uvicorn.py", False),
}


@dataclass
class Running:
    server: ServerProcess
    inspector_port: int = 0


@contextlib.contextmanager
def running(target: Target, workers: int) -> Iterator[Running]:
    port = free_port()
    command = [sys.executable, str(BENCHMARKS / "servers" / target.script), str(port), str(workers)]
    inspector_port = free_port() if target.inspector else 0
    if inspector_port:
        command.append(str(inspector_port))
    with tempfile.TemporaryFile() as log:
        started = time.monotonic()
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=BENCHMARKS, start_new_session=True
        )
        server = ServerProcess(target.name, process, port, log)
        leftovers: list[str] = []
        try:
            wait_first_200(server, started)
            wait_workers(server, workers)
            if inspector_port:
                _wait_inspector(inspector_port)
            yield Running(server, inspector_port)
        finally:
            leftovers = stop_all(server)
        if leftovers:
            raise ServerFailed(f"left processes behind: {'; '.join(leftovers)}")


def _wait_inspector(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if inspect_call(port, "GET", "/health", timeout=2)[0] == 200:
                return
        time.sleep(0.05)
    raise ServerFailed("the inspector did not answer /health within 30 s")


def inspect_call(
    port: int, method: str, path: str, body: object = None, timeout: float = 30.0, raw: bytes = b""
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        payload = raw or (json.dumps(body).encode() if body is not None else None)
        conn.request(method, path, body=payload)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# --- clients ---


async def one_request(port: int, data: bytes = GET, timeout: float = 10.0) -> tuple[bool, str]:
    """One request on a new connection; (answered 200, why not)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), timeout)
    except (OSError, asyncio.TimeoutError) as exc:
        return False, f"connect: {type(exc).__name__}"
    try:
        writer.write(data)
        line = await asyncio.wait_for(reader.readline(), timeout)
        if not line:
            return False, "EOF without a response"
        ok = line.startswith(b"HTTP/1.1 200")
        await asyncio.wait_for(_skip_response(reader), timeout)
        return ok, "" if ok else line.decode(errors="replace").strip()
    except asyncio.TimeoutError:
        return False, "timeout"
    except OSError as exc:
        return False, type(exc).__name__
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _skip_response(reader: asyncio.StreamReader) -> None:
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    if length:
        await reader.readexactly(length)


async def load(port: int, seconds: float, rate: float, outcome: Outcome) -> None:
    """``rate`` new-connection requests per second for ``seconds``, each one counted."""
    tasks = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        tasks.append(asyncio.ensure_future(one_request(port)))
        await asyncio.sleep(1 / rate)
    for ok, why in await asyncio.gather(*tasks):
        outcome.add(ok, why)


# --- scenarios ---

Scenario = Callable[[Target, Plan], Awaitable[Outcome]]


async def chaos(target: Target, plan: Plan) -> Outcome:
    """kill -9 a random worker every 2 s under load (4 workers)."""
    outcome = Outcome()
    with running(target, 4) as run:
        seconds = plan.scale(30, 6)

        kills = [0]

        async def killer() -> None:
            while True:
                await asyncio.sleep(2)
                workers = list(run.server.workers())
                if workers:
                    with contextlib.suppress(OSError):
                        os.kill(random.choice(workers), signal.SIGKILL)
                        kills[0] += 1

        task = asyncio.ensure_future(killer())
        await load(run.server.port, seconds, 150, outcome)
        task.cancel()
        outcome.notes.append(f"{kills[0]} kills")
    return outcome


async def rolling(target: Target, plan: Plan) -> Outcome:
    """Reloads every second (Hurtle: alternately zero-downtime, and scaling 4→6→2→4;
    uvicorn: SIGHUP) under load."""
    outcome = Outcome()
    with running(target, 4) as run:
        seconds = plan.scale(30, 9)

        async def steer() -> None:
            step = 0
            loop = asyncio.get_running_loop()
            while True:
                await asyncio.sleep(1)
                step += 1
                if not target.inspector:
                    os.kill(run.server.pid, signal.SIGHUP)
                    continue
                if step % 4 == 0:
                    body: object = {"replicas": [6, 2, 4][(step // 4) % 3], "wait": True}
                    path = "/scale"
                else:
                    body, path = {"zero_downtime": step % 2 == 0, "wait": True}, "/reload"
                status, text = await loop.run_in_executor(
                    None, inspect_call, run.inspector_port, "POST", path, body
                )
                if status != 200:
                    outcome.add(False, f"{path} {status}: {text[:80]!r}")

        task = asyncio.ensure_future(steer())
        await load(run.server.port, seconds, 150, outcome)
        task.cancel()
    return outcome


async def shutdown(target: Target, plan: Plan) -> Outcome:
    """SIGTERM with 50 in-flight 1 s requests and 200 idle keep-alive connections."""
    outcome = Outcome()
    with running(target, 2) as run:
        port = run.server.port
        idle = []
        for _ in range(200):
            reader, writer = await asyncio.open_connection(HOST, port)
            writer.write(GET)
            await reader.readline()
            await _skip_response(reader)
            idle.append((reader, writer))
        slow = [
            asyncio.ensure_future(one_request(port, b"GET /slow HTTP/1.1\r\nHost: r\r\n\r\n"))
            for _ in range(50)
        ]
        await asyncio.sleep(0.3)
        started = time.monotonic()
        run.server.process.send_signal(signal.SIGTERM)
        for ok, why in await asyncio.gather(*slow):
            outcome.add(ok, f"in-flight: {why}")
        for reader, writer in idle:
            try:
                rest = await asyncio.wait_for(reader.read(), 10)
                outcome.add(rest == b"", "idle: data instead of a clean close")
            except (OSError, asyncio.TimeoutError) as exc:
                outcome.add(False, f"idle: {type(exc).__name__}")
            writer.close()
        try:
            await asyncio.get_running_loop().run_in_executor(None, run.server.process.wait, 30)
            outcome.notes.append(f"tree gone in {time.monotonic() - started:.1f} s")
        except subprocess.TimeoutExpired:
            outcome.add(False, "still running 30 s after SIGTERM")
    return outcome


async def slowloris(target: Target, plan: Plan) -> Outcome:
    """300 connections sending their head a byte per second; normal traffic must not suffer."""
    outcome = Outcome()
    with running(target, 2) as run:
        port = run.server.port
        stop = asyncio.Event()

        async def loris() -> None:
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection(HOST, port)
                for byte in b"GET / HTTP/1.1\r\nHost: loris\r\nX-a: " + b"a" * 1000:
                    if stop.is_set():
                        break
                    writer.write(bytes([byte]))
                    await asyncio.sleep(1)
                writer.close()

        lorises = [asyncio.ensure_future(loris()) for _ in range(300)]
        await asyncio.sleep(1)
        await load(port, plan.scale(15, 4), 100, outcome)
        stop.set()
        await asyncio.gather(*lorises, return_exceptions=True)
    return outcome


async def slow_readers(target: Target, plan: Plan) -> Outcome:
    """50 connections pipelining 4 x 1 MiB responses, read at 16 KiB/s; normal traffic too."""
    outcome = Outcome()
    with running(target, 2) as run:
        port = run.server.port
        stop = asyncio.Event()

        async def reader_task() -> None:
            with contextlib.suppress(OSError):
                reader, writer = await asyncio.open_connection(HOST, port)
                writer.write(b"GET /big HTTP/1.1\r\nHost: r\r\n\r\n" * 4)
                while not stop.is_set() and await reader.read(16384):  # noqa: ASYNC110 - reading slowly is the point
                    await asyncio.sleep(1)
                writer.close()

        readers = [asyncio.ensure_future(reader_task()) for _ in range(50)]
        await asyncio.sleep(1)
        await load(port, plan.scale(15, 4), 100, outcome)
        stop.set()
        await asyncio.gather(*readers, return_exceptions=True)
    return outcome


async def pipelined(target: Target, plan: Plan) -> Outcome:
    """10,000 GETs in one write on one connection: every one answered."""
    outcome = Outcome()
    with running(target, 2) as run:
        reader, writer = await asyncio.open_connection(HOST, run.server.port)
        writer.write(GET * 10_000)
        answered = 0
        try:
            while answered < 10_000:
                line = await asyncio.wait_for(reader.readline(), 10)
                if not line.startswith(b"HTTP/1.1 200"):
                    if line:
                        outcome.notes.append(f"after {answered}: {line.decode().strip()}")
                    break
                await _skip_response(reader)
                answered += 1
        except (OSError, asyncio.TimeoutError) as exc:
            outcome.notes.append(f"after {answered}: {type(exc).__name__}")
        writer.close()
        outcome.attempts, outcome.failures = 10_000, 10_000 - answered
    return outcome


async def uploads(target: Target, plan: Plan) -> Outcome:
    """Concurrent large uploads to a route that ignores the body: each answered 200."""
    outcome = Outcome()
    size = int(plan.scale(50, 10)) * 1024 * 1024
    with running(target, 2) as run:
        port = run.server.port

        async def upload() -> tuple[bool, str]:
            head = (
                b"POST /upload HTTP/1.1\r\nHost: r\r\nContent-Type: application/octet-stream\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % size
            )
            try:
                reader, writer = await asyncio.open_connection(HOST, port)
            except OSError as exc:
                return False, type(exc).__name__

            async def send_body() -> None:  # a server may answer before reading it all
                with contextlib.suppress(OSError):
                    writer.write(head)
                    chunk = b"u" * (1024 * 1024)
                    for _ in range(size // len(chunk)):
                        writer.write(chunk)
                        await writer.drain()

            sending = asyncio.ensure_future(send_body())
            try:
                line = await asyncio.wait_for(reader.readline(), 60)
                return line.startswith(b"HTTP/1.1 200"), line.decode(errors="replace").strip()
            except (OSError, asyncio.TimeoutError) as exc:
                return False, type(exc).__name__
            finally:
                sending.cancel()
                writer.close()

        for _ in range(int(plan.scale(2, 1))):
            for ok, why in await asyncio.gather(*(upload() for _ in range(4))):
                outcome.add(ok, why)
    return outcome


BAD_INPUTS: list[tuple[str, str, bytes, set[int]]] = [
    ("POST", "/scale", b'{"replicas": 0}', {400}),
    ("POST", "/scale", b'{"replicas": "two"}', {400}),
    ("POST", "/scale", b'{"replicas": 100000}', {400}),
    ("POST", "/scale", b"[1, 2]", {400}),
    ("POST", "/scale", b"{not json", {400}),
    ("POST", "/reload", b'{"zero_downtime": "yes"}', {400}),
    ("POST", "/reload", b'{"unknown": 1}', {400}),
    ("POST", "/__init__", b"{}", {404}),
    ("POST", "/_outcome", b"{}", {404}),
    ("POST", "/../etc/passwd", b"{}", {400, 404}),
    ("GET", "/reload", b"", {405}),
    ("DELETE", "/", b"", {405}),
    ("POST", "/restart", b'{"names": ["Nope"]}', {400}),
    ("POST", "/restart", b'{"names": "x"}', {400}),
    ("POST", "/nope", b"", {404}),
    ("POST", "/scale", b"[" * 100_000, {400, 413}),
]


async def inspector_inputs(target: Target, plan: Plan) -> Outcome:
    """Hostile inspector requests: each gets its documented 4xx; then the app still serves."""
    outcome = Outcome()
    with running(target, 2) as run:
        loop = asyncio.get_running_loop()
        for method, path, body, expected in BAD_INPUTS:
            status, _ = await loop.run_in_executor(
                None, lambda m=method, p=path, b=body: inspect_call(run.inspector_port, m, p, raw=b)
            )
            outcome.add(status in expected, f"{method} {path[:20]} {body[:12]!r} -> {status}")
        ok, why = await one_request(run.server.port)
        outcome.add(ok, f"app after: {why}")
    return outcome


async def concurrent_reloads(target: Target, plan: Plan) -> Outcome:
    """Hundreds of concurrent /reload calls: every caller answered, few generations."""
    outcome = Outcome()
    count = int(plan.scale(500, 200))
    with running(target, 2) as run:
        loop = asyncio.get_running_loop()

        def reload() -> int:
            try:
                return inspect_call(run.inspector_port, "POST", "/reload", {}, timeout=50)[0]
            except OSError:
                return 0

        with ThreadPoolExecutor(count) as pool:  # all at once, as the round's clients did
            statuses = await asyncio.gather(
                *(loop.run_in_executor(pool, reload) for _ in range(count))
            )
        for status in statuses:
            outcome.add(status == 200, f"status {status}")
        await asyncio.sleep(2)
        status, text = inspect_call(run.inspector_port, "GET", "/")
        workers = json.loads(text)["result"]["workers"]
        generations = max(e["generation"] for e in workers.values() if e.get("server"))
        outcome.notes.append(f"{count} reloads -> generation {generations}")
    return outcome


async def inspector_kill(target: Target, plan: Plan) -> Outcome:
    """kill -9 of the inspector: its port answers at once all along, then it is back."""
    outcome = Outcome()
    with running(target, 2) as run:
        status, text = inspect_call(run.inspector_port, "GET", "/")
        pid = json.loads(text)["result"]["workers"]["Hurtle-Inspector-0"]["pid"]
        os.kill(pid, signal.SIGKILL)
        end = time.monotonic() + 3
        while time.monotonic() < end:
            try:
                status, _ = inspect_call(run.inspector_port, "GET", "/health", timeout=2)
                outcome.add(status in (200, 503), f"status {status}")
            except TimeoutError:
                outcome.add(False, "hung")
            except OSError as exc:
                outcome.add(False, type(exc).__name__)
            await asyncio.sleep(0.05)
        status, _ = inspect_call(run.inspector_port, "GET", "/health", timeout=5)
        outcome.add(status == 200, "not respawned")
    return outcome


SCENARIOS: dict[str, tuple[Scenario, bool]] = {  # name -> (scenario, needs the inspector)
    "chaos kill -9 /2 s": (chaos, False),
    "rolling reloads+scale": (rolling, False),
    "shutdown in-flight+idle": (shutdown, False),
    "slowloris": (slowloris, False),
    "slow readers": (slow_readers, False),
    "10,000 pipelined": (pipelined, False),
    "large uploads": (uploads, False),
    "inspector bad inputs": (inspector_inputs, True),
    "concurrent reloads": (concurrent_reloads, True),
    "inspector kill -9": (inspector_kill, True),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="about one minute instead of three")
    parser.add_argument("--servers", default="hurtle,uvicorn", help="comma-separated")
    parser.add_argument("--only", default="", help="comma-separated scenario name prefixes")
    args = parser.parse_args(argv)
    plan = Plan(args.quick)
    names = [n for n in args.servers.split(",") if n]
    available = []
    for name in names:
        if name == "uvicorn":
            try:
                import uvicorn  # noqa: F401
            except ImportError:
                print("uvicorn is not installed here: run in the bench env to compare", flush=True)
                continue
        available.append(TARGETS[name])
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    rows = []
    started = time.monotonic()
    for scenario_name, (scenario, needs_inspector) in SCENARIOS.items():
        if wanted and not any(scenario_name.startswith(w) for w in wanted):
            continue
        row = [scenario_name]
        for target in available:
            if needs_inspector and not target.inspector:
                row.append("-")
                continue
            print(f"{scenario_name} on {target.name} ...", flush=True)
            try:
                outcome = asyncio.run(scenario(target, plan))
                cell = f"{outcome.failures} / {outcome.attempts}"
                if outcome.notes:
                    cell += f" ({'; '.join(outcome.notes)})"
            except ServerFailed as exc:
                cell = f"server failed: {str(exc).splitlines()[0][:80]}"
            row.append(cell)
            print(f"  {cell}", flush=True)
        rows.append(row)
    print()
    print(
        f"Adversarial round ({'quick' if plan.quick else 'full'}), failures / attempts, "
        f"{time.monotonic() - started:.0f} s"
    )
    print(text_table(["scenario", *[t.name for t in available]], rows, left=len(available) + 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
