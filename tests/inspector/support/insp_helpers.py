"""Helpers for the inspector tests: run a real app in a subprocess, talk to it over HTTP.

Everything is polled with a deadline, and every process is stopped by its pid.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import json
import os
import select
import socket
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import testkit
from main_process import MainProcess, launch
from testkit import alive, children_of  # noqa: F401 - alive is re-exported for the tests

MAIN = Path(__file__).parent / "insp_main.py"

wait_until = functools.partial(testkit.wait_until, timeout=15.0, interval=0.02, what="it")
"""``testkit.wait_until`` with this suite's deadline (15 s) and polling (20 ms)."""


def cmdline(pid: int) -> str:
    """The command line of ``pid`` ('' when gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            return file.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def managed_children(pid: int) -> set[int]:
    """Children of ``pid`` that the manager started (not multiprocessing's helpers)."""
    return {kid for kid in children_of(pid) if "resource_tracker" not in cmdline(kid)}


@dataclass
class Reply:
    """One HTTP answer: status, headers (lower-case names) and the decoded JSON body."""

    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class RunningApp(MainProcess):
    """A manager process with server workers and an inspector, started by ``start_app``."""

    app_port = 0
    inspector_port = 0
    api_key: str | None = None
    cafile: str | None = None
    metrics_port: int | None = None

    def connection(self, timeout: float = 30.0) -> http.client.HTTPConnection:
        """A new client connection to the inspector (TLS when the app uses it)."""
        if self.cafile is not None:
            context = ssl.create_default_context(cafile=self.cafile)
            return http.client.HTTPSConnection(
                "127.0.0.1", self.inspector_port, timeout=timeout, context=context
            )
        return http.client.HTTPConnection("127.0.0.1", self.inspector_port, timeout=timeout)

    def call(
        self,
        method: str,
        path: str,
        body: object = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
        timeout: float = 30.0,
    ) -> Reply:
        """Send one request to the inspector; ``body`` is encoded as JSON, ``raw`` as is."""
        sent = dict(headers or {})
        if auth and self.api_key is not None:
            sent.setdefault("Authorization", f"Bearer {self.api_key}")
        data = raw
        if data is None and body is not None:
            data = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            payload = response.read()
            names = {name.lower(): value for name, value in response.getheaders()}
            return Reply(response.status, names, payload)
        finally:
            conn.close()

    def info(self) -> dict[str, Any]:
        """``GET /`` result, remembering every pid it lists."""
        reply = self.call("GET", "/")
        assert reply.status == 200, reply
        result: dict[str, Any] = reply.json["result"]
        self.seen.update(e["pid"] for e in result["workers"].values() if e.get("pid"))
        return result

    def servers(self) -> dict[str, dict[str, Any]]:
        """The server entries of the worker state."""
        return {n: e for n, e in self.info()["workers"].items() if e.get("server")}

    def acked_servers(self) -> dict[str, dict[str, Any]]:
        """Current (not draining) server entries that are ACKED."""
        return testkit.acked_servers(self.info()["workers"])

    def settled(self, count: int) -> dict[str, dict[str, Any]] | None:
        """The servers when exactly ``count`` are ACKED and nothing starts or drains."""
        servers = self.servers()
        if len(servers) == count and all(
            e["state"] == "ACKED" and e["current"] for e in servers.values()
        ):
            return servers
        return None

    def app_pid(self) -> int:
        """Ask the served app which worker answered (proves the app serves)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.app_port, timeout=10)
        try:
            conn.request("GET", "/")
            response = conn.getresponse()
            assert response.status == 200
            return int(json.loads(response.read())["pid"])
        finally:
            conn.close()


def start_app(
    folder: Path,
    *,
    workers: int = 2,
    start_method: str = "fork",
    config: dict[str, object] | None = None,
    inspector_class: str = "hurtle_inspector:Inspector",
    server_kwargs: dict[str, object] | None = None,
    max_workers: int = 6,
    wait_ready: bool = True,
    manager: dict[str, object] | None = None,
) -> RunningApp:
    """Start ``insp_main.py`` and wait until the inspector answers (and servers are ready)."""
    folder.mkdir(parents=True, exist_ok=True)
    options = {
        "workers": workers,
        "start_method": start_method,
        "config": config or {},
        "inspector_class": inspector_class,
        "server_kwargs": server_kwargs or {},
        "max_workers": max_workers,
        "manager": manager or {},
    }
    env = {"PYTHONPATH": os.pathsep.join(sys.path)}
    argv = [sys.executable, str(MAIN), json.dumps(options)]
    app = launch(argv, RunningApp, tmp_path=folder, cwd=folder, env=env, stdout_pipe=True)
    assert app.process.stdout is not None
    ready, _, _ = select.select([app.process.stdout], [], [], 30)
    line = app.process.stdout.readline() if ready else b""
    if not line:
        app.process.kill()
        app.process.wait(10)
        pytest.fail(f"the app did not start (exit {app.process.returncode}):\n{app.log()}")
    ports = json.loads(line)
    key = (config or {}).get("INSPECTOR_API_KEY")
    cert = (config or {}).get("INSPECTOR_TLS_CERT")
    app.app_port, app.inspector_port = ports["app_port"], ports["inspector_port"]
    app.api_key = str(key) if key else None
    app.cafile = str(cert) if cert else None
    app.metrics_port = ports.get("metrics_port")
    try:
        wait_until(lambda: _answers(app, "/health"), what="the inspector to answer /health")
        if wait_ready:
            wait_until(lambda: _answers(app, "/ready"), what="a server worker to be ready")
            wait_until(lambda: len(app.acked_servers()) == workers, what=f"{workers} servers")
    except BaseException:
        stop_app(app)
        raise
    return app


def _answers(app: RunningApp, path: str) -> bool:
    app.seen.update(managed_children(app.pid))
    if app.process.poll() is not None:
        pytest.fail(f"the app exited with {app.process.returncode}:\n{app.log()}")
    try:
        return app.call("GET", path, timeout=5).status == 200
    except OSError:
        return False


def stop_app(app: RunningApp) -> str:
    """Stop the app (SIGTERM to its main pid, then SIGKILL); '' or what went wrong.

    Every process the app ever showed is checked: one left running is a failure.
    """
    return app.halt(timeout=25)


def raw_exchange(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send ``data`` on a new TCP connection and read until the peer closes (or times out)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(data)
        chunks = []
        with contextlib.suppress(OSError):
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        return b"".join(chunks)
