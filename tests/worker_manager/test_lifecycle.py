"""Starting, acking, state entries, crash recovery and startup failures, on real processes."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
import testkit
from wm_helpers import START_METHODS, acked_servers, alive, running, wait_until

from hurtle_worker_manager import StartupError, WorkerManager
from hurtle_worker_manager.errors import TargetError


@pytest.mark.parametrize("start_method", START_METHODS)
def test_workers_ack_and_state_entries_have_reference_fields(start_method: str) -> None:
    async def scenario() -> None:
        manager = WorkerManager("wm_targets:server", workers=3, start_method=start_method)
        async with running(manager):
            table = manager.workers
            assert table["Hurtle-Main"] == {"pid": os.getpid()}
            servers = acked_servers(manager)
            assert sorted(servers) == [
                "Hurtle-Server-0-0",
                "Hurtle-Server-1-0",
                "Hurtle-Server-2-0",
            ]
            for entry in servers.values():
                assert entry["server"] is True
                assert entry["starts"] == entry["generation"] == 1
                assert alive(entry["pid"]) and entry["pid"] != os.getpid()
                assert entry["start_at"].tzinfo is not None
                assert "restart_at" not in entry

    asyncio.run(scenario())


def test_each_process_reads_the_whole_table_locally() -> None:
    async def scenario() -> None:
        manager = WorkerManager("wm_targets:viewer", workers=2)
        async with running(manager):
            names = ["Hurtle-Server-0-0", "Hurtle-Server-1-0"]
            await wait_until(
                lambda: all(manager.workers[n].get("seen") == names for n in names),
                what="both workers to see both acked workers in their own state table",
            )

    asyncio.run(scenario())


def test_reading_the_table_needs_no_answer_from_the_manager(tmp_path: Path) -> None:
    path = tmp_path / "reads.txt"
    path.touch()

    def reads() -> list[str]:
        return path.read_text().splitlines()

    async def scenario() -> None:
        kwargs = {"path": str(path)}
        manager = WorkerManager("wm_targets:table_reader", workers=1, server_kwargs=kwargs)
        async with running(manager):
            await wait_until(
                lambda: "Hurtle-Server-0-0" in reads()[-1:],
                what="the worker to read itself as ACKED in its own table",
            )
            # The manager shares this thread's event loop: from here until the end of the
            # block it answers nothing. A read that needed the manager would stall; reads
            # from the local snapshot go on.
            before = len(reads())
            testkit.wait_until(
                lambda: len(reads()) >= before + 20 and reads()[-1] == "Hurtle-Server-0-0",
                what=lambda: f"20 more reads while the manager is blocked (saw {len(reads())})",
            )

    asyncio.run(scenario())


@pytest.mark.parametrize("start_method", START_METHODS)
def test_killed_worker_is_respawned_and_acked(
    start_method: str, manager_log: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        manager = WorkerManager("wm_targets:server", workers=2, start_method=start_method)
        async with running(manager):
            victim = manager.workers["Hurtle-Server-0-0"]
            other = manager.workers["Hurtle-Server-1-0"]
            os.kill(victim["pid"], signal.SIGKILL)

            def replaced() -> bool:
                entry = manager.workers["Hurtle-Server-0-0"]
                return entry["state"] == "ACKED" and entry["generation"] == 2

            await wait_until(replaced, what="a second generation of Hurtle-Server-0-0 to ack")
            entry = manager.workers["Hurtle-Server-0-0"]
            assert entry["pid"] != victim["pid"] and not alive(victim["pid"])
            assert entry["restart_at"] is not None
            assert manager.workers["Hurtle-Server-1-0"]["pid"] == other["pid"]
        assert "signal SIGKILL" in manager_log.text

    asyncio.run(scenario())


def test_crash_while_starting_stops_everything_and_names_the_process() -> None:
    async def scenario() -> None:
        manager = WorkerManager(
            "wm_targets:server", workers=2, server_kwargs={"fail_before_ack": True}
        )
        with pytest.raises(
            StartupError, match=r"Hurtle-Server-\d-0 failed while starting: RuntimeError: boom"
        ) as info:
            await manager.serve()
        assert info.value.process.startswith("Hurtle-Server-")
        assert not manager.running
        leftovers = [
            e["pid"] for n, e in manager.workers.items() if n != "Hurtle-Main" and alive(e["pid"])
        ]
        assert leftovers == []

    asyncio.run(scenario())


def test_missing_ack_times_out_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(WorkerManager, "THRESHOLD", 10)

    async def scenario() -> None:
        manager = WorkerManager("wm_targets:server", workers=1, server_kwargs={"never_ack": True})
        with pytest.raises(
            StartupError,
            match=r"Server-0-0 did not acknowledge its start within 1 s \(WorkerManager.THRESHOLD",
        ):
            await manager.serve()
        entry = manager.workers["Hurtle-Server-0-0"]
        assert entry["state"] in ("COMPLETED", "FAILED") and not alive(entry["pid"])

    asyncio.run(scenario())


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_blocked_event_loop_is_dumped_killed_and_replaced(
    start_method: str, manager_log: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        manager = WorkerManager(
            "wm_targets:server",
            start_method=start_method,
            workers=1,
            server_kwargs={"block_after_ack": True},
            heartbeat_interval=0.1,
            heartbeat_timeout=1.0,
        )
        async with running(manager):
            first = manager.workers["Hurtle-Server-0-0"]["pid"]
            await wait_until(
                lambda: manager.workers["Hurtle-Server-0-0"]["generation"] >= 2,
                what="the hung worker to be replaced",
            )
            assert not alive(first)
        text = manager_log.text
        assert "sent no heartbeat" in text
        assert "Stack of Hurtle-Server-0-0" in text
        assert "in server" in text  # the frame where the loop is stuck
        assert "time.sleep" in text or "wm_targets.py" in text

    asyncio.run(scenario())


def test_unimportable_targets_are_refused_at_registration() -> None:
    with pytest.raises(TargetError, match="local function or lambda"):
        WorkerManager(lambda: None)
    with pytest.raises(ValueError, match="Cannot serve with 0 workers"):
        WorkerManager("wm_targets:server", workers=0)
