"""The process table: every registered worker, its slots, and the state snapshot.

Runs in: the main process.

The manager is the single owner of this table; processes receive copies of it as
``StateUpdate`` messages. An instance is listed under its slot's name while it is the
slot's current instance, and as ``<name>#<generation>`` while it starts beside the
current one (zero-downtime restart) or drains after being replaced.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import msgspec

from hurtle_worker_manager import _platform
from hurtle_worker_manager.errors import CommandError, UsageError
from hurtle_worker_manager.messages import (
    ProcessEntry,
    ProcessStats,
    StateUpdate,
    StatsResult,
    entry_to_dict,
    extend_row,
)
from hurtle_worker_manager.process import ProcessInstance
from hurtle_worker_manager.state import FINAL_STATES
from hurtle_worker_manager.worker import ProcessGroup, Slot

__all__ = ["SERVER", "ProcessTable"]

SERVER = "Server"


class ProcessTable:
    """Workers by name, plus every process instance that has not been reaped yet."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.max_workers = 0
        self.workers: dict[str, ProcessGroup] = {}
        self.instances: set[ProcessInstance] = set()
        self._server_numbers = itertools.count()

    @property
    def main_name(self) -> str:
        """The main process's key (``Hurtle-Main``)."""
        return f"{self.prefix}-Main"

    def register(self, worker: ProcessGroup, count: int) -> None:
        """Add ``worker`` with ``count`` slots; raises ``UsageError`` for a taken name."""
        if worker.name in self.workers:
            raise UsageError(f"Worker {worker.name} already exists: choose another name")
        worker.slots = [Slot(f"{self.prefix}-{worker.name}-{i}", worker) for i in range(count)]
        self.workers[worker.name] = worker

    def add_server(self, target: str, kwargs: dict[str, Any]) -> ProcessGroup:
        """Register the next server worker (``Server-<n>``, numbers never reused)."""
        worker = ProcessGroup(
            name=f"{SERVER}-{next(self._server_numbers)}",
            target=target,
            kwargs=kwargs,
            server=True,
            transient=True,
            restartable=True,
        )
        self.register(worker, 1)
        return worker

    def slots(self) -> list[Slot]:
        """Every slot of every registered worker."""
        return [slot for worker in self.workers.values() for slot in worker.slots]

    def servers(self) -> list[ProcessGroup]:
        """The registered server workers, oldest first."""
        return [worker for worker in self.workers.values() if worker.server]

    def server_names(self) -> list[str]:
        """Process names of the server slots, oldest first."""
        return [slot.name for worker in self.servers() for slot in worker.slots]

    def live(self) -> list[ProcessInstance]:
        """Instances whose OS process may still run."""
        return [instance for instance in self.instances if instance.alive]

    @staticmethod
    def key(instance: ProcessInstance) -> str:
        """The instance's name in the state table."""
        if instance.current:
            return instance.name
        return f"{instance.name}#{instance.generation}"

    def snapshot(self) -> StateUpdate:
        """The typed state of every process, as pushed to the processes."""
        entries: dict[str, ProcessEntry] = {}
        for slot in self.slots():
            if slot.current is None:
                entries[slot.name] = ProcessEntry(
                    server=slot.worker.server,
                    state=slot.display_state().value,
                    restart_at=slot.restart_at,
                    generation=slot.generations,
                    failed=slot.failed,
                )
            for instance in slot.instances():
                entry = instance.entry()
                if slot.failed is not None and instance is slot.current:
                    entry = msgspec.structs.replace(entry, failed=slot.failed)
                entries[self.key(instance)] = entry
        for instance in self.instances:  # draining instances of removed workers
            entries.setdefault(self.key(instance), instance.entry())
        return StateUpdate(main_pid=os.getpid(), processes=entries, max_workers=self.max_workers)

    def as_dicts(self) -> dict[str, dict[str, Any]]:
        """The reference's view: plain dicts by name, with the main process's pid."""
        update = self.snapshot()
        table: dict[str, dict[str, Any]] = {self.main_name: {"pid": update.main_pid}}
        table.update({name: entry_to_dict(entry) for name, entry in update.processes.items()})
        return table

    def stats(self) -> StatsResult:
        """RSS, CPU time and uptime of every live process, read from the OS now."""
        rows = []
        for instance in sorted(self.live(), key=self.key):
            assert instance.pid is not None
            rows.append(
                extend_row(
                    instance.entry(),
                    ProcessStats,
                    name=self.key(instance),
                    uptime=round(instance.uptime(), 3),
                    rss=_platform.rss_bytes(instance.pid),
                    cpu_seconds=_platform.cpu_seconds(instance.pid),
                )
            )
        return StatsResult(processes=rows)

    def select_for_restart(self, names: tuple[str, ...], all_workers: bool) -> list[Slot]:
        """The slots a restart request designates; raises ``CommandError`` if it cannot be done.

        No names (or ``all_workers``) means every transient process. A name is a process
        name (``Hurtle-Server-0-0``) or a worker name (``Server-0``). A durable process
        restarts only from a final state, as in the reference.
        """
        if names and all_workers:
            raise CommandError("Ambiguous restart with both named processes and all_workers=True")
        slots = self.slots()
        if all_workers or not names:
            chosen = [slot for slot in slots if slot.worker.transient and slot.worker.restartable]
            if not chosen:
                raise CommandError("There is no restartable process")
            return chosen
        chosen = []
        unknown = []
        for name in names:
            matches = [slot for slot in slots if name in (slot.name, slot.worker.name)]
            if not matches:
                unknown.append(name)
            for slot in matches:
                _check_restartable(slot)
                if slot not in chosen:
                    chosen.append(slot)
        if unknown:
            known = ", ".join(slot.name for slot in slots)
            raise CommandError(f"No process named {', '.join(unknown)} (known: {known})")
        return chosen


def _check_restartable(slot: Slot) -> None:
    worker = slot.worker
    if not worker.restartable:
        raise CommandError(f"{slot.name} is not restartable")
    current = slot.current
    if not worker.transient and current is not None and current.state not in FINAL_STATES:
        raise CommandError(
            f"Cannot restart {slot.name}: it is {current.state.value}; a durable process "
            "restarts only from a final state (COMPLETED, FAILED or NONE)"
        )
