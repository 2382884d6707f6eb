"""Start methods side by side: cold start, restart and scale-up to acked, idle memory.

For Hurtle under each start method (spawn, fork, forkserver) and, when they are installed
(the hatch ``bench`` environment), granian, uvicorn and Sanic, with the hello app of
``servers/``:

- cold start: from the process start to the first 200 on ``GET /``, with 1 worker, with
  2 workers, and (Hurtle) with 2 workers and the inspector; also until every worker
  answers for Hurtle (its ``/workers`` table shows them all acked);
- restart: SIGHUP (a zero-downtime restart of every worker) until every server of the
  table is the next generation and acked; scale-up: SIGTTIN (one more worker) until it is
  acked. Polled every 2 ms through ``/workers`` (Hurtle only);
- memory: RSS and PSS (``/proc/PID/smaps_rollup``) of the whole process tree, idle, with
  1, 2 and 4 workers; the extra PSS per worker is the slope from 1 to 4 workers.

Rounds are interleaved (every server once per round, in a rotating order); the table shows
medians (min-max for the times). Run:
``python3 -m hatch run bench:python benchmarks/startup.py --rounds 5``.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from httpbench.processes import free_port

SERVERS = Path(__file__).parent / "servers"
HOST = "127.0.0.1"
START_TIMEOUT = 30.0
POLL = 0.002
SETTLE = 1.0  # seconds idle before memory is read
HURTLE_METHODS = ("spawn", "fork", "forkserver")


@dataclass(frozen=True)
class Target:
    """A server to start: its name, and the command for a port and a number of workers."""

    name: str
    command: Callable[[int, int, bool], list[str]]
    hurtle: bool = False
    module: str = ""  # what must be importable for it to run


def hurtle(method: str) -> Target:
    def command(port: int, workers: int, inspector: bool) -> list[str]:
        script = str(SERVERS / "hurtle_workers_app.py")
        extra = ["--inspector"] if inspector else []
        return [sys.executable, script, str(port), str(workers), method, *extra]

    return Target(f"hurtle ({method})", command, hurtle=True, module="hurtle")


def peer(name: str, script: str, module: str) -> Target:
    def command(port: int, workers: int, inspector: bool) -> list[str]:
        return [sys.executable, str(SERVERS / script), str(port), str(workers)]

    return Target(name, command, module=module)


TARGETS = [
    *(hurtle(method) for method in HURTLE_METHODS),
    peer("granian", "granian_app.py", "granian"),
    peer("uvicorn", "uvicorn_workers_app.py", "uvicorn"),
    peer("sanic", "sanic_workers_app.py", "sanic"),
]


@dataclass
class Results:
    """Samples by (target name, measure)."""

    samples: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def add(self, target: str, measure: str, value: float) -> None:
        self.samples.setdefault((target, measure), []).append(value)

    def get(self, target: str, measure: str) -> list[float]:
        return self.samples.get((target, measure), [])


# --- processes ---------------------------------------------------------------------------


def get(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def descendants(pid: int) -> set[int]:
    """``pid`` and every live process below it."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    tree, todo = {pid}, [pid]
    while todo:
        parent = todo.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in tree:
                tree.add(child)
                todo.append(child)
    return tree


