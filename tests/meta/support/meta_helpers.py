"""Run a Hurtle app script as a real main process and talk to it over real sockets.

``served(script, *args)`` starts ``python <script> --port 0 <args>``, waits for the
"serving on http://host:port" line, and on exit stops the main process by its pid with
SIGTERM, then fails the test if any of its children is still alive (killing them): the
process handling is ``main_process.MainProcess``, shared with the ASGI suite.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import testkit
from main_process import MainProcess, launch
from testkit import (  # noqa: F401 - re-exported for the tests
    alive,
    children_of,
    make_certificate,
    marked,
    wait_for_exit,
    wait_until,
)

APPS = Path(__file__).resolve().parent.parent / "apps"
SERVING = re.compile(r"serving on (https?)://([\d.]+):(\d+)")


class Server(MainProcess):
    """A running app: its main process, log, address and an HTTP client."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path, mark: str) -> None:
        super().__init__(process, log_path, mark)
        self.host = ""
        self.tls: ssl.SSLContext | None = None

    def children(self) -> set[int]:
        """The live child processes of the main process."""
        return self.remember_children()

    def request(
        self, path: str, *, method: str = "GET", body: bytes | None = None, timeout: float = 10.0
    ) -> tuple[int, bytes]:
        """One request on a fresh connection; returns (status, body)."""
        self.remember_children()
        conn = (
            http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=self.tls)
            if self.tls is not None
            else http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        )
        try:
            conn.request(method, path, body=body, headers={"Connection": "close"})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def get_json(self, path: str) -> Any:
        status, body = self.request(path)
        assert status == 200, f"GET {path} → {status}: {body[:500]!r}"
        return json.loads(body)

    def acked_servers(self) -> dict[str, Any]:
        """Server entries that are ACKED (from a worker's own view of the state)."""
        return testkit.acked_servers(self.get_json("/workers"))

    def wait_acked(self, count: int, *, timeout: float = 20.0) -> dict[str, Any]:
        """Wait until a worker's view of the state shows exactly ``count`` acked servers."""
        seen: dict[str, Any] = {}

        def enough() -> dict[str, Any] | None:
            nonlocal seen
            seen = self.acked_servers()
            return seen if len(seen) == count else None

        return wait_until(enough, timeout=timeout, what=f"{count} acked servers (saw {seen})")


def start(
    script: str,
    *args: str,
    tmp_path: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    wrapper: tuple[str, ...] = (),
) -> Server:
    """Start ``python <script> args`` with its output in a log file under ``tmp_path``.

    ``wrapper`` is a command that execs the rest (e.g. a socket-activation wrapper).
    """
    path = script if os.path.isabs(script) else str(APPS / script)
    argv = [*wrapper, sys.executable, path, *args]
    return launch(argv, Server, tmp_path=tmp_path, env=env, cwd=cwd or tmp_path)


@contextlib.contextmanager
def served(
    script: str,
    *args: str,
    tmp_path: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    ready: bool = True,
    port_args: tuple[str, ...] = ("--port", "0"),
    cafile: Path | None = None,
    wrapper: tuple[str, ...] = (),
) -> Iterator[Server]:
    """A running app (listening, and with every server acked when ``ready``).

    With ``cafile`` the client speaks HTTPS and trusts that certificate.
    """
    server = start(script, *port_args, *args, tmp_path=tmp_path, env=env, cwd=cwd, wrapper=wrapper)
    if cafile is not None:
        server.tls = ssl.create_default_context(cafile=str(cafile))
        server.tls.check_hostname = False
    try:
        match = server.wait_log(SERVING.pattern)
        server.host, server.port = match.group(2), int(match.group(3))
        if ready:
            server.wait_log(r"Hurtle-Main ready")
        yield server
    finally:
        server.stop()


def run_to_exit(
    script: str,
    *args: str,
    tmp_path: Path,
    env: dict[str, str] | None = None,
    timeout: float = 40.0,
) -> tuple[int, str, Server]:
    """Run an app that is expected to exit by itself; returns (exit code, log, server)."""
    server = start(script, *args, tmp_path=tmp_path, env=env)
    code = server.wait_exit(timeout)
    return code, server.log(), server
