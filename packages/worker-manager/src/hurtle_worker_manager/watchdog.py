"""The heartbeat watchdog: finds processes whose main loop stopped and replaces them.

Runs in: the main process (a task in the manager's event loop).

Every managed process sends a heartbeat from its main loop every ``interval`` seconds.
One that stays silent longer than ``timeout`` is marked hung; the watchdog asks it for
a stack dump (``STACK_SIGNAL``, written by faulthandler to its stack file), logs the
dump, and kills it. The kill is then an ordinary exit: the manager's policy respawns it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time

from hurtle_worker_manager._spec import STACK_SIGNAL
from hurtle_worker_manager.launcher import SpawnTask
from hurtle_worker_manager.messages import Failure
from hurtle_worker_manager.process import ProcessInstance
from hurtle_worker_manager.table import ProcessTable

__all__ = ["HeartbeatWatchdog"]

logger = logging.getLogger("hurtle.manager")


class HeartbeatWatchdog:
    """Kills and replaces processes whose main loop stopped sending heartbeats."""

    def __init__(
        self, table: ProcessTable, *, interval: float, timeout: float, spawn_task: SpawnTask
    ) -> None:
        self._table = table
        self._interval = interval
        self._timeout = timeout
        self._spawn_task = spawn_task

    async def run(self) -> None:
        """Watch until cancelled."""
        while True:
            await asyncio.sleep(min(self._interval, self._timeout / 2))
            now = time.monotonic()
            for instance in self._table.live():
                if instance.last_beat is None or instance.hung:
                    continue
                silent = now - instance.last_beat
                if silent > self._timeout:
                    instance.hung = True
                    self._spawn_task(self._replace_hung(instance, silent))

    async def _replace_hung(self, instance: ProcessInstance, silent: float) -> None:
        logger.error(
            "%s sent no heartbeat for %.1f s: its main loop is stuck. Dumping its stack, "
            "then replacing it.",
            instance.label,
            silent,
        )
        instance.signal(STACK_SIGNAL)
        stack = await _read_when_written(instance.stack_path, deadline=1.0)
        logger.error("Stack of %s:\n%s", instance.label, stack or "(no stack could be read)")
        instance.failure = Failure(error=f"hung: no heartbeat for {silent:.1f} s")
        instance.signal(signal.SIGKILL)


async def _read_when_written(path: str, deadline: float) -> str:
    """Wait up to ``deadline`` seconds for a file to be written and stop growing."""
    end = time.monotonic() + deadline
    last_size = -1
    while time.monotonic() < end:
        size = _file_size(path)
        if size and size == last_size:
            break
        last_size = size
        await asyncio.sleep(0.05)
    return _read_small_file(path)


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _read_small_file(path: str) -> str:
    try:
        with open(path) as file:
            return file.read()
    except OSError:
        return ""
