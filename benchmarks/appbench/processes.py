"""Multi-process servers: start, time the first 200, find the workers, stop, check for leftovers.

A server is started in its own session (its pid is its process group), so that a Ctrl-C reaches
only the benchmark, which then stops the server itself. Its workers are found in /proc: the
processes of its group, other than the main one, that hold the listening socket (this leaves
out helpers such as multiprocessing's resource tracker or Sanic's Manager process). After the
main process has exited, any live process left in its group, or any worker seen during the run
still alive, is a leftover: it is reported and killed.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from httpbench.model import BENCHMARKS, SCENARIOS, Scenario, ServerFailed
from httpbench.processes import free_port, log_tail, request, stop

START_TIMEOUT = 60.0  # seconds for a server to answer its first request (spawn on a busy box)
WORKERS_TIMEOUT = 60.0  # seconds for all its workers to answer after the first 200
POLL = 0.01  # seconds between polls of a starting server
PID_PROBE = Scenario("pid", "GET", "/pid")  # every workers app answers {"pid": N}


@dataclass(frozen=True)
class Proc:
    """One process as /proc shows it: (pid, start time) identifies it despite pid reuse."""

    pid: int
    ppid: int
    pgid: int
    state: str
    start_ticks: int


def processes() -> dict[int, Proc]:
    """Every process on the machine, from /proc/PID/stat."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:  # exited meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # the command name may contain spaces
        pid = int(entry.name)
        found[pid] = Proc(pid, int(fields[1]), int(fields[2]), fields[0], int(fields[19]))
    return found


def alive(proc: Proc) -> bool:
    """Whether this very process still runs (not exited, not a zombie, pid not reused)."""
    try:
        stat = Path(f"/proc/{proc.pid}/stat").read_text()
    except OSError:
        return False
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[0] not in ("Z", "X") and int(fields[19]) == proc.start_ticks


def listening_inodes(port: int) -> set[str]:
    """Inodes of the TCP sockets listening on 127.0.0.1:port (one, or one per SO_REUSEPORT)."""
    local = f"0100007F:{port:04X}"
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        cols = line.split()
        if cols[1] == local and cols[3] == "0A":  # 0A: LISTEN
            inodes.add(cols[9])
    return inodes


def holds_socket(pid: int, inodes: set[str]) -> bool:
    """Whether the process has a file descriptor on one of these socket inodes."""
    wanted = {f"socket:[{inode}]" for inode in inodes}
    try:
        for fd in os.scandir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(fd.path) in wanted:
                    return True
            except OSError:
                continue
    except OSError:
        return False
    return False


@dataclass
class ServerProcess:
    """A running server: its main process, port, start-up time, and every process seen."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: IO[bytes]
    first_200_s: float = 0.0
    seen: dict[int, Proc] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        """The main process's pid (also its process group)."""
        return self.process.pid

    def group(self) -> dict[int, Proc]:
        """The live processes of the server's process group, remembered for the leftover check."""
        members = {
            p.pid: p
            for p in processes().values()
            if p.pgid == self.pid and p.state not in ("Z", "X")
        }
        self.seen.update(members)
        return members

    def workers(self) -> dict[int, Proc]:
        """The live processes of the group, other than the main one, that hold the socket."""
        inodes = listening_inodes(self.port)
        return {
            pid: p
            for pid, p in self.group().items()
            if pid != self.pid and holds_socket(pid, inodes)
        }

    def tail(self) -> str:
        """The last lines of the server's output, to explain a failure."""
        return log_tail(self.log)


def wait_first_200(server: ServerProcess, started: float) -> None:
    """Poll `GET /` until it answers 200; record the time since `started` (before Popen)."""
    probe = SCENARIOS["hello"]
    deadline = started + START_TIMEOUT
    last_error = "no attempt"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerFailed(f"exited with code {server.process.returncode}{server.tail()}")
        try:
            status, body = request(server.port, probe, timeout=5.0)
        except (OSError, http.client.HTTPException) as exc:
            last_error = repr(exc)
            time.sleep(POLL)
            continue
        if status == 200:
            server.first_200_s = time.monotonic() - started
            return
        last_error = f"status {status}: {body[:100]!r}"
        time.sleep(POLL)
    raise ServerFailed(f"no 200 within {START_TIMEOUT:.0f} s ({last_error}){server.tail()}")


def wait_workers(server: ServerProcess, count: int) -> dict[int, Proc]:
    """Wait until `count` worker processes hold the socket and each answered `GET /pid`."""
    deadline = time.monotonic() + WORKERS_TIMEOUT
    answered: set[int] = set()
    workers: dict[int, Proc] = {}
    while time.monotonic() < deadline:
        workers = server.workers()
        if len(workers) == count and set(workers) <= answered:
            return workers
        try:  # a fresh connection each time: the kernel hands it to any worker
            status, body = request(server.port, PID_PROBE, timeout=5.0)
            if status == 200:
                answered.add(int(body.split(b":")[1].strip(b" }")))
        except (OSError, http.client.HTTPException, ValueError, IndexError):
            time.sleep(POLL)
    raise ServerFailed(
        f"expected {count} workers answering within {WORKERS_TIMEOUT:.0f} s; saw workers "
        f"{sorted(workers)}, answers from {sorted(answered)}{server.tail()}"
    )


def stop_all(server: ServerProcess) -> list[str]:
    """Stop the main process by its pid; kill and describe whatever of the server remains."""
    server.group()  # remember the latest members before stopping
    stop(server.process)
    deadline = time.monotonic() + 5.0  # workers may outlive the main process by a moment
    left: list[Proc] = []
    while time.monotonic() < deadline:
        left = [p for p in server.seen.values() if p.pid != server.pid and alive(p)]
        left += [p for p in server.group().values() if p.pid != server.pid and p not in left]
        if not left:
            return []
        time.sleep(0.05)
    leftovers = [f"pid {p.pid} (parent {p.ppid}, group {p.pgid}) still running" for p in left]
    for p in left:
        try:
            os.kill(p.pid, signal.SIGKILL)
        except OSError:
            pass
    return leftovers


@contextmanager
def running(name: str, script: str, workers: int) -> Iterator[ServerProcess]:
    """Start `servers/<script> PORT WORKERS`, yield it once it answered 200, always stop it.

    Leftover processes after the stop are printed and raise ServerFailed (the server
    left something behind: a defect to report, not noise).
    """
    port = free_port()
    command = [sys.executable, str(BENCHMARKS / "servers" / script), str(port), str(workers)]
    with tempfile.TemporaryFile() as log:
        started = time.monotonic()
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=BENCHMARKS, start_new_session=True
        )
        server = ServerProcess(name, process, port, log)
        leftovers: list[str] = []
        try:
            wait_first_200(server, started)
            yield server
        finally:
            leftovers = stop_all(server)
            if leftovers:
                print(f"  {name} LEFT PROCESSES BEHIND: {'; '.join(leftovers)}", file=sys.stderr)
        if leftovers:
            raise ServerFailed(f"left processes behind after stopping: {'; '.join(leftovers)}")
