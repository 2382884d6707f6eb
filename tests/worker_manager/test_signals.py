"""The manager as a main program: signals, exit codes, and no process left behind."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    """Workers and the forkserver's template alike; and no resource tracker is started for a
    tree that has no shared object needing one."""
    proc = _start("serve", start_method)
    cleanup.append(proc.pid)
    pids = _pids(proc)
    cleanup.extend(pids)
    tree = descendants(proc.pid)
    cleanup.extend(tree)
    assert set(pids[1:]) <= tree
    extra = {"spawn": 0, "fork": 0, "forkserver": 1}[start_method]  # the template
    assert len(tree) == len(pids) - 1 + extra, _commands(tree)
    assert not any("resource_tracker" in c for c in _commands(tree, limit=400).values())
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    left = sorted(wait_for_exit(tree, timeout=1.5))
    assert left == [], f"outlived the killed manager: {_commands(set(left))}"


def _shared_tree(proc: subprocess.Popen[str]) -> tuple[list[int], dict[str, Any]]:
    pids = _pids(proc)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("SHARED "), f"unexpected output {line!r}"
    shared: dict[str, Any] = json.loads(line.removeprefix("SHARED "))
    assert sorted(shared["pids"]) == sorted(pids[1:]), "each worker put its pid on the Queue"
    assert shared["hits"] == 2, "each worker counted itself in the Value"
    return pids, shared


def _semaphore_files(names: list[str]) -> set[str]:
    files = {f"/dev/shm/sem.{name.lstrip('/')}" for name in names}
    return {path for path in files if os.path.exists(path)}


@pytest.mark.parametrize("start_method", ["spawn", "fork", "forkserver"])
@pytest.mark.parametrize("stop", ["sigkill-main", "sigterm"])
def test_shared_objects_get_a_resource_tracker_and_leave_nothing_behind(
    start_method: str, stop: str, cleanup: list[int]
) -> None:
    """A shared Queue and Value work; their named semaphores get the resource tracker they
    need (spawn, forkserver: under fork they are unlinked at once), and neither a killed
    main process nor a normal stop leaves a process or a semaphore behind."""
    proc = _start("shared", start_method)
    cleanup.append(proc.pid)
    pids, shared = _shared_tree(proc)
    cleanup.extend(pids)
    tree = descendants(proc.pid)
    cleanup.extend(tree)
    commands = _commands(tree, limit=400)
    trackers = [pid for pid, command in commands.items() if "resource_tracker" in command]
    if start_method == "fork":
        assert shared["semaphores"] == [] and trackers == [], commands
    else:
        assert len(shared["semaphores"]) == 4 and len(trackers) == 1, (shared, commands)
        assert len(_semaphore_files(shared["semaphores"])) == 4, "they exist while in use"
    if stop == "sigkill-main":
        os.kill(proc.pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=10)
    else:
        os.kill(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0 and "STOPPED CLEANLY" in out, err
    left = sorted(wait_for_exit(tree, timeout=5))
    assert left == [], f"outlived the main process: {_commands(set(left))}"
    assert _semaphore_files(shared["semaphores"]) == set(), err


def _commands(pids: set[int], limit: int = 120) -> dict[int, str]:
    found = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                found[pid] = cmdline.read().replace(b"\0", b" ").decode(errors="replace")[-limit:]
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
