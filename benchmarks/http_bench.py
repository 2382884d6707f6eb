"""Compare hurtle-http with Sanic, uvicorn and a uvloop + httptools ceiling, with wrk.

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
import http.client
import importlib
import importlib.metadata
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from types import FrameType
from typing import IO

HERE = Path(__file__).resolve().parent
WRK_SCRIPT = HERE / "wrk" / "report.lua"
HOST = "127.0.0.1"
START_TIMEOUT = 30.0  # seconds for a server to answer its first request
STOP_TIMEOUT = 10.0  # seconds for a server to exit after SIGTERM, before SIGKILL
WRK_SLACK = 30.0  # seconds a wrk run may take beyond its duration before it is killed
WRK_REQUEST_TIMEOUT = "2s"  # wrk counts a slower response as a timeout error
RESULT_MARKER = "BENCH_RESULT "
ECHO_BODY = b"x" * 1024  # what wrk/report.lua sends for BENCH_BODY_SIZE=1024


class BenchError(Exception):
    """The benchmark cannot run (a missing tool, a bad option): message for the user."""


class ServerFailed(Exception):
    """One server did not start, answered wrongly, or could not be measured."""


@dataclass(frozen=True)
class Scenario:
    """One request shape, sent by wrk over and over on every connection."""

    name: str
    method: str
    path: str
    body: bytes = b""
    expected_json: object = None  # None: the response must equal the request body


@dataclass(frozen=True)
class Server:
    """A server under test: a script in benchmarks/servers run as `python SCRIPT PORT`."""

    name: str
    script: str
    description: str

    @property
    def path(self) -> Path:
        """The script's absolute path."""
        return HERE / "servers" / self.script


SCENARIOS = {
    s.name: s
    for s in (
        Scenario("hello", "GET", "/", expected_json={"hello": "world"}),
        Scenario("user", "GET", "/user/12345", expected_json={"id": 12345}),
        Scenario("echo", "POST", "/echo", body=ECHO_BODY),
    )
}
SERVERS = {
    s.name: s
    for s in (
        Server("hurtle", "hurtle_app.py", "hurtle-http HttpApp, single process"),
        Server("sanic", "sanic_app.py", "Sanic, single_process=True"),
        Server("uvicorn", "uvicorn_app.py", "uvicorn + raw ASGI app, httptools, uvloop"),
        Server("ceiling", "ceiling.py", "uvloop + httptools protocol, canned responses"),
    )
}
CEILING, SANIC, HURTLE = "ceiling", "sanic", "hurtle"
HURTLE_API = ("HttpApp", "Request", "HTTPResponse", "json", "raw")  # what hurtle_app.py imports


