"""Listener order and every way a start can fail: one message, exit 1, nothing left behind."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from meta_helpers import run_to_exit, served

MAIN_EVENTS = ["main_process_start", "main_process_ready", "main_process_stop"]


def read_events(path: Path) -> list[tuple[str, int]]:
    return [(e, int(pid)) for e, pid in (line.split() for line in path.read_text().splitlines())]


@pytest.mark.parametrize("start_method", ["spawn", "fork", "forkserver"])
def test_listeners_run_in_the_reference_order(tmp_path: Path, start_method: str) -> None:
    events_file = tmp_path / "events.txt"
    with served(
        "full.py",
        "--start-method",
        start_method,
        tmp_path=tmp_path,
        env={"EVENTS_FILE": str(events_file)},
    ) as server:
        main_pid = server.pid
        assert server.request("/")[0] == 200
    events = read_events(events_file)
    in_main = [e for e, pid in events if pid == main_pid]
    assert in_main == MAIN_EVENTS, events
    by_worker: dict[int, list[str]] = {}
    for event, pid in events:
        if pid != main_pid:
            by_worker.setdefault(pid, []).append(event)
    assert len(by_worker) == 2, events
    for pid, sequence in by_worker.items():
        assert sequence == [
            "before_server_start",
            "after_server_start",
            "before_server_stop",
            "after_server_stop",
        ], (pid, events)
    names = [e for e, _ in events]
    assert names.index("main_process_ready") < names.index("before_server_start")
    assert names[-1] == "main_process_stop", "main_process_stop runs after every worker stopped"


def test_a_port_in_use_is_one_message_and_exit_1(tmp_path: Path) -> None:
    events_file = tmp_path / "events.txt"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, log, _ = run_to_exit(
            "full.py", "--port", str(port), tmp_path=tmp_path, env={"EVENTS_FILE": str(events_file)}
        )
    assert code == 1, log
    assert f"address 127.0.0.1:{port} is already in use" in log
    assert "Traceback" not in log
    assert [e for e, _ in read_events(events_file)] == ["main_process_start", "main_process_stop"]


def test_a_script_without_the_main_guard_is_told_to_add_it(tmp_path: Path) -> None:
    code, log, _ = run_to_exit("unguarded.py", "--port", "0", tmp_path=tmp_path)
    assert code == 1, log
    assert 'if __name__ == "__main__":' in log
    assert "could not start" in log


@pytest.mark.parametrize("event", ["main_process_start", "main_process_ready"])
def test_a_failing_main_listener_stops_the_start(tmp_path: Path, event: str) -> None:
    events_file = tmp_path / "events.txt"
    code, log, _ = run_to_exit(
        "full.py",
        "--port",
        "0",
        tmp_path=tmp_path,
        env={"EVENTS_FILE": str(events_file), "FAIL_AT": event},
    )
    assert code == 1, log
    assert f"a {event} listener failed: RuntimeError: listener {event} failed on purpose" in log
    events = [e for e, _ in read_events(events_file)]
    assert events[-1] == "main_process_stop"
    assert "before_server_start" not in events


@pytest.mark.parametrize("start_method", ["spawn", "fork", "forkserver"])
def test_a_failing_worker_listener_names_the_process(tmp_path: Path, start_method: str) -> None:
    code, log, _ = run_to_exit(
        "full.py",
        "--port",
        "0",
        "--start-method",
        start_method,
        tmp_path=tmp_path,
        env={"FAIL_AT": "before_server_start"},
    )
    assert code == 1, log
    assert "could not start: Hurtle-Server-" in log
    assert "listener before_server_start failed on purpose" in log


def test_an_import_error_in_the_workers_is_a_startup_error(tmp_path: Path) -> None:
    code, log, _ = run_to_exit(
        "full.py", "--port", "0", tmp_path=tmp_path, env={"FAIL_IMPORT_IN_WORKER": "1"}
    )
    assert code == 1, log
    assert "could not start: Hurtle-Server-" in log
    assert "cannot import name 'flaky'" in log


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_the_ack_threshold_is_honoured(tmp_path: Path, start_method: str) -> None:
    code, log, _ = run_to_exit(
        "full.py",
        "--port",
        "0",
        "--threshold",
        "3",
        "--start-method",
        start_method,
        tmp_path=tmp_path,
        env={"SLOW_START": "2"},
    )
    assert code == 1, log
    assert "could not start" in log and "0.3" in log, log


def test_an_unknown_start_method_is_one_message_and_exit_1(tmp_path: Path) -> None:
    code, log, _ = run_to_exit(
        "full.py", "--port", "0", "--start-method", "forkserve", tmp_path=tmp_path
    )
    assert code == 1, log
    assert "Hurtle.start_method = 'forkserve' is not a start method here" in log
    assert "'forkserver'" in log and "Traceback" not in log


def test_the_default_start_method_comes_from_the_environment_when_set(tmp_path: Path) -> None:
    """HURTLE_START_METHOD (e.g. to run a suite under spawn) is checked like the attribute."""
    code, log, _ = run_to_exit(
        "full.py", "--port", "0", tmp_path=tmp_path, env={"HURTLE_START_METHOD": "spown"}
    )
    assert code == 1, log
    assert "Hurtle.start_method = 'spown' (from HURTLE_START_METHOD) is not a start" in log
    assert "'forkserver'" in log and "Traceback" not in log
