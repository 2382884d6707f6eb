"""The manager as a main program: signals, exit codes, and no process left behind."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from testkit import descendants, wait_for_exit
from wm_helpers import alive

MAIN = Path(__file__).parent / "support" / "wm_main.py"


def _start(mode: str, start_method: str = "spawn") -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(MAIN.parent))
    return subprocess.Popen(
        [sys.executable, str(MAIN), mode, start_method],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _pids(proc: subprocess.Popen[str]) -> list[int]:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("PIDS "), (
        f"unexpected output {line!r}; stderr: {proc.stderr.read() if proc.stderr else ''}"
    )
    return [int(p) for p in line.split()[1:]]


@pytest.fixture
def cleanup() -> Iterator[list[int]]:
    pids: list[int] = []
    yield pids
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_signal_shuts_down_cleanly_with_status_0(sig: int, cleanup: list[int]) -> None:
    proc = _start("serve")
    cleanup.append(proc.pid)
    pids = _pids(proc)
    cleanup.extend(pids)
    assert len(pids) == 4  # main, two servers, the helper process
    os.kill(proc.pid, sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "STOPPED CLEANLY" in out
    assert wait_for_exit(set(pids[1:]), timeout=5) == set()


@pytest.mark.parametrize("start_method", ["spawn", "fork", "forkserver"])
def test_every_descendant_dies_with_a_killed_main_process(
    start_method: str, cleanup: list[int]
) -> None:
    """Workers, the forkserver's template and multiprocessing's resource tracker alike."""
    proc = _start("serve", start_method)
    cleanup.append(proc.pid)
    pids = _pids(proc)
    cleanup.extend(pids)
    tree = descendants(proc.pid)
    cleanup.extend(tree)
    assert set(pids[1:]) <= tree
    extra = {"spawn": 1, "fork": 0, "forkserver": 2}[start_method]  # tracker, template
    assert len(tree) == len(pids) - 1 + extra, _commands(tree)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    left = sorted(wait_for_exit(tree, timeout=1.5))
    assert left == [], f"outlived the killed manager: {_commands(set(left))}"


def _commands(pids: set[int]) -> dict[int, str]:
    found = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                found[pid] = cmdline.read().replace(b"\0", b" ").decode(errors="replace")[:120]
        except OSError:
            found[pid] = "?"
    return found


def test_ack_timeout_exits_1_naming_the_process_and_leaves_no_orphan(cleanup: list[int]) -> None:
    proc = _start("ack-timeout")
    cleanup.append(proc.pid)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "FAILED: Hurtle-Server-" in err
    assert "did not acknowledge its start within 1 s" in err
    started = [
        int(pid) for pid in re.findall(r"Started Hurtle-\S+ \(generation \d+, pid (\d+)\)", err)
    ]
    assert len(started) == 3, err
    assert wait_for_exit(set(started), timeout=2) == set()
    assert os.getpgid(0) == os.getpgid(os.getpid())  # we (same group) were never signalled
