"""Helpers for the worker-manager tests: run real managers, poll with deadlines."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

import testkit
from testkit import alive
from testkit import wait_until_async as wait_until

from hurtle_worker_manager import WorkerManager

START_METHODS = ["spawn", "fork", "forkserver"]


def acked_servers(manager: WorkerManager) -> dict[str, dict[str, Any]]:
    """The server entries that are ACKED (and current)."""
    return testkit.acked_servers(manager.workers)


def child_pids(manager: WorkerManager) -> set[int]:
    """Every pid the manager reports (except its own)."""
    return {
        entry["pid"]
        for name, entry in manager.workers.items()
        if name != manager.main_name and entry.get("pid")
    }


def kill_all(pids: set[int]) -> None:
    """SIGKILL every pid still alive (a test's last line of defence)."""
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


@contextlib.asynccontextmanager
async def running(manager: WorkerManager, *, servers: int | None = None) -> AsyncIterator[Any]:
    """Run ``manager`` in this loop; wait for its servers to ack; always stop it."""
    expected = servers if servers is not None else len(manager.server_names())
    task = asyncio.ensure_future(manager.serve())
    seen: set[int] = set()

    def ready() -> bool:
        seen.update(child_pids(manager))
        if task.done():
            task.result()
        return len(acked_servers(manager)) == expected

    try:
        await wait_until(ready, what=f"{expected} acked servers")
        yield task
    finally:
        seen.update(child_pids(manager))
        manager.terminate()
        try:
            await asyncio.wait_for(asyncio.shield(task), 30)
        except Exception:
            pass
        kill_all({pid for pid in seen if alive(pid)})
