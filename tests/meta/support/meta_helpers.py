"""Run a Hurtle app script as a real main process and talk to it over real sockets.

``served(script, *args)`` starts ``python <script> --port 0 <args>``, waits for the
"serving on http://host:port" line, and on exit stops the main process by its pid with
SIGTERM, then fails the test if any of its children is still alive (killing them).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import testkit
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


class Server:
    """A running app: its main process, log, address and an HTTP client."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path, mark: str) -> None:
        self.process = process
        self.mark = mark
        self.log_path = log_path
        self.host = ""
        self.port = 0
        self.tls: ssl.SSLContext | None = None
        self.seen_children: set[int] = set()

    @property
    def pid(self) -> int:
        return self.process.pid

    def children(self) -> set[int]:
        """The live child processes of the main process."""
        return children_of(self.pid)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, pattern: str, *, timeout: float = 20.0) -> re.Match[str]:
        """Wait for a log line matching ``pattern``; fail showing the log."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.log())
            if match:
                return match
            if self.process.poll() is not None and not regex.search(self.log()):
                pytest.fail(
                    f"the app exited ({self.process.returncode}) before {pattern!r}:\n"
                    + self.log()[-4000:]
                )
            if time.monotonic() > deadline:
                pytest.fail(f"no log line {pattern!r} after {timeout} s:\n{self.log()[-4000:]}")
            time.sleep(0.05)

    def request(
        self, path: str, *, method: str = "GET", body: bytes | None = None, timeout: float = 10.0
    ) -> tuple[int, bytes]:
        """One request on a fresh connection; returns (status, body)."""
        self.seen_children |= children_of(self.pid)
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

    def stop(self, sig: int = signal.SIGTERM, *, timeout: float = 30.0) -> int:
        """Signal the main process, wait for it; fail if a child outlives it."""
        self.seen_children |= children_of(self.pid)
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"the main process did not stop within {timeout} s:\n{self.log()[-3000:]}")
        survivors = wait_for_exit(self.seen_children | marked(self.mark), timeout=5)
        if survivors:
            for pid in survivors:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            pytest.fail(f"processes {sorted(survivors)} outlived the main process")
        return code


def start(
    script: str,
    *args: str,
    tmp_path: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Server:
    """Start ``python <script> args`` with its output in a log file under ``tmp_path``."""
    log_path = tmp_path / f"{Path(script).stem}.{time.monotonic_ns()}.log"
    path = script if os.path.isabs(script) else str(APPS / script)
    mark = uuid.uuid4().hex
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "HURTLE_TEST_MARK": mark, **(env or {})}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, path, *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=str(cwd or tmp_path),
        )
    return Server(process, log_path, mark)


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
) -> Iterator[Server]:
    """A running app (listening, and with every server acked when ``ready``).

    With ``cafile`` the client speaks HTTPS and trusts that certificate.
    """
    server = start(script, *port_args, *args, tmp_path=tmp_path, env=env, cwd=cwd)
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
    try:
        code = server.process.wait(timeout)
    except subprocess.TimeoutExpired:
        server.stop(signal.SIGKILL)
        pytest.fail(f"the app did not exit within {timeout} s:\n{server.log()[-3000:]}")
    survivors = wait_for_exit(marked(server.mark), timeout=5)
    for pid in survivors:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not survivors, f"processes {sorted(survivors)} outlived the main process"
    return code, server.log(), server
