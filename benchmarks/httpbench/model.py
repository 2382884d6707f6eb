"""What is benchmarked (servers, scenarios, the plan) and what was measured (samples)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent  # the benchmarks/ folder
HURTLE_HTTP_SOURCE = BENCHMARKS.parent / "packages" / "core-http" / "src"
HOST = "127.0.0.1"
ECHO_BODY = b"x" * 1024  # the body wrk_report.lua sends for BENCH_BODY_SIZE=1024


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
    pure: bool = False  # run hurtle-http from its source: pure Python, not the compiled wheel

    @property
    def path(self) -> Path:
        """The script's absolute path."""
        return BENCHMARKS / "servers" / self.script


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
        Server(
            "hurtle-fw",
            "hurtle_framework_app.py",
            "hurtle_app.py + blueprint group, middleware, signal, task",
        ),
        Server(
            "hurtle-pure",
            "hurtle_app.py",
            "hurtle_app.py on hurtle-http's pure-Python source (no mypyc)",
            pure=True,
        ),
        Server("sanic", "sanic_app.py", "Sanic, single_process=True"),
        Server("uvicorn", "uvicorn_app.py", "uvicorn + raw ASGI app, httptools, uvloop"),
        Server("granian", "granian_app.py", "granian (Rust HTTP) + the same raw ASGI app, uvloop"),
        Server("ceiling", "ceiling.py", "uvloop + httptools protocol, canned responses"),
    )
}

CEILING, SANIC, HURTLE = "ceiling", "sanic", "hurtle"

HURTLE_API = ("HttpApp", "Request", "HTTPResponse", "json", "raw")  # what hurtle_app.py imports


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
