"""A Hurtle app under the worker manager: workers, multiplexer, restarts, scaling, faults."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from meta_helpers import served, wait_until

START_METHODS = ["spawn", "fork", "forkserver"]


@pytest.mark.parametrize("start_method", START_METHODS)
def test_every_worker_answers_and_reports_its_counters(tmp_path: Path, start_method: str) -> None:
    with served(
        "full.py",
        "--workers",
        "3",
        "--start-method",
        start_method,
        tmp_path=tmp_path,
        env={"HURTLE_STATS_REPORT_INTERVAL": "0.1"},
    ) as server:
        names: set[str] = set()

        def all_answered() -> bool:
            names.add(server.get_json("/")["name"])
            return len(names) == 3

        wait_until(all_answered, what=f"answers from 3 workers (saw {names})")
        assert names == {"Hurtle-Server-0-0", "Hurtle-Server-1-0", "Hurtle-Server-2-0"}

        def counted() -> dict[str, object] | None:
            entries = server.acked_servers()
            served_total = sum(e.get("http", {}).get("served", 0) for e in entries.values())
            return entries if served_total >= 3 and len(entries) == 3 else None

        entries = wait_until(counted, what="request counters in the worker state")
        for name, entry in entries.items():
            assert entry["serving"] is True, name
            assert set(entry["http"]) >= {"served", "in_flight"}, entry
            assert entry["pid"] > 0 and entry["generation"] == 1
        state = server.get_json("/state")
        assert state["server"] is True and state["state"] == "ACKED"
        assert "Hurtle-Main" in server.get_json("/workers")


@pytest.mark.parametrize("start_method", START_METHODS)
def test_zero_downtime_restart_from_a_handler_loses_no_request(
    tmp_path: Path, start_method: str
) -> None:
    with served("full.py", "--start-method", start_method, tmp_path=tmp_path) as server:
        before = {name: e["pid"] for name, e in server.wait_acked(2).items()}
        failures: list[str] = []
        answered = 0
        stop = threading.Event()

        def hammer() -> None:
            nonlocal answered
            while not stop.is_set():
                try:
                    status, body = server.request("/")
                except OSError as exc:
                    failures.append(repr(exc))
                    continue
                if status != 200:
                    failures.append(f"{status} {body[:200]!r}")
                answered += 1

        client = threading.Thread(target=hammer)
        client.start()
        try:
            status, body = server.request("/restart")
            assert (status, body) == (200, b"restarting")

            def replaced() -> dict[str, object] | None:
                now = server.acked_servers()
                fresh = all(
                    e["generation"] == 2 and e["pid"] != before[name] for name, e in now.items()
                )
                return now if len(now) == 2 and fresh else None

            wait_until(replaced, what="both workers replaced by generation 2")
        finally:
            stop.set()
            client.join()
        assert failures == [], f"{len(failures)} of {answered} requests failed: {failures[:5]}"
        assert answered > 0


def test_scale_from_a_handler(tmp_path: Path) -> None:
    with served("full.py", "--start-method", "fork", tmp_path=tmp_path) as server:
        result = server.get_json("/scale/3")
        assert result["replicas"] == 3
        assert len(result["workers"]) == 3
        server.wait_acked(3)
        status, _body = server.request("/scale/0")
        assert status == 500  # refused by the multiplexer; the server keeps serving
        assert len(server.acked_servers()) == 3
        server.get_json("/scale/1")
        server.wait_acked(1)


@pytest.mark.parametrize("start_method", START_METHODS)
def test_shared_context_reaches_every_worker_and_custom_processes(
    tmp_path: Path, start_method: str
) -> None:
    jobs = tmp_path / "jobs.txt"
    with served(
        "full.py",
        "--start-method",
        start_method,
        tmp_path=tmp_path,
        env={"CONSUMER_FILE": str(jobs)},
    ) as server:
        pids: set[int] = set()
        values: list[int] = []

        def both_counted() -> bool:
            answer = server.get_json("/count")
            pids.add(answer["pid"])
            values.append(answer["value"])
            return len(pids) == 2

        wait_until(both_counted, what="both workers incrementing the shared Value")
        assert values == list(range(1, len(values) + 1)), "one counter shared by every worker"
        consumer = server.get_json("/workers")["Hurtle-Consumer-0"]
        assert consumer["server"] is False and consumer["state"] == "STARTED"
        for n in range(3):
            assert server.request(f"/job/j{n}") == (200, b"queued")
        wait_until(
            lambda: jobs.exists() and len(jobs.read_text().splitlines()) == 3,
            what="the custom process consuming 3 jobs from the shared Queue",
        )
        assert {line.split()[0] for line in jobs.read_text().splitlines()} == {"j0", "j1", "j2"}


def test_a_crashed_worker_is_respawned_while_the_other_serves(tmp_path: Path) -> None:
    with served("full.py", tmp_path=tmp_path) as server:
        before = {name: e["pid"] for name, e in server.wait_acked(2).items()}
        with pytest.raises(OSError):
            server.request("/crash")
        for _ in range(5):
            assert server.request("/")[0] == 200

        def respawned() -> bool:
            now = server.acked_servers()
            return len(now) == 2 and {e["pid"] for e in now.values()} != set(before.values())

        wait_until(respawned, what="the crashed worker respawned")
        assert "died unexpectedly" in server.log()


def test_a_hung_worker_is_replaced_and_its_stack_logged(tmp_path: Path) -> None:
    env = {"HURTLE_HEARTBEAT_TIMEOUT": "2"}
    with served("full.py", "--start-method", "fork", tmp_path=tmp_path, env=env) as server:
        before = {e["pid"] for e in server.wait_acked(2).values()}
        with pytest.raises(OSError):
            server.request("/hang", timeout=30)
        for _ in range(5):
            assert server.request("/")[0] == 200

        def replaced() -> bool:
            now = server.acked_servers()
            return len(now) == 2 and {e["pid"] for e in now.values()} != before

        wait_until(replaced, timeout=30, what="the hung worker replaced")
        assert "time.sleep(3600)" in server.log() or "in hang" in server.log()


def test_manager_is_refused_in_a_worker(tmp_path: Path) -> None:
    with served("full.py", "--workers", "1", "--start-method", "fork", tmp_path=tmp_path) as s:
        status, body = s.request("/manager")
        assert status == 500
        assert b"app.manager exists only in the main process" in body


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as stat:
        return int(stat.read().rsplit(b")", 1)[1].split()[1])


def _commands(pids: set[int]) -> dict[int, str]:
    found = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                found[pid] = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            found[pid] = "?"
    return found


@pytest.mark.parametrize("start_method", START_METHODS)
def test_a_plain_app_runs_no_resource_tracker(tmp_path: Path, start_method: str) -> None:
    """Nothing in shared_ctx: the tree is the workers (and the forkserver's template, which
    a spawn or fork app stops at run()), with no multiprocessing resource tracker."""
    env = {"NO_SHARED": "1"}
    with served("full.py", "--start-method", start_method, tmp_path=tmp_path, env=env) as server:
        workers = {entry["pid"] for entry in server.wait_acked(2).values()}
        commands = _commands(server.remember_children())
        assert not any("resource_tracker" in command for command in commands.values()), commands
        others = set(commands) - workers
        parents = {_parent(pid) for pid in workers}
        if start_method == "forkserver":  # the workers' parent, the template, and no other
            assert len(parents) == 1 and others == parents, commands
        else:  # the template started ahead was stopped by run()
            assert parents == {server.pid} and others == set(), commands
        assert server.stop() == 0


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_shared_queue_gets_its_resource_tracker_and_leaves_nothing_behind(
    tmp_path: Path, sig: int
) -> None:
    """The default start method with a Queue and a Value in shared_ctx: one resource tracker
    (their named semaphores need it), the Queue works, and neither a killed main process
    nor a normal stop leaves a process behind (``stop`` fails on any survivor)."""
    jobs = tmp_path / "jobs.txt"
    with served("full.py", tmp_path=tmp_path, env={"CONSUMER_FILE": str(jobs)}) as server:
        server.wait_acked(2)
        assert server.request("/job/j0") == (200, b"queued")
        wait_until(lambda: jobs.exists() and jobs.read_text().startswith("j0 "), what="the job")
        commands = _commands(server.remember_children())
        trackers = [pid for pid, c in commands.items() if "resource_tracker" in c]
        assert len(trackers) == 1, commands
        assert server.stop(sig) == (-signal.SIGKILL if sig == signal.SIGKILL else 0)


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_a_killed_main_process_leaves_no_process_behind(tmp_path: Path, start_method: str) -> None:
    """SIGKILL of the main process: workers, the custom process, the forkserver's template
    and multiprocessing's resource tracker all go (``stop`` fails on any survivor)."""
    with served("full.py", "--start-method", start_method, tmp_path=tmp_path) as server:
        server.wait_acked(2)
        assert server.stop(signal.SIGKILL) == -signal.SIGKILL


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_sigterm_to_the_whole_process_group_still_drains(tmp_path: Path, start_method: str) -> None:
    """systemd's KillMode=control-group signals every process at once: the forkserver's
    template must not die of it (its death would kill the workers before they drain)."""
    env = {"HURTLE_STATS_REPORT_INTERVAL": "0.05"}
    with served(
        "full.py",
        "--start-method",
        start_method,
        tmp_path=tmp_path,
        env=env,
        wrapper=("setsid",),
    ) as server:
        server.wait_acked(2)
        answers: list[tuple[int, bytes]] = []
        client = threading.Thread(target=lambda: answers.append(server.request("/slow?s=1.5")))
        client.start()

        def in_flight() -> bool:
            entries = server.acked_servers().values()
            return any(entry.get("http", {}).get("in_flight") for entry in entries)

        wait_until(in_flight, what="the slow request in flight")
        os.killpg(server.pid, signal.SIGTERM)
        client.join(30)
        assert answers == [(200, b"slow done")]
        assert server.process.wait(30) == 0


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_a_stop_signal_caught_before_the_loop_runs_still_stops_the_process(
    start_method: str,
) -> None:
    """SIGTERM between the loop's add_signal_handler() and its run (uvloop only acts on a
    signal once it runs): the process stops anyway, instead of running on unstoppable."""
    from hurtle_worker_manager import WorkerManager

    async def scenario() -> dict[str, object]:
        manager = WorkerManager(
            "signalled_loop:server",
            loop_factory="signalled_loop:new_loop",
            start_method=start_method,
            graceful_timeout=5,
        )
        manager.manage("Stopper", "signalled_loop:wait_for_stop")
        serving = asyncio.ensure_future(manager.serve())
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                entry = manager.workers.get("Hurtle-Stopper-0", {})
                if entry.get("exit_code") is not None:
                    return entry
                await asyncio.sleep(0.02)
            pytest.fail(f"the stopper never stopped: {manager.workers.get('Hurtle-Stopper-0')}")
        finally:
            manager.terminate()
            await asyncio.wait_for(serving, 30)

    entry = asyncio.run(scenario())
    assert entry["exit_code"] == 0 and entry["state"] == "COMPLETED", entry
