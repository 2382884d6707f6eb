"""Server processes: start pinned to a CPU, wait until ready, verify, measure CPU, stop."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from httpbench.model import (
    BENCHMARKS,
    HOST,
    HURTLE_HTTP_SOURCE,
    SCENARIOS,
    Scenario,
    Server,
    ServerFailed,
)

START_TIMEOUT = 30.0  # seconds for a server to answer its first request
STOP_TIMEOUT = 10.0  # seconds for a server to exit after SIGTERM, before SIGKILL


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far, from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may contain spaces
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5)
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of the process and of its live descendants (granian serves from a child)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    tree, todo = {pid}, [pid]
    while todo:
        parent = todo.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in tree:
                tree.add(child)
                todo.append(child)
    total = 0.0
    for member in tree:
        try:
            total += cpu_seconds(member)
        except OSError:
            continue
    return total


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
    env = dict(os.environ)
    if server.pure:  # the source comes before the installed (compiled) wheel
        paths = [str(HURTLE_HTTP_SOURCE), env.get("PYTHONPATH", "")]
        env["PYTHONPATH"] = os.pathsep.join(path for path in paths if path)
    with tempfile.TemporaryFile() as log:
        # Own session: a Ctrl-C reaches only this script, which then stops the server itself.
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=BENCHMARKS,
            env=env,
            start_new_session=True,
        )
        try:
            wait_until_ready(process, port, log)
            yield port, process.pid
        finally:
            stop(process)
