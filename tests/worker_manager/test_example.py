"""examples/queue_workers.py: two workers echo over one shared socket, and stop cleanly."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from testkit import alive, descendants, wait_until

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "queue_workers.py"
PORT_LINE = re.compile(r"listening on 127\.0\.0\.1:(\d+) \(main pid (\d+)\)")
ANSWER = re.compile(r"^(Hurtle-Server-\d+-0) pid=(\d+) jobs=\d+: (.*)$")
PID_IN_LOG = re.compile(r"\bpid[ =](\d+)")


class Output:
    """Collects a process's merged stdout/stderr in a thread, for polling."""

    def __init__(self, stream: object) -> None:
        self.lines: list[str] = []
        self.closed = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: object) -> None:
        try:
            for line in stream:  # type: ignore[attr-defined]
                self.lines.append(line.rstrip("\n"))
        finally:
            self.closed.set()

    def text(self) -> str:
        return "\n".join(self.lines[-80:])


def wait_for(condition: Callable[[], Any], what: str, output: Output) -> Any:
    """``testkit.wait_until`` that shows the example's output when it times out."""
    return wait_until(condition, what=lambda: f"{what}; output:\n{output.text()}", timeout=60)


def ask(port: int, text: str) -> tuple[str, int, str]:
    """Send one line on a new connection; return (worker name, pid, echoed text)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(text.encode() + b"\n")
        with sock.makefile("r", encoding="utf-8") as reader:
            answer = reader.readline().rstrip("\n")
    match = ANSWER.match(answer)
    assert match, f"unexpected answer {answer!r}"
    return match[1], int(match[2]), match[3]


@pytest.fixture
def example() -> Iterator[tuple[subprocess.Popen[str], Output, set[int]]]:
    """The example on port 0; every process of it is killed by pid at the end."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HURTLE_DEMO_PORT": "0"}
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--interval", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    output = Output(process.stdout)
    seen: set[int] = set()
    try:
        yield process, output, seen
    finally:
        seen |= descendants(process.pid)
        if process.poll() is None:
            process.kill()
        for pid in seen:
            if not alive(pid):
                continue
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        process.wait(timeout=30)
        output.closed.wait(timeout=30)
        process.stdout.close()


@pytest.mark.slow
def test_echo_from_two_workers_then_clean_stop(
    example: tuple[subprocess.Popen[str], Output, set[int]],
) -> None:
    process, output, seen = example

    def port_line() -> re.Match[str] | None:
        for line in output.lines:
            if match := PORT_LINE.search(line):
                return match
        return None

    match = wait_for(port_line, "the line with the port", output)
    assert isinstance(match, re.Match)
    port, main_pid = int(match[1]), int(match[2])
    assert main_pid == process.pid

    pids: dict[int, str] = {}

    def two_workers_answered() -> bool:
        seen.update(descendants(process.pid))
        name, pid, echoed = ask(port, f"hello {len(pids)}")
        assert echoed.startswith("hello ")
        pids[pid] = name
        return len(pids) >= 2

    wait_for(two_workers_answered, "answers from two different worker pids", output)
    assert set(pids.values()) == {"Hurtle-Server-0-0", "Hurtle-Server-1-0"}, pids
    assert process.pid not in pids

    # The producer feeds the shared queue and the workers consume it.
    wait_for(lambda: any("squared is" in line for line in output.lines), "a consumed job", output)
    seen.update(descendants(process.pid))
    seen.update(int(pid) for line in output.lines for pid in PID_IN_LOG.findall(line))
    seen.discard(process.pid)
    assert set(pids) <= seen

    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the example did not exit after SIGTERM; output:\n{output.text()}")
    assert code == 0, output.text()
    wait_for(lambda: not any(alive(pid) for pid in seen), "every child to be gone", output)
    # Every process that shared our stdout has closed it.
    assert output.closed.wait(timeout=30), output.text()
    assert any("queue_workers: stopped" in line for line in output.lines), output.text()
