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
import signal
import socket
import ssl
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import testkit
from testkit import alive, children_of

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


@dataclass
class RunningApp:
    """A manager process with server workers and an inspector, started by ``start_app``."""

    process: subprocess.Popen[bytes]
    folder: Path
    app_port: int
    inspector_port: int
    api_key: str | None = None
    cafile: str | None = None
    seen: set[int] = field(default_factory=set)
    metrics_port: int | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def log(self) -> str:
        return (self.folder / "stderr.log").read_text(errors="replace")

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
    stderr = open(folder / "stderr.log", "wb")  # noqa: SIM115 - the child owns it
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, str(MAIN), json.dumps(options)],
        stdout=subprocess.PIPE,
        stderr=stderr,
        cwd=folder,
        env=env,
    )
    stderr.close()
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 30)
    line = process.stdout.readline() if ready else b""
    if not line:
        process.kill()
        process.wait(10)
        log = (folder / "stderr.log").read_text(errors="replace")
        pytest.fail(f"the app did not start (exit {process.returncode}):\n{log}")
    ports = json.loads(line)
    key = (config or {}).get("INSPECTOR_API_KEY")
    cert = (config or {}).get("INSPECTOR_TLS_CERT")
    app = RunningApp(
        process,
        folder,
        ports["app_port"],
        ports["inspector_port"],
        api_key=str(key) if key else None,
        cafile=str(cert) if cert else None,
        metrics_port=ports.get("metrics_port"),
    )
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
        pytest.fail(f"the app exited with {app.process.returncode}:\n{app.log}")
    try:
        return app.call("GET", path, timeout=5).status == 200
    except OSError:
        return False


def stop_app(app: RunningApp) -> str:
    """Stop the app (SIGTERM to its main pid, then SIGKILL); '' or what went wrong.

    Every process the app ever showed is checked: one left running is a failure.
    """
    problems = []
    if app.process.poll() is None:
        app.seen.update(children_of(app.pid))
        app.process.send_signal(signal.SIGTERM)
        try:
            app.process.wait(25)
        except subprocess.TimeoutExpired:
            problems.append("the manager did not exit within 25 s of SIGTERM")
            app.process.kill()
            app.process.wait(10)
    if app.process.stdout is not None:
        app.process.stdout.close()
    testkit.wait_for_exit(set(app.seen), timeout=5)
    leaked = {pid for pid in app.seen if alive(pid) and pid != app.pid}
    for pid in leaked:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    if leaked:
        problems.append(f"processes left running after the manager exited: {sorted(leaked)}")
    return "; ".join(problems)


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
