"""Run ``hurtle serve`` (or uvicorn) on an ASGI app in a child process; talk to it for real.

``served(target, *args)`` starts ``hurtle serve TARGET --port 0 ARGS`` in ``apps/``, waits
for the "serving on" line (and, with workers, for the manager's "ready" line) and on exit
stops the main process by its pid with SIGTERM, then fails the test if any process it
started is still alive (killing them).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from main_process import MainProcess, launch

APPS = Path(__file__).resolve().parent.parent / "apps"
HURTLE = str(Path(sys.executable).parent / "hurtle")
SERVING = re.compile(r"serving on (https?)://([\d.]+):(\d+)")


class Served(MainProcess):
    """A running server: its main process, log, address and small HTTP helpers."""

    def children(self, prefix: str = "") -> set[int]:
        """Live children of the main process named ``prefix...`` (all are remembered, so
        that ``stop`` can check none outlives it)."""
        return {pid for pid in self.remember_children() if process_name(pid).startswith(prefix)}

    def workers(self) -> set[int]:
        """The live server workers (named ``Server-<n>-<m>`` by the kernel)."""
        return self.children("Server-")

    def connect(self, timeout: float = 10.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(
        self,
        path: str,
        *,
        method: str = "GET",
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request on a fresh connection; returns (status, headers, body)."""
        conn = self.connect(timeout)
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            response = conn.getresponse()
            data = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            conn.close()

    def json(self, path: str, **kwargs: Any) -> Any:
        status, _, body = self.request(path, **kwargs)
        assert status == 200, f"{path} → {status}: {body[:500]!r}\n{self.log()[-2000:]}"
        return json.loads(body)

    def ws_url(self, path: str) -> str:
        return f"ws://{self.host}:{self.port}{path}"


def start(
    argv: list[str],
    *,
    tmp_path: Path,
    env: Mapping[str, str] | None = None,
    pass_fds: tuple[int, ...] = (),
    cwd: Path = APPS,
) -> Served:
    """Start ``argv`` in ``cwd`` (without the caller's ``HURTLE_*`` variables), logged."""
    return launch(
        argv,
        Served,
        tmp_path=tmp_path,
        env=env,
        cwd=cwd,
        pass_fds=pass_fds,
        inherit_hurtle_env=False,
    )


@contextlib.contextmanager
def served(
    target: str,
    *args: str,
    tmp_path: Path,
    env: Mapping[str, str] | None = None,
    ready: bool = True,
    cwd: Path = APPS,
) -> Iterator[Served]:
    """``hurtle serve TARGET --port 0 ARGS``, listening (and every worker acked if ``ready``)."""
    argv = [HURTLE, "serve", target, "--port", "0", *args]
    server = start(argv, tmp_path=tmp_path, env=env, cwd=cwd)
    try:
        match = server.wait_log(SERVING.pattern)
        server.host, server.port = match.group(2), int(match.group(3))
        if ready and "--single-process" not in args:
            server.wait_log(r"Hurtle-Main ready")
        server.workers()
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def uvicorn_served(target: str, *args: str, tmp_path: Path) -> Iterator[Served]:
    """uvicorn on a socket this test bound (port 0), for the differential tests."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    argv = [sys.executable, "-m", "uvicorn", target, "--fd", str(sock.fileno()), *args]
    server = start(argv, tmp_path=tmp_path, pass_fds=(sock.fileno(),))
    server.port = sock.getsockname()[1]
    try:
        server.wait_log(r"Application startup complete|Uvicorn running")
        yield server
    finally:
        sock.close()
        server.stop()


def run_to_exit(
    target: str,
    *args: str,
    tmp_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path = APPS,
) -> tuple[int, str]:
    """``hurtle serve TARGET --port 0 ARGS`` that must exit by itself: (exit code, log)."""
    argv = [HURTLE, "serve", target, "--port", "0", *args]
    server = start(argv, tmp_path=tmp_path, env=env, cwd=cwd)
    return server.wait_exit(60), server.log()


def process_name(pid: int) -> str:
    """The kernel's name of ``pid`` (the manager names its processes ``Server-0-0``,
    ``Inspector-0``...); empty once it is gone."""
    try:
        with open(f"/proc/{pid}/comm") as comm:
            return comm.read().strip()
    except OSError:
        return ""


def rss_kib(pid: int) -> int:
    """The resident set size of ``pid`` in KiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return 0
    return 0


def monotonic() -> float:
    return time.monotonic()