def memory(pid: int) -> tuple[float, float, int]:
    """RSS and PSS of the tree under ``pid`` in MiB, and its number of processes."""
    rss = pss = 0
    tree = descendants(pid)
    for member in tree:
        try:
            text = Path(f"/proc/{member}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key == "Rss":
                rss += int(value.split()[0])
            elif key == "Pss":
                pss += int(value.split()[0])
    return rss / 1024, pss / 1024, len(tree)


@contextmanager
def started(target: Target, workers: int, inspector: bool = False) -> Iterator[Server]:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(SERVERS), PYTHONDONTWRITEBYTECODE="0")
    env.update(HURTLE_INSPECTOR_HOST=HOST, HURTLE_INSPECTOR_PORT="0")
    with tempfile.TemporaryFile() as log:
        begin = time.perf_counter()
        process = subprocess.Popen(
            target.command(port, workers, inspector),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=SERVERS,
            start_new_session=True,
        )
        server = Server(process, port, log, begin)
        try:
            yield server
        finally:
            server.stop()


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: IO[bytes]
    begin: float

    def fail(self, why: str) -> RuntimeError:
        self.log.flush()
        self.log.seek(0)
        tail = "\n".join(self.log.read().decode(errors="replace").splitlines()[-15:])
        return RuntimeError(f"{why}\n--- output ---\n{tail}")

    def until(self, predicate: Callable[[], Any], what: str, timeout: float = START_TIMEOUT) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise self.fail(f"exited with {self.process.returncode} while waiting for {what}")
            try:
                value = predicate()
            except (OSError, http.client.HTTPException, ValueError):
                value = None
            if value:
                return value
            time.sleep(POLL)
        raise self.fail(f"no {what} within {timeout:g} s")

    def first_200(self) -> float:
        self.until(lambda: get(self.port, "/", 1.0)[0] == 200, "first 200")
        return time.perf_counter() - self.begin

    def table(self) -> dict[str, dict[str, Any]]:
        status, body = get(self.port, "/workers")
        if status != 200:
            return {}
        return {k: v for k, v in json.loads(body).items() if isinstance(v, dict)}

    def acked(self) -> dict[str, dict[str, Any]]:
        return {
            name: entry
            for name, entry in self.table().items()
            if entry.get("server") and entry.get("current") and entry.get("state") == "ACKED"
        }

    def all_acked(self, count: int) -> dict[str, dict[str, Any]]:
        def ready() -> dict[str, dict[str, Any]] | None:
            table = self.table()
            servers = [e for e in table.values() if e.get("server")]
            acked = self.acked()
            return acked if len(acked) == count and len(servers) == count else None

        return self.until(ready, f"{count} acked workers")  # type: ignore[no-any-return]

    def stop(self) -> None:
        if self.process.poll() is None:
            with _suppress():
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                pass
        with _suppress():
            os.killpg(self.process.pid, signal.SIGKILL)  # the session: nothing survives
        self.process.wait()


@contextmanager
def _suppress() -> Iterator[None]:
    try:
        yield
    except (ProcessLookupError, PermissionError):
        pass


# --- measures --------------------------------------------------------------------------


def cold(target: Target, results: Results, workers: int, inspector: bool = False) -> None:
    label = f"cold {workers}w" + ("+i" if inspector else "")
    with started(target, workers, inspector) as server:
        results.add(target.name, label, server.first_200())
        if target.hurtle:
            server.all_acked(workers)
            results.add(target.name, label + " all", time.perf_counter() - server.begin)


def restart_and_scale(target: Target, results: Results) -> None:
    with started(target, 2) as server:
        server.first_200()
        before = server.all_acked(2)
        generations = {name: entry["generation"] for name, entry in before.items()}
        begin = time.perf_counter()
        os.kill(server.process.pid, signal.SIGHUP)

        def restarted() -> bool:
            acked = server.acked()
            return len(acked) == 2 and all(
                acked.get(name, {}).get("generation") == gen + 1
                for name, gen in generations.items()
            )

        server.until(restarted, "restarted workers")
        results.add(target.name, "restart", time.perf_counter() - begin)
        begin = time.perf_counter()
        os.kill(server.process.pid, signal.SIGTTIN)
        server.until(lambda: len(server.acked()) == 3, "a third acked worker")
        results.add(target.name, "scale-up", time.perf_counter() - begin)


def idle_memory(target: Target, results: Results, workers: int) -> None:
    with started(target, workers) as server:
        server.first_200()
        if target.hurtle:
            server.all_acked(workers)
        else:
            _all_peer_workers(server, workers)
        time.sleep(SETTLE)  # idle: let the start's garbage settle
        rss, pss, count = memory(server.process.pid)
        results.add(target.name, f"rss {workers}w", rss)
        results.add(target.name, f"pss {workers}w", pss)
        results.add(target.name, f"procs {workers}w", count)


def _all_peer_workers(server: Server, workers: int) -> None:
    """Peers: wait until ``workers`` processes answered ``/pid`` (granian has no /pid: its
    first 200 is enough, its workers start together)."""
    seen: set[int] = set()

    def answered() -> bool:
        status, body = get(server.port, "/pid")
        if status != 200:
            return True  # no /pid route: cannot tell, take the first 200
        seen.add(json.loads(body)["pid"])
        return len(seen) >= workers

    server.until(answered, f"{workers} workers answering", timeout=10)


# --- report ----------------------------------------------------------------------------


