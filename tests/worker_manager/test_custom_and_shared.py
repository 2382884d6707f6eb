"""Custom managed processes, shared context and shared listening sockets."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import socket

import pytest
from wm_helpers import acked_servers, alive, running, wait_until

from hurtle_worker_manager import AddressInUseError, SharedContext, WorkerManager, bind_tcp


def test_custom_processes_follow_the_reference_semantics() -> None:
    async def scenario() -> None:
        manager = WorkerManager("wm_targets:server", workers=1)
        manager.manage("MyServerTask", "wm_targets:sync_worker", {"tag": "not-a-server"})
        manager.manage("Pair", "wm_targets:sync_worker", {"tag": "pair"}, workers=2)
        manager.manage(
            "Later", "wm_targets:sync_worker", {"tag": "later"}, auto_start=False, restartable=True
        )
        manager.manage("Once", "wm_targets:finishing_worker", tracked=False)
        async with running(manager):  # "Server" in a custom name does not make it a server
            table = await wait_until(
                lambda: (
                    manager.workers
                    if manager.workers["Hurtle-MyServerTask-0"].get("tag") == "not-a-server"
                    and manager.workers["Hurtle-Pair-1"].get("tag") == "pair"
                    else None
                ),
                what="custom processes to report",
            )
            assert table["Hurtle-MyServerTask-0"]["server"] is False
            assert table["Hurtle-MyServerTask-0"]["state"] == "STARTED"
            assert table["Hurtle-Pair-0"]["pid"] != table["Hurtle-Pair-1"]["pid"]
            assert table["Hurtle-Later-0"]["state"] == "NONE"
            await wait_until(
                lambda: "Hurtle-Once-0" not in manager.workers, what="untracked worker removed"
            )
            await manager.restart(["Later"], wait=True)
            await wait_until(
                lambda: manager.workers["Hurtle-Later-0"].get("tag") == "later",
                what="Later to start",
            )
            pid = manager.workers["Hurtle-MyServerTask-0"]["pid"]
        assert not alive(pid)

    asyncio.run(scenario())


def test_a_custom_process_may_ack_and_reads_the_scaling_bound() -> None:
    async def scenario() -> None:
        manager = WorkerManager("wm_targets:server", workers=1, max_workers=7)
        manager.manage("Probe", "wm_targets:acking_custom", restartable=True)
        async with running(manager):
            entry = await wait_until(
                lambda: (
                    manager.workers["Hurtle-Probe-0"].get("max_workers")
                    and manager.workers["Hurtle-Probe-0"]
                ),
                what="the custom process to report max_workers",
            )
            assert entry["max_workers"] == 7
            assert entry["server"] is False
            assert entry["state"] == "ACKED"
            assert manager.state_update().max_workers == 7

    asyncio.run(scenario())


def test_manage_validates_its_arguments() -> None:
    manager = WorkerManager("wm_targets:server")
    manager.manage("Job", "wm_targets:sync_worker")
    with pytest.raises(ValueError, match="Worker Job already exists"):
        manager.manage("Job", "wm_targets:sync_worker")
    with pytest.raises(ValueError, match="transient worker that is not restartable"):
        manager.manage("Bad", "wm_targets:sync_worker", transient=True, restartable=False)
    with pytest.raises(ValueError, match="at least 1 process"):
        manager.manage("None", "wm_targets:sync_worker", workers=0)


def test_a_worker_can_start_a_custom_process_through_its_multiplexer() -> None:
    async def scenario() -> None:
        manager = WorkerManager(
            "wm_targets:commander", workers=1, server_kwargs={"command": "manage"}
        )
        async with running(manager):
            await wait_until(
                lambda: manager.workers.get("Hurtle-Side-0", {}).get("tag") == "side",
                what="the custom process started from the worker",
            )
            outcome = manager.workers["Hurtle-Server-0-0"]["outcome"]
            assert outcome["ok"] is True

    asyncio.run(scenario())


@pytest.mark.parametrize("start_method", ["spawn", "fork", "forkserver"])
def test_shared_ctx_reaches_every_worker_generation(start_method: str) -> None:
    context = multiprocessing.get_context(start_method)
    shared = SharedContext(hits=context.Value("i", 0))

    async def scenario() -> None:
        manager = WorkerManager(
            "wm_targets:counter", workers=2, shared_ctx=shared, start_method=start_method
        )
        async with running(manager):
            await wait_until(lambda: shared.hits.value == 2, what="both workers to count")
            await manager.restart(all_workers=True, wait=True)
            await wait_until(lambda: shared.hits.value == 4, what="the second generation to count")
            assert len(acked_servers(manager)) == 2

    asyncio.run(scenario())
    with pytest.raises(RuntimeError, match="after the start phase"):
        shared.other = context.Value("i", 1)


def test_unshareable_shared_ctx_values_warn_with_their_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="hurtle.manager")
    shared = SharedContext()
    shared.queue = multiprocessing.get_context("spawn").Queue()
    shared.pair = (multiprocessing.get_context("spawn").Event(),)
    assert caplog.text == ""
    shared.counter = 3
    assert "shared_ctx.counter is a int, which processes cannot share" in caplog.text
    shared.queue.close()
    shared.queue.join_thread()


def test_listening_socket_is_shared_and_stays_open_across_restarts() -> None:
    listener = bind_tcp("127.0.0.1", 0)
    port = listener.getsockname()[1]

    async def ask() -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        data = await reader.read(32)
        writer.close()
        await writer.wait_closed()
        return int(data)

    async def scenario() -> None:
        manager = WorkerManager("wm_targets:tcp_pid_server", workers=2, sockets=[listener])
        async with running(manager):
            workers = {e["pid"] for e in acked_servers(manager).values()}
            seen: set[int] = set()

            async def both_answer() -> bool:
                seen.add(await ask())
                return seen == workers

            deadline = asyncio.get_running_loop().time() + 15
            while not await both_answer():
                assert asyncio.get_running_loop().time() < deadline, (
                    f"only {seen} of {workers} answered"
                )
            restart = asyncio.ensure_future(manager.restart(all_workers=True, wait=True))
            answers = [await ask() for _ in range(20)]  # connections during the restart succeed
            await restart
            assert all(isinstance(pid, int) for pid in answers)
            assert await ask() in {e["pid"] for e in acked_servers(manager).values()} | workers

    try:
        asyncio.run(scenario())
    finally:
        listener.close()


def test_bind_tcp_explains_an_address_in_use() -> None:
    first = bind_tcp("127.0.0.1", 0)
    try:
        port = first.getsockname()[1]
        with pytest.raises(
            AddressInUseError,
            match=rf'127.0.0.1:{port} is already in use.*if __name__ == "__main__"',
        ):
            bind_tcp("127.0.0.1", port)
        assert first.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
    finally:
        first.close()
