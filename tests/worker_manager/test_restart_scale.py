"""Restarts (both orders), scaling and commands sent from inside a worker."""

from __future__ import annotations

import asyncio
import os

import pytest
from testkit import children_of
from wm_helpers import START_METHODS, acked_servers, alive, running, wait_until

from hurtle_worker_manager import CommandError, WorkerManager


@pytest.mark.parametrize("start_method", START_METHODS)
def test_shutdown_first_restart_replaces_every_server(start_method: str) -> None:
    async def scenario() -> None:
        manager = WorkerManager("wm_targets:server", workers=2, start_method=start_method)
        async with running(manager):
            before = {n: e["pid"] for n, e in acked_servers(manager).items()}
            result = await manager.restart(all_workers=True, wait=True)
            assert sorted(result.restarted) == sorted(before)
            after = acked_servers(manager)
            assert set(after) == set(before)
            for name, entry in after.items():
                assert entry["generation"] == 2 and entry["pid"] != before[name]
            await wait_until(
                lambda: not any(alive(pid) for pid in before.values()), what="old workers to exit"
            )

    asyncio.run(scenario())


def test_zero_downtime_restart_stops_the_old_worker_only_after_the_new_one_acked() -> None:
    async def scenario() -> None:
        manager = WorkerManager(
            "wm_targets:server", workers=1, server_kwargs={"drain_seconds": 0.5}
        )
        async with running(manager):
            old_pid = manager.workers["Hurtle-Server-0-0"]["pid"]
            task = asyncio.ensure_future(
                manager.restart(["Hurtle-Server-0-0"], zero_downtime=True, wait=True)
            )
            # While the new one starts, the old one is still the acked current instance.
            incoming = await wait_until(
                lambda: manager.workers.get("Hurtle-Server-0-0#2"), what="the incoming generation"
            )
            assert incoming["state"] in ("STARTED", "ACKED")
            assert manager.workers["Hurtle-Server-0-0"]["pid"] == old_pid
            assert manager.workers["Hurtle-Server-0-0"]["state"] == "ACKED"
            await task
            current = manager.workers["Hurtle-Server-0-0"]
            assert current["generation"] == 2 and current["state"] == "ACKED"
            draining = manager.workers["Hurtle-Server-0-0#1"]
            assert draining["pid"] == old_pid and draining["state"] == "TERMINATED"
            await wait_until(
                lambda: manager.workers.get("Hurtle-Server-0-0#1", {}).get("drain") == "started",
                what="the old worker to drain its work",
            )
            await wait_until(
                lambda: "Hurtle-Server-0-0#1" not in manager.workers, what="old one to exit"
            )
            assert not alive(old_pid)

    asyncio.run(scenario())


def test_zero_downtime_restart_keeps_the_old_worker_when_the_new_one_fails() -> None:
    async def scenario() -> None:
        manager = WorkerManager(
            "wm_targets:server", workers=1, server_kwargs={"fail_if_generation_above": 1}
        )
        async with running(manager):
            old = manager.workers["Hurtle-Server-0-0"]
            with pytest.raises(CommandError, match=r"old process keeps serving.*refuses to start"):
                await manager.restart(all_workers=True, zero_downtime=True, wait=True)
            current = manager.workers["Hurtle-Server-0-0"]
            assert current["pid"] == old["pid"] and current["state"] == "ACKED"
            assert alive(old["pid"])
            await wait_until(
                lambda: "Hurtle-Server-0-0#2" not in manager.workers, what="failed one gone"
            )

    asyncio.run(scenario())


