"""What the main process tells the systems that run it, and the loops production needs.

Runs in: the main process (inside the manager's event loop).

The manager calls a ``Production`` at named moments of its life, and it does the rest:

- ``started()``: every server worker acked: phase ``ready``, ``READY=1`` with a
  ``STATUS=`` naming the worker counts;
- ``reloading()`` / ``reloaded()``: around every reload (SIGHUP, the inspector, ``app.m``):
  ``RELOADING=1`` + ``MONOTONIC_USEC=``, then ``READY=1`` once the new workers serve;
- ``draining()`` then ``stopping()``: a shutdown began: ``STOPPING=1``; during the
  pre-stop delay the phase is ``draining`` (``/ready`` is 503, the workers still serve),
  then ``stopping`` (the workers drain).

Its background loops (``loops()``): ``WATCHDOG=1`` every half ``$WATCHDOG_USEC`` from the
manager's own loop (so a stuck main process misses them), recycling (one worker at a
time, see ``recycling``), and reaping orphans when the main process is PID 1 (``reaper``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec

from hurtle_worker_manager import _platform
from hurtle_worker_manager.notify import Notifier
from hurtle_worker_manager.process import ProcessInstance
from hurtle_worker_manager.reaper import is_init, reap_orphans
from hurtle_worker_manager.recycling import RecyclePolicy, RecycleWatch
from hurtle_worker_manager.state import ProcessState
from hurtle_worker_manager.table import ProcessTable
from hurtle_worker_manager.worker import Slot

__all__ = ["Production"]

logger = logging.getLogger("hurtle.manager")

RECYCLE_INTERVAL = 1.0
REAP_INTERVAL = 1.0
_decode_map = msgspec.msgpack.Decoder(dict[str, object]).decode


class Production:
    """The service-manager notifications, the phase, recycling and PID 1 reaping."""

    def __init__(
        self,
        table: ProcessTable,
        *,
        notifier: Notifier,
        recycling: RecyclePolicy,
        changed: Callable[[], None],
        recycle: Callable[[Slot], Coroutine[Any, Any, Any]],
        reap: bool | None = None,
        recycle_interval: float = RECYCLE_INTERVAL,
    ) -> None:
        self._table = table
        self.notifier = notifier
        self.recycling = recycling
        self._changed = changed
        self._recycle = recycle
        self._reap = reap
        self.recycle_interval = recycle_interval
        self._reloads = 0
        self.recycling_now: Slot | None = None

    # --- moments ---

    def _set_phase(self, phase: str) -> None:
        if self._table.phase != phase:
            self._table.phase = phase
            self._changed()

    def starting(self) -> None:
        """The manager starts its processes."""
        self._set_phase("starting")
        self.notifier.status("starting the server workers")

    def started(self) -> None:
        """Every server worker acked: the service is ready."""
        self._set_phase("ready")
        self.notifier.ready(self.status())

    def reloading(self) -> None:
        """A reload of every server worker begins."""
        self._reloads += 1
        self._set_phase("reloading")
        self.notifier.reloading("reloading: " + self.status())

    def reloaded(self) -> None:
        """A reload ended (its replacements serve, or failed and the old ones kept serving)."""
        self._reloads = max(0, self._reloads - 1)
        if self._reloads == 0 and self._table.phase == "reloading":
            self._set_phase("ready")
            self.notifier.ready(self.status())

    def draining(self) -> None:
        """A shutdown began; the pre-stop delay (if any) follows, still serving."""
        self._set_phase("draining")
        self.notifier.stopping("stopping: " + self.status())

    def stopping(self) -> None:
        """The processes are being stopped."""
        self._set_phase("stopping")

    def status(self) -> str:
        """``2 of 2 server workers serving``: server slots with an acked, serving instance."""
        servers = [slot for worker in self._table.servers() for slot in worker.slots]
        serving = sum(
            1
            for slot in servers
            if any(
                instance.state is ProcessState.ACKED and instance.serving is not False
                for instance in slot.instances()
            )
        )
        return f"{serving} of {len(servers)} server workers serving"

    # --- loops ---

    def loops(self) -> list[Coroutine[Any, Any, None]]:
        """The background loops this configuration needs (run as tasks by the manager)."""
        loops = []
        if self.notifier.watchdog_interval is not None:
            loops.append(self._watchdog(self.notifier.watchdog_interval))
        if self.recycling.enabled:
            loops.append(self._recycler())
        if self._reap if self._reap is not None else is_init():
            loops.append(self._reaper())
        return loops

    async def _watchdog(self, interval: float) -> None:
        while True:
            self.notifier.watchdog()
            await asyncio.sleep(interval)

    async def _reaper(self) -> None:
        while True:
            await asyncio.sleep(REAP_INTERVAL)
            managed = {i.pid for i in self._table.instances if i.pid is not None}
            for pid, status in reap_orphans(managed):
                logger.info("Reaped orphan process %d (wait status %d)", pid, status)

    async def _recycler(self) -> None:
        while True:
            await asyncio.sleep(self.recycle_interval)
            if self.recycling_now is not None or self._table.phase not in ("ready", ""):
                continue
            due = self._find_due()
            if due is None:
                continue
            slot, instance, reason = due
            logger.info("Recycling %s: %s reached", instance.label, reason)
            self.recycling_now = slot
            try:
                await self._recycle(slot)
            except Exception as exc:
                logger.error("Recycling %s failed: %s", slot.name, exc)
            finally:
                self.recycling_now = None

    def _find_due(self) -> tuple[Slot, ProcessInstance, str] | None:
        found = None
        for worker in self._table.servers():
            for slot in worker.slots:
                instance = slot.current
                if instance is None or not instance.acked or not instance.alive or slot.incoming:
                    continue
                watch = instance.recycle_watch
                if not isinstance(watch, RecycleWatch):
                    watch = instance.recycle_watch = self.recycling.watch()
                sample_rss = watch.max_rss and instance.pid is not None
                reason = watch.sample(
                    requests=self._requests(instance),
                    uptime=instance.uptime(),
                    rss=_platform.rss_bytes(instance.pid) if sample_rss and instance.pid else None,
                )
                if reason and found is None:
                    found = (slot, instance, reason)
        return found

    def _requests(self, instance: ProcessInstance) -> float | None:
        key, field = self.recycling.requests_report
        payload = instance.reports.get(key) if key else None
        if payload is None:
            return None
        try:
            value = _decode_map(payload).get(field)
        except msgspec.DecodeError:
            return None
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None