@dataclass(frozen=True)
class Sample:
    """What one wrk run measured, and the CPU time the server used meanwhile."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    socket_errors: int
    status_errors: int
    server_cpu_s: float = 0.0

    @property
    def rps(self) -> float:
        """Requests per second of wall-clock time."""
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_share(self) -> float:
        """The fraction of the run the server spent on its CPU (below ~0.95: it was starved)."""
        return self.server_cpu_s / self.seconds if self.seconds else 0.0

    @property
    def per_cpu_s(self) -> float:
        """Requests per second of server CPU time: less sensitive to other load on its CPU."""
        return self.requests / self.server_cpu_s if self.server_cpu_s else 0.0

    @property
    def errors(self) -> int:
        """Socket errors (connect, read, write, timeout) plus non-2xx/3xx responses."""
        return self.socket_errors + self.status_errors


@dataclass
class Results:
    """Every sample, by (server, scenario), and the servers that failed, with why."""

    samples: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def add(self, server: str, scenario: str, sample: Sample) -> None:
        """Record one measurement."""
        self.samples.setdefault((server, scenario), []).append(sample)


# Setup: tools, CPUs, and whether hurtle-http is ready to be measured.


def ensure_wrk() -> str:
    """The path of wrk, installing Debian's package first if it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is not installed: installing it with apt-get ...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "wrk"]):
        try:
            subprocess.run(command, env=env, check=True, timeout=600, capture_output=True)
        except (OSError, subprocess.SubprocessError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            raise BenchError(
                f"could not install wrk (`{' '.join(command)}` failed: {exc}).\n"
                f"{detail.decode(errors='replace')[-2000:]}"
                "Install wrk yourself (Debian/Ubuntu: `apt-get install wrk`, as root) and "
                "run the benchmark again."
            ) from exc
    found = shutil.which("wrk")
    if not found:
        raise BenchError("apt-get installed wrk but it is not on PATH: check PATH and retry.")
    return found


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


# Server processes.


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far, from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may contain spaces
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A port on HOST that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def request(port: int, scenario: Scenario, timeout: float = 5.0) -> tuple[int, bytes]:
    """Send the scenario's request once; the status and the body of the answer."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/octet-stream"} if scenario.body else {}
        connection.request(
            scenario.method, scenario.path, body=scenario.body or None, headers=headers
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def log_tail(log: IO[bytes], lines: int = 20) -> str:
    """The last lines a server wrote, to explain a failure."""
    log.flush()
    log.seek(0)
    text = log.read().decode(errors="replace").rstrip()
    tail = "\n".join(text.splitlines()[-lines:])
    return f"\n--- server output (last {lines} lines) ---\n{tail}" if tail else " (no output)"


def wait_until_ready(process: subprocess.Popen[bytes], port: int, log: IO[bytes]) -> None:
    """Poll the server with a request until it answers; raise if it exits or times out.

    A refused connection means "not listening yet"; a connection reset means the server
    listens but drops requests, which no amount of waiting fixes, so it fails at once.
    """
    probe = SCENARIOS["hello"]
    deadline = time.monotonic() + START_TIMEOUT
    last_error = "no attempt"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerFailed(f"exited with code {process.returncode} at start{log_tail(log)}")
        try:
            request(port, probe, timeout=1.0)
            return
        except ConnectionResetError as exc:
            message = f"accepted a connection, then dropped it ({exc!r}){log_tail(log)}"
            raise ServerFailed(message) from exc
        except (OSError, http.client.HTTPException) as exc:
            last_error = repr(exc)
        time.sleep(0.05)
    raise ServerFailed(f"no answer within {START_TIMEOUT:.0f} s ({last_error}){log_tail(log)}")


def verify(port: int, scenarios: Sequence[Scenario]) -> None:
    """Raise unless the server answers every scenario correctly (fast and wrong is no win)."""
    for scenario in scenarios:
        status, body = request(port, scenario)
        if status != 200:
            raise ServerFailed(
                f"{scenario.method} {scenario.path} answered {status}: {body[:200]!r}"
            )
        if scenario.expected_json is None:
            ok = body == scenario.body
        else:
            try:
                ok = json.loads(body) == scenario.expected_json
            except ValueError:
                ok = False
        if not ok:
            raise ServerFailed(f"{scenario.method} {scenario.path} answered {body[:200]!r}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server by its pid: SIGTERM, then SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running(server: Server, cpu: int) -> Iterator[tuple[int, int]]:
    """Start the server pinned to `cpu`, yield (port, pid) once it answers, always stop it."""
    port = free_port()
    command = ["taskset", "-c", str(cpu), sys.executable, str(server.path), str(port)]
    with tempfile.TemporaryFile() as log:
        # Own session: a Ctrl-C reaches only this script, which then stops the server itself.
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=HERE, start_new_session=True
        )
        try:
            wait_until_ready(process, port, log)
            yield port, process.pid
        finally:
            stop(process)


# Load generation.


def parse_wrk(output: str) -> Sample:
    """The Sample in the BENCH_RESULT line printed by wrk/report.lua."""
    for line in output.splitlines():
        if line.startswith(RESULT_MARKER):
            data = json.loads(line[len(RESULT_MARKER) :])
            return Sample(
                requests=data["requests"],
                seconds=data["duration_us"] / 1e6,
                p50_ms=data["p50_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
                socket_errors=sum(data[k] for k in ("connect", "read", "write", "timeout")),
                status_errors=data["status"],
            )
    raise ServerFailed(f"wrk printed no result:\n{output[-2000:]}")


def run_wrk(port: int, scenario: Scenario, duration: int, connections: int, cpu: int) -> Sample:
    """Load the server with wrk (one thread, pinned to `cpu`) for `duration` seconds."""
    url = f"http://{HOST}:{port}{scenario.path}"
    pin = ["taskset", "-c", str(cpu)]
    load = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", WRK_REQUEST_TIMEOUT]
    command = [*pin, *load, "-s", str(WRK_SCRIPT), url]
    env = {
        **os.environ,
        "BENCH_METHOD": scenario.method,
        "BENCH_BODY_SIZE": str(len(scenario.body)),
    }
    try:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=duration + WRK_SLACK
        )
    except subprocess.TimeoutExpired as exc:
        raise ServerFailed(f"wrk did not finish within {duration + WRK_SLACK:.0f} s") from exc
    if done.returncode != 0:
        raise ServerFailed(f"wrk exited with {done.returncode}: {done.stderr.strip()[-2000:]}")
    return parse_wrk(done.stdout)


# The benchmark loop.


@dataclass(frozen=True)
class Plan:
    """What to run, how long and where."""

    servers: list[Server]
    scenarios: list[Scenario]
    rounds: int
    duration: int
    warmup: int
    connections: int
    server_cpu: int
    client_cpu: int


def measure(pid: int, port: int, scenario: Scenario, plan: Plan) -> Sample:
    """One measured wrk run, with the server's CPU time over it."""
    before = cpu_seconds(pid)
    sample = run_wrk(port, scenario, plan.duration, plan.connections, plan.client_cpu)
    return replace(sample, server_cpu_s=cpu_seconds(pid) - before)


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


# Reporting.


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
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]

    def line(values: Sequence[str]) -> str:
        left = [v.ljust(w) for v, w in zip(values[:2], widths[:2], strict=True)]
        right = [v.rjust(w) for v, w in zip(values[2:], widths[2:], strict=True)]
        return "  ".join(left + right).rstrip()

    out = [line(header), line(["-" * w for w in widths])]
    for index, values in enumerate(cells):
        if index and rows[index].scenario != rows[index - 1].scenario:
            out.append("")
        out.append(line(values))
    return "\n".join(out)


def versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape the numbers."""
    found = {"python": platform.python_version()}
    for dist in ("hurtle-http", "sanic", "uvicorn", "httptools", "uvloop"):
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


def save_json(path: Path, plan: Plan, results: Results, rows: Sequence[Row]) -> None:
    """Write the plan, the versions, every sample and the summary rows as JSON."""
    document = {
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


# Command line.


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
        save_json(args.json, plan, results, rows)
        print(f"\nsaved {args.json}")
    if interrupted:
        return 130
    return 1 if results.failures else 0


if __name__ == "__main__":
    sys.exit(main())
