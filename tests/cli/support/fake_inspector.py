"""A stdlib HTTP(S) server that speaks the inspector's wire format, for the CLI tests.

It keeps a small process table that ``scale``/``reload``/``restart`` really change, checks
the bearer token, answers 404/405/400/500 in the error envelope, and records every request
so tests can assert on what the client sent.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "Super-Secret-200"
BUILTINS = ("reload", "restart", "scale", "shutdown", "stats")
CUSTOM = ("echo", "boom", "slow", "shaped")


@dataclass
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float


@dataclass
class State:
    """The fake server's process table and settings."""

    api_key: str | None = None
    list_available: bool = True
    workers: int = 2
    generation: dict[int, int] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def names(self) -> list[str]:
        return [f"Hurtle-Server-{i}-0" for i in range(self.workers)]

    def table(self) -> dict[str, Any]:
        start = datetime.now(timezone.utc) - timedelta(seconds=3725)
        table: dict[str, Any] = {}
        for i, name in enumerate(self.names()):
            table[name] = {
                "server": True,
                "state": "ACKED",
                "pid": 5000 + i,
                "start_at": start.isoformat(),
                "starts": self.generation.get(i, 1),
                "generation": self.generation.get(i, 1),
                "serving": True,
                "rss": 43_100_000,
                "http": {"served": 1200 + i, "in_flight": i, "errors": 0, "connections": 3},
                "an_unknown_field": [1, 2],
            }
        table["Hurtle-Inspector-0"] = {
            "server": False,
            "state": "STARTED",
            "pid": 4999,
            "start_at": start.isoformat(),
            "starts": 1,
            "generation": 1,
        }
        table["Hurtle-Main"] = {"pid": 4000}
        return table


class Handler(BaseHTTPRequestHandler):
    """Answers one request from ``server.state``."""

    server: Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _send(self, status: int, payload: Any, extra: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, action: str, message: str, **more: Any) -> None:
        extra = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        self._send(status, {"meta": {"action": action}, "error": message, **more}, extra)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        action = path.strip("/") or "info"
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = "<invalid json>"
        with state.lock:
            state.seen.append(Seen(method, self.path, dict(self.headers), body, time.monotonic()))
        if action in ("health", "ready"):
            self._send(200, {"meta": {"action": action}, "result": "ok"})
            return
        if state.api_key and self.headers.get("Authorization") != f"Bearer {state.api_key}":
            self._error(401, action, "bad or missing API key")
            return
        if body == "<invalid json>" or (body is not None and not isinstance(body, dict)):
            self._error(400, action, "the body must be a JSON object")
            return
        body = body or {}
        if action not in ("info", *BUILTINS, *CUSTOM):
            if state.list_available:
                available = ["info", *BUILTINS, *CUSTOM]
                self._error(404, action, f"unknown command {action!r}", available=available)
            else:
                self._error(404, action, "not found")
            return
        if method == "GET" and action not in ("info", "stats"):
            self._error(405, action, f"{action} needs POST")
            return
        try:
            result = getattr(self, f"act_{action}")(body, query)
        except ValueError as exc:
            self._error(400, action, str(exc))
            return
        except RuntimeError as exc:
            self._error(500, action, f"the command raised RuntimeError: {exc}", result=None)
            return
        self._send(200, {"meta": {"action": action}, "result": result, "extra": 1})

    def act_info(self, body: dict[str, Any], query: str) -> Any:
        state = self.server.state
        info = {
            "app": "FakeApp",
            "mode": f"production, w/ {state.workers} workers",
            "server": "hurtle-http",
            "python": "3.11.7",
            "platform": "Linux-test",
            "packages": ["hurtle==0.1.0", "hurtle-http==0.1.0"],
            "extra": {"region": "eu-1"},
            "auto-reload": "disabled",
        }
        return {"info": info, "workers": state.table()}

    def act_reload(self, body: dict[str, Any], query: str) -> Any:
        state = self.server.state
        for key in body:
            if key not in ("zero_downtime", "wait"):
                raise ValueError(f"reload got an unexpected argument {key!r}")
        with state.lock:
            for i in range(state.workers):
                state.generation[i] = state.generation.get(i, 1) + 1
        return {
            "restarted": state.names(),
            "zero_downtime": bool(body.get("zero_downtime")),
            "waited": bool(body.get("wait")),
        }

    def act_restart(self, body: dict[str, Any], query: str) -> Any:
        names = body.get("names")
        if not names or any(n not in self.server.state.names() for n in names):
            raise ValueError(f"no such process: {names}")
        return {"restarted": names}

    def act_scale(self, body: dict[str, Any], query: str) -> Any:
        replicas = body.get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or not 1 <= replicas <= 64:
            raise ValueError(f"replicas must be a whole number from 1 to 64, not {replicas!r}")
        state = self.server.state
        with state.lock:
            state.workers = replicas
        return {"replicas": replicas, "workers": state.names()}

    def act_shutdown(self, body: dict[str, Any], query: str) -> Any:
        return {"shutting_down": True}

    def act_stats(self, body: dict[str, Any], query: str) -> Any:
        state = self.server.state
        rows = {
            name: {
                "server": True,
                "pid": 5000 + i,
                "state": "ACKED",
                "generation": 1,
                "starts": 1,
                "uptime": 65.5,
                "rss": 50_331_648,
                "cpu_seconds": 1.25,
                "http": {"served": 10 * (i + 1), "in_flight": 0},
            }
            for i, name in enumerate(state.names())
        }
        rows["Hurtle-Main"] = {"server": False, "pid": 4000, "state": "ACKED", "uptime": 70.0}
        return {"workers": rows}

    def act_echo(self, body: dict[str, Any], query: str) -> Any:
        return {
            "args": body.get("args", []),
            "kwargs": {k: v for k, v in body.items() if k != "args"},
        }

    def act_boom(self, body: dict[str, Any], query: str) -> Any:
        raise RuntimeError("kaboom")

    def act_slow(self, body: dict[str, Any], query: str) -> Any:
        self.server.state.release.wait(30)  # until the fixture's teardown
        return "late"

    def act_shaped(self, body: dict[str, Any], query: str) -> Any:
        return "a plain string result"


class Server(ThreadingHTTPServer):
    """The fake inspector; with ``context`` it serves HTTPS (handshake in the handler thread)."""

    daemon_threads = True

    def __init__(self, state: State, context: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.state = state
        self.context = context

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = super().get_request()
        if self.context is not None:
            sock = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client hanging up or failing TLS is part of some tests

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class Running:
    """A started fake inspector; ``stop()`` shuts it down and joins its thread."""

    def __init__(self, state: State, context: ssl.SSLContext | None = None) -> None:
        self.state = state
        self.server = Server(state, context)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server.port

    def requests(self, path: str | None = None) -> list[Seen]:
        with self.state.lock:
            return [s for s in self.state.seen if path is None or s.path == path]

    def stop(self) -> None:
        self.state.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)
        assert not self.thread.is_alive(), "the fake inspector's thread did not stop"
