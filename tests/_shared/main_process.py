"""A server's main process started by a test: its log, its address, and a stop that checks.

``launch(argv, ...)`` starts the command with its output in a log file and a mark in its
environment (``HURTLE_TEST_MARK``, inherited by every process it starts), so that
``MainProcess.stop`` can signal it by pid, wait, and fail the test if any process it
started outlives it (killing those). The suites' harnesses (``meta_helpers.Server``,
``asgi_helpers.Served``) add their HTTP helpers on top.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

import pytest
from testkit import descendants, marked, wait_for_exit, wait_until

__all__ = ["MainProcess", "launch"]


class MainProcess:
    """A running main process, its log file and the address it serves (once known)."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path, mark: str) -> None:
        self.process = process
        self.log_path = log_path
        self.mark = mark
        self.host = "127.0.0.1"
        self.port = 0
        self.seen: set[int] = set()

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def remember_children(self) -> set[int]:
        """The live processes below the main process (its children, and the children of the
        forkserver's template); ``stop`` checks none outlives it."""
        found = descendants(self.pid)
        self.seen |= found
        return found

    def wait_log(self, pattern: str, *, timeout: float = 30.0) -> re.Match[str]:
        """Wait for a log line matching ``pattern``; fail showing the log."""
        regex = re.compile(pattern)

        def found() -> re.Match[str] | None:
            match = regex.search(self.log())
            if match is None and self.process.poll() is not None:
                pytest.fail(
                    f"the main process exited ({self.process.returncode}) before "
                    f"{pattern!r}:\n{self.log()[-4000:]}"
                )
            return match

        return wait_until(
            found, timeout=timeout, what=lambda: f"{pattern!r} in:\n{self.log()[-4000:]}"
        )

    def halt(self, sig: int = signal.SIGTERM, *, timeout: float = 30.0) -> str:
        """Signal the main process, wait for it, kill what outlives it: '' or what went wrong.

        For fixtures that stop several servers before failing; ``stop`` fails at once.
        """
        problems = []
        if self.process.poll() is None:
            self.remember_children()
            self.process.send_signal(sig)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            problems.append(f"the main process did not stop within {timeout} s")
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        survivors = wait_for_exit(self.seen | marked(self.mark), timeout=5)
        survivors.discard(self.pid)
        for pid in survivors:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if survivors:
            problems.append(f"processes {sorted(survivors)} outlived the main process")
        return "; ".join(problems)

    def stop(self, sig: int = signal.SIGTERM, *, timeout: float = 30.0) -> int:
        """Signal the main process, wait for it; fail if a process it started outlives it."""
        problem = self.halt(sig, timeout=timeout)
        if problem:
            pytest.fail(f"{problem}:\n{self.log()[-3000:]}")
        return self.process.returncode

    def wait_exit(self, timeout: float) -> int:
        """Wait for a main process that must exit by itself; its exit code."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop(signal.SIGKILL)
            pytest.fail(f"the main process did not exit within {timeout} s:\n{self.log()[-3000:]}")
        problem = self.halt()
        if problem:
            pytest.fail(problem)
        return code


Kind = TypeVar("Kind", bound=MainProcess)


def launch(
    argv: list[str],
    kind: type[Kind],
    *,
    tmp_path: Path,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    pass_fds: tuple[int, ...] = (),
    inherit_hurtle_env: bool = True,
    stdout_pipe: bool = False,
) -> Kind:
    """Start ``argv`` in ``cwd`` with its output in a log file under ``tmp_path``.

    ``kind`` is the ``MainProcess`` class to return; ``inherit_hurtle_env=False`` drops
    the caller's ``HURTLE_*`` variables first; ``stdout_pipe=True`` leaves its standard
    output to the caller (``process.stdout``) and logs only its standard error.
    """
    mark = uuid.uuid4().hex
    log_path = tmp_path / f"main-{mark[:8]}.log"
    base = {
        key: value
        for key, value in os.environ.items()
        if inherit_hurtle_env or not key.startswith("HURTLE_")
    }
    full_env = {**base, "PYTHONUNBUFFERED": "1", "HURTLE_TEST_MARK": mark, **(env or {})}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE if stdout_pipe else log,
            stderr=log if stdout_pipe else subprocess.STDOUT,
            env=full_env,
            cwd=str(cwd),
            pass_fds=pass_fds,
        )
    return kind(process, log_path, mark)
