"""Control operations on running processes: restart and scale.

Runs in: the main process (inside the manager's event loop).

An operation works over the ``ProcessTable`` and the ``Launcher``, never over the
manager: the manager validates the request, then hands it here. Operations hold one
lock, so back-to-back requests apply in order, and each answers as soon as it is
accepted (the new processes are started) unless the caller asks to ``wait`` for the
replacements to be ready.

Storms are bounded: a restart asked for while an identical one (same processes, same
order, same files) waits for the lock joins it, so a thousand reloads make at most two
restarts, and every caller gets that restart's answer; at most ``MAX_QUEUED`` operations
wait for the lock, and one more is refused with a ``CommandError`` at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from hurtle_worker_manager.errors import CommandError
from hurtle_worker_manager.launcher import Launcher, SpawnTask
from hurtle_worker_manager.messages import RestartResult, ScaleResult
from hurtle_worker_manager.table import ProcessTable
from hurtle_worker_manager.worker import Slot

__all__ = ["Operations"]

logger = logging.getLogger("hurtle.manager")

MAX_QUEUED = 32
"""Operations that may wait for the lock; one more is refused at once."""

_RestartKey = tuple[tuple[str, ...], bool, tuple[str, ...]]


class Operations:
    """Restarts (shutdown-first or zero-downtime) and scaling, serialised by one lock."""

    def __init__(
        self,
        table: ProcessTable,
        launcher: Launcher,
        *,
        server_target: str,
        server_kwargs: dict[str, Any],
        graceful_timeout: float,
        shutting_down: Callable[[], bool],
        changed: Callable[[], None],
        spawn_task: SpawnTask,
    ) -> None:
        self._table = table
        self._launcher = launcher
        self._server_target = server_target
        self._server_kwargs = server_kwargs
        self._graceful_timeout = graceful_timeout
        self._shutting_down = shutting_down
        self._changed = changed
        self._spawn_task = spawn_task
        self._lock = asyncio.Lock()
        self._waiting = 0
        self._queued: dict[_RestartKey, tuple[asyncio.Future[RestartResult], asyncio.Task[Any]]]
        self._queued = {}

    def open(self) -> None:
        """Prepare for a run (a fresh lock, bound to the running loop on first use)."""
        self._lock = asyncio.Lock()
        self._waiting = 0
        self._queued = {}

    def _admit(self, action: str) -> None:
        """Count one more operation waiting for the lock; refuse it when too many wait."""
        if self._waiting >= MAX_QUEUED:
            raise CommandError(
                f"Too many control operations are queued ({MAX_QUEUED}): the {action} is "
                "refused; retry once they complete"
            )
        self._waiting += 1

    async def _take_turn(self, key: _RestartKey | None = None) -> None:
        """Acquire the lock; a queued restart stops being joinable once its turn comes."""
        try:
            await self._lock.acquire()
        finally:
            self._waiting -= 1
            if key is not None:
                self._queued.pop(key, None)

    # --- restarts ---

    async def restart(
        self,
        slots: list[Slot],
        *,
        zero_downtime: bool,
        wait: bool,
        reloaded_files: tuple[str, ...],
        reason: str = "restart",
        on_done: Callable[[], None] | None = None,
    ) -> RestartResult:
        """Restart ``slots``; see ``WorkerManager.restart`` (an identical queued one is joined).

        ``reason`` is counted in each slot's restarts; ``on_done`` runs when the operation
        ends, however it ends (also for a caller that joined a queued one).
        """
        key = (tuple(slot.name for slot in slots), zero_downtime, reloaded_files)
        queued = self._queued.get(key)
        if queued is None:
            self._admit("restart")
            accepted: asyncio.Future[RestartResult] = asyncio.get_running_loop().create_future()
            operation = self._spawn_task(
                self._restart(slots, zero_downtime, reloaded_files, accepted, key, reason)
            )
            queued = self._queued[key] = (accepted, operation)
        else:
            logger.info("An identical restart is already queued: this request joins it")
            accepted, operation = queued
        if on_done is not None:
            operation.add_done_callback(lambda _: on_done())
        return await (asyncio.shield(operation) if wait else _first(accepted, operation))

    async def _restart(
        self,
        slots: list[Slot],
        zero_downtime: bool,
        reloaded_files: tuple[str, ...],
        accepted: asyncio.Future[RestartResult],
        key: _RestartKey,
        reason: str = "restart",
    ) -> RestartResult:
        launcher = self._launcher
        await self._take_turn(key)
        try:
            if self._shutting_down():
                raise CommandError("The server is shutting down")
            slots = [s for s in slots if self._table.workers.get(s.worker.name) is s.worker]
            result = RestartResult(restarted=[slot.name for slot in slots])
            if not zero_downtime:
                for slot in slots:
                    launcher.retire(slot)
            for slot in slots:
                slot.note_restart(reason)
            fresh = [launcher.spawn(slot, reloaded_files=reloaded_files) for slot in slots]
            _resolve(accepted, result)
            outcomes = await asyncio.gather(
                *(launcher.await_ready(new) for new in fresh), return_exceptions=True
            )
            errors = []
            for slot, new, outcome in zip(slots, fresh, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    errors.append(str(outcome))
                    if new in slot.incoming:  # zero downtime: drop the failed newcomer
                        slot.incoming.remove(new)
                        slot.retiring.append(new)
                        launcher.stop(new, timeout=1.0)
                elif new in slot.incoming:  # zero downtime: the newcomer takes over
                    slot.incoming.remove(new)
                    launcher.retire(slot)
                    slot.current = new
                    self._changed()
            if errors:
                kept = " (the old process keeps serving)" if zero_downtime else ""
                raise CommandError("Restart failed" + kept + ": " + "; ".join(errors))
            return result
        finally:
            self._lock.release()

    # --- scaling ---

    async def scale(self, target: Callable[[int], int], *, wait: bool) -> ScaleResult:
        """Run ``target(current count)`` server workers; see ``WorkerManager.scale``."""
        self._admit("scale")
        accepted: asyncio.Future[ScaleResult] = asyncio.get_running_loop().create_future()
        operation = self._spawn_task(self._scale(target, accepted))
        return await (operation if wait else _first(accepted, operation))  # type: ignore[no-any-return]

    async def _scale(
        self, target: Callable[[int], int], accepted: asyncio.Future[ScaleResult]
    ) -> ScaleResult:
        launcher = self._launcher
        table = self._table
        await self._take_turn()
        try:
            if self._shutting_down():
                raise CommandError("The server is shutting down")
            servers = table.servers()
            replicas = target(len(servers))
            if replicas == len(servers):
                logger.info("No change needed: there are already %d workers", replicas)
            else:
                logger.info("Scaling from %d to %d workers", len(servers), replicas)
            started = []
            for _ in range(replicas - len(servers)):
                worker = table.add_server(self._server_target, self._server_kwargs)
                started.append(launcher.spawn(worker.slots[0]))
            stopping = []
            for worker in reversed(servers[replicas:]):  # the newest go first
                del table.workers[worker.name]
                for slot in worker.slots:
                    slot.cancel_respawn()
                    launcher.retire(slot)
                    stopping.extend(slot.retiring)
            self._changed()
            _resolve(accepted, ScaleResult(replicas=replicas, workers=table.server_names()))
            outcomes = await asyncio.gather(
                *(launcher.await_ready(new) for new in started), return_exceptions=True
            )
            if stopping:
                await asyncio.wait([i.exited for i in stopping], timeout=self._graceful_timeout + 5)
            errors = [str(outcome) for outcome in outcomes if isinstance(outcome, BaseException)]
            if errors:
                raise CommandError("Scaling started workers that failed: " + "; ".join(errors))
            return ScaleResult(replicas=replicas, workers=table.server_names())
        finally:
            self._lock.release()


async def _first(accepted: asyncio.Future[Any], operation: asyncio.Task[Any]) -> Any:
    """The accepted result, or the operation's error if it failed before accepting."""
    await asyncio.wait({accepted, operation}, return_when=asyncio.FIRST_COMPLETED)
    if accepted.done():
        operation.add_done_callback(_log_operation_error)
        return accepted.result()
    return operation.result()


def _log_operation_error(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("%s", task.exception())


def _resolve(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)
