"""``hurtle inspect`` as a real child process: ``stats --watch`` and colours on a terminal."""

from __future__ import annotations

import itertools
import os
import pty
import re
import select
import signal
import subprocess
import time

import pytest
from cli_helpers import hurtle_command, run_hurtle, subprocess_env
from fake_inspector import Running
from testkit import wait_until

from hurtle_cli.inspect import WATCH_INTERVAL

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _watch_until_ctrl_c(inspector: Running, *options: str, requests: int) -> tuple[str, str]:
    """Run ``stats --watch`` until the inspector saw ``requests`` requests, then Ctrl-C it.

    Returns its stdout and stderr; it must have ended with status 0.
    """
    proc = subprocess.Popen(
        [*hurtle_command(), "inspect", "stats", "--watch", *options, "-p", str(inspector.port)],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(
            lambda: len(inspector.requests("/stats")) >= requests, what=f"{requests} refreshes"
        )
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, err
    return out, err


def test_watch_refreshes_every_second_until_ctrl_c(inspector: Running) -> None:
    # A refresh is printed before the next request starts: 4 requests mean 3 tables.
    out, err = _watch_until_ctrl_c(inspector, requests=4)
    assert err == "", "Ctrl-C ends the watch quietly"
    # Paced, not a busy loop: a refresh never starts before the interval has passed since
    # the one before (a lower bound only; a slow machine may take longer, never shorter).
    times = [seen.at for seen in inspector.requests("/stats")]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= WATCH_INTERVAL - 0.05, gaps
    # Each refresh printed a whole table: a header and every process.
    assert out.count("NAME  ") >= 3, out
    assert out.count("Hurtle-Server-0-0") == out.count("Hurtle-Server-1-0") >= 3, out


def test_watch_json_prints_one_line_per_refresh(inspector: Running) -> None:
    out, _ = _watch_until_ctrl_c(inspector, "--json", requests=3)
    lines = out.splitlines()
    assert len(lines) >= 2
    assert all(line.startswith('{"workers":{"Hurtle-Server-0-0":{') for line in lines), lines


def test_watch_stops_with_exit_3_when_the_server_goes_away(inspector: Running) -> None:
    proc = subprocess.Popen(
        [*hurtle_command(), "inspect", "stats", "--watch", "-p", str(inspector.port)],
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: len(inspector.requests("/stats")) >= 1, what="the first refresh")
        inspector.stop()
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 3, err
    assert "cannot reach the inspector" in err
    assert "Traceback" not in err


def _read_all(fd: int, proc: subprocess.Popen[bytes]) -> bytes:
    data = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            data += chunk
        elif proc.poll() is not None:
            break
    return data


@pytest.mark.parametrize("no_color", [False, True])
def test_colours_only_on_a_terminal(inspector: Running, no_color: bool) -> None:
    env = subprocess_env({"NO_COLOR": "1"} if no_color else None)
    env["TERM"] = "xterm"
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*hurtle_command(), "inspect", "-p", str(inspector.port)],
        env=env,
        stdout=slave,
        stderr=subprocess.PIPE,
    )
    os.close(slave)
    try:
        data = _read_all(master, proc).decode()
        _, err = proc.communicate(timeout=30)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, err
    assert "Hurtle-Server-0-0" in data
    assert bool(ANSI.search(data)) is not no_color, data[:300]
    piped = run_hurtle("inspect", "-p", inspector.port)
    assert piped.returncode == 0
    assert "Hurtle-Server-0-0" in piped.stdout
    assert not ANSI.search(piped.stdout)