def test_concurrent_restarts_are_serialised_and_leave_no_orphan() -> None:
    async def scenario() -> None:
        manager = WorkerManager("wm_targets:server", workers=2)
        async with running(manager):
            first_pids = {e["pid"] for e in acked_servers(manager).values()}
            results = await asyncio.gather(
                manager.restart(all_workers=True, zero_downtime=True, wait=True),
                manager.restart(all_workers=True, zero_downtime=True, wait=True),
                manager.restart(all_workers=True, wait=True),
            )
            assert len(results) == 3
            servers = acked_servers(manager)
            # The second request is identical to the first and came before it began: it
            # joined it (issue 16 item 7). The plain one is another restart: 1 + 2.
            assert [e["generation"] for e in servers.values()] == [3, 3]
            assert results[0] is results[1]
            live = {e["pid"] for e in servers.values()}

            def only_current_alive() -> bool:
                children = children_of(os.getpid())
                return children & (first_pids | live) == live and not (children & first_pids)

            await wait_until(only_current_alive, what="every replaced worker to exit")

    asyncio.run(scenario())


def test_restart_by_name_and_refusals() -> None:
    async def scenario() -> None:
        manager = WorkerManager("wm_targets:server", workers=2)
        manager.manage("Durable", "wm_targets:sync_worker", {"tag": "d"}, restartable=True)
        async with running(manager):
            other = manager.workers["Hurtle-Server-1-0"]["pid"]
            result = await manager.restart(["Server-0"], wait=True)
            assert result.restarted == ["Hurtle-Server-0-0"]
            assert manager.workers["Hurtle-Server-0-0"]["generation"] == 2
            assert manager.workers["Hurtle-Server-1-0"]["pid"] == other
            with pytest.raises(CommandError, match="No process named Nope"):
                await manager.restart(["Nope"])
            with pytest.raises(
                CommandError, match="durable process restarts only from a final state"
            ):
                await manager.restart(["Hurtle-Durable-0"])
            with pytest.raises(CommandError, match="Ambiguous"):
                await manager.restart(["Server-0"], all_workers=True)

    asyncio.run(scenario())


@pytest.mark.parametrize("start_method", START_METHODS)
def test_scale_up_and_down(start_method: str) -> None:
    async def scenario() -> None:
        manager = WorkerManager("wm_targets:server", workers=1, start_method=start_method)
        async with running(manager):
            up = await manager.scale(3, wait=True)
            assert up.workers == ["Hurtle-Server-0-0", "Hurtle-Server-1-0", "Hurtle-Server-2-0"]
            assert len(acked_servers(manager)) == 3
            removed = manager.workers["Hurtle-Server-2-0"]["pid"]
            down = await manager.scale(2, wait=True)
            assert down.workers == ["Hurtle-Server-0-0", "Hurtle-Server-1-0"]
            assert not alive(removed)
            again = await manager.scale(3, wait=True)
            assert again.workers[-1] == "Hurtle-Server-3-0"  # numbers are never reused

    asyncio.run(scenario())


def test_scale_down_lets_removed_workers_finish_their_work() -> None:
    async def scenario() -> None:
        manager = WorkerManager(
            "wm_targets:server", workers=2, server_kwargs={"drain_seconds": 0.6}
        )
        async with running(manager):
            task = asyncio.ensure_future(manager.scale(1, wait=True))
            draining = await wait_until(
                lambda: manager.workers.get("Hurtle-Server-1-0#1"),
                what="the removed worker to drain",
            )
            assert draining["state"] == "TERMINATED"
            await wait_until(
                lambda: manager.workers.get("Hurtle-Server-1-0#1", {}).get("drain") == "started",
                what="the drain to start",
            )
            await task
            assert "Hurtle-Server-1-0#1" not in manager.workers
            assert list(acked_servers(manager)) == ["Hurtle-Server-0-0"]

    asyncio.run(scenario())


@pytest.mark.parametrize("bad", [0, -1, 65, "3", 2.5, True, None])
def test_bad_scale_values_are_refused_and_the_manager_keeps_running(bad: object) -> None:
    async def scenario() -> None:
        manager = WorkerManager("wm_targets:server", workers=1, max_workers=64)
        async with running(manager):
            with pytest.raises(CommandError):
                await manager.scale(bad)  # type: ignore[arg-type]
            assert len(acked_servers(manager)) == 1
            assert (await manager.scale(2, wait=True)).replicas == 2

    asyncio.run(scenario())