def ms(values: list[float]) -> str:
    if not values:
        return "-"
    median = statistics.median(values) * 1000
    return f"{median:.0f} ({min(values) * 1000:.0f}-{max(values) * 1000:.0f})"


def mib(values: list[float]) -> str:
    return f"{statistics.median(values):.0f}" if values else "-"


def table(results: Results, targets: Sequence[Target]) -> str:
    head = (
        "| server | cold 1 worker | cold 2 workers | cold 2 workers + inspector "
        "| all acked, 2 + inspector | restart to acked | scale-up to acked |"
    )
    rows = [head, "|" + "---|" * 7]
    for target in targets:
        r = results.get
        rows.append(
            f"| {target.name} | {ms(r(target.name, 'cold 1w'))} | {ms(r(target.name, 'cold 2w'))}"
            f" | {ms(r(target.name, 'cold 2w+i'))} | {ms(r(target.name, 'cold 2w+i all'))}"
            f" | {ms(r(target.name, 'restart'))} | {ms(r(target.name, 'scale-up'))} |"
        )
    rows += ["", "Times in ms: median (min-max) over the rounds.", ""]
    rows.append(
        "| server | RSS / PSS, 1 worker | RSS / PSS, 2 workers | RSS / PSS, 4 workers "
        "| processes (4 workers) | extra PSS per worker |"
    )
    rows.append("|" + "---|" * 6)
    for target in targets:
        r = results.get
        cells = [
            f"{mib(r(target.name, f'rss {n}w'))} / {mib(r(target.name, f'pss {n}w'))}"
            for n in (1, 2, 4)
        ]
        pss1, pss4 = r(target.name, "pss 1w"), r(target.name, "pss 4w")
        slope = (
            f"{(statistics.median(pss4) - statistics.median(pss1)) / 3:.1f}"
            if pss1 and pss4
            else "-"
        )
        procs = mib(r(target.name, "procs 4w"))
        rows.append(f"| {target.name} | {' | '.join(cells)} | {procs} | {slope} |")
    rows += ["", "Memory in MiB (whole process tree, idle; median over the rounds)."]
    return "\n".join(rows)


def run_round(target: Target, results: Results) -> None:
    """Every measure of ``target`` once; a failure is recorded and the next one runs."""
    steps: list[tuple[Callable[..., None], tuple[Any, ...]]] = [
        (cold, (target, results, 1)),
        (cold, (target, results, 2)),
    ]
    if target.hurtle:
        steps += [(cold, (target, results, 2, True)), (restart_and_scale, (target, results))]
    steps += [(idle_memory, (target, results, n)) for n in (1, 2, 4)]
    for step, step_args in steps:
        try:
            step(*step_args)
        except RuntimeError as exc:
            results.failures.append(f"{target.name}: {exc}")
            print(f"  FAILED: {exc}", file=sys.stderr)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--only", nargs="*", default=[], help="names to run (e.g. 'hurtle (forkserver)' granian)"
    )
    parser.add_argument("--no-peers", action="store_true", help="Hurtle only")
    parser.add_argument("--json", type=Path, help="also save the samples as JSON here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    targets = [
        t
        for t in TARGETS
        if importlib.util.find_spec(t.module) is not None
        and (t.hurtle or not args.no_peers)
        and (not args.only or t.name in args.only or t.name.split()[0] in args.only)
    ]
    skipped = [t.name for t in TARGETS if importlib.util.find_spec(t.module) is None]
    if skipped:
        print(f"not installed here, skipped: {', '.join(skipped)}", file=sys.stderr)
    results = Results()
    load_before = os.getloadavg()[0]
    for round_no in range(args.rounds):
        shift = round_no % len(targets)
        for target in targets[shift:] + targets[:shift]:
            print(f"round {round_no + 1}/{args.rounds}: {target.name}", file=sys.stderr)
            run_round(target, results)
    print(
        f"\n{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average "
        f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after; {args.rounds} rounds\n"
    )
    print(table(results, targets))
    for failure in results.failures:
        print(f"\nFAILED {failure.splitlines()[0]}")
    if args.json:
        data = {f"{name}|{measure}": values for (name, measure), values in results.samples.items()}
        args.json.write_text(json.dumps(data, indent=1))
    return 1 if results.failures else 0


if __name__ == "__main__":
    sys.exit(main())