def test_commands_from_a_worker_get_their_outcome() -> None:
    async def scenario() -> None:
        manager = WorkerManager(
            "wm_targets:commander", workers=1, server_kwargs={"command": "scale-raw", "argument": 0}
        )
        async with running(manager):
            outcome = await wait_until(
                lambda: manager.workers["Hurtle-Server-0-0"].get("outcome"), what="the reply"
            )
            assert outcome == {
                "ok": False,
                "error": "CommandError: Cannot scale to 0 workers: choose 1 to 64",
            }
            assert len(acked_servers(manager)) == 1

        manager = WorkerManager(
            "wm_targets:commander", workers=1, server_kwargs={"command": "scale", "argument": 2}
        )
        async with running(manager, servers=1):
            outcome = await wait_until(
                lambda: manager.workers["Hurtle-Server-0-0"].get("outcome"), what="the reply"
            )
            assert outcome["ok"] is True and "Hurtle-Server-1-0" in outcome["result"]
            assert len(acked_servers(manager)) == 2

    asyncio.run(scenario())


def test_a_worker_can_restart_itself() -> None:
    async def scenario() -> None:
        manager = WorkerManager(
            "wm_targets:commander", workers=2, server_kwargs={"command": "restart-self"}
        )
        async with running(manager):
            await wait_until(
                lambda: (
                    all(e["generation"] == 2 for e in acked_servers(manager).values())
                    and len(acked_servers(manager)) == 2
                ),
                what="each worker to restart itself once",
            )

    asyncio.run(scenario())


def test_a_replacement_that_never_acks_is_killed_and_respawned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(WorkerManager, "THRESHOLD", 10)

    async def scenario() -> None:
        manager = WorkerManager(
            "wm_targets:server",
            workers=1,
            server_kwargs={"ack_only_first": True},
            crash_loop_limit=0,
        )
        async with running(manager):
            with pytest.raises(CommandError, match="did not acknowledge its start within 1 s"):
                await manager.restart(all_workers=True, wait=True)
            silent = manager.workers["Hurtle-Server-0-0"]
            await wait_until(
                lambda: not alive(silent["pid"]), what="the silent replacement to be killed"
            )
            await wait_until(
                lambda: manager.workers["Hurtle-Server-0-0"]["generation"] >= 3,
                what="a respawn after the missed ack",
            )

    asyncio.run(scenario())


def test_relative_scaling_requests_add_up() -> None:
    async def scenario() -> None:
        manager = WorkerManager("wm_targets:server", workers=1)
        async with running(manager):
            await asyncio.gather(manager.scale_by(1), manager.scale_by(1))
            assert len(manager.server_names()) == 3
            await manager.scale_by(-5)
            assert len(manager.server_names()) == 1  # never below one worker

    asyncio.run(scenario())


def test_a_stopped_worker_learns_whether_it_is_a_restart_or_a_shutdown(tmp_path) -> None:
    """The manager says why (StopNotice) before the stop signal: restart, scale-down and
    zero-downtime reload are "restart", the final stop is "shutdown"."""

    def reasons() -> dict[str, str]:
        return {path.name: path.read_text() for path in tmp_path.iterdir()}

    async def scenario() -> None:
        manager = WorkerManager(
            "wm_targets:stop_reason_recorder", workers=2, server_kwargs={"folder": str(tmp_path)}
        )
        async with running(manager):
            await manager.restart(["Hurtle-Server-0-0"], zero_downtime=True, wait=True)
            await wait_until(lambda: "Hurtle-Server-0-0.1" in reasons(), what="the old worker")
            await manager.scale(1, wait=True)
            await wait_until(lambda: "Hurtle-Server-1-0.1" in reasons(), what="scaled down")
            await manager.restart(["Hurtle-Server-0-0"], wait=True)
            await wait_until(lambda: "Hurtle-Server-0-0.2" in reasons(), what="a plain restart")

    asyncio.run(scenario())
    assert reasons() == {
        "Hurtle-Server-0-0.1": "restart",
        "Hurtle-Server-1-0.1": "restart",
        "Hurtle-Server-0-0.2": "restart",
        "Hurtle-Server-0-0.3": "shutdown",
    }
