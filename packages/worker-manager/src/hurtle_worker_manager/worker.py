"""Process groups (named groups of identical processes) and their slots.

Runs in: the main process.

A ``ProcessGroup`` (also exported as ``Worker``, the reference's name) is what
``manage()`` registers: a target, its arguments and its restart
policy. It has ``workers`` slots, each a stable process name (``Hurtle-<name>-<i>``)
whose successive process instances carry increasing generations. Server workers are
marked by ``server=True``, never guessed from their names.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hurtle_worker_manager.process import ProcessInstance
from hurtle_worker_manager.state import ProcessState

__all__ = ["ProcessGroup", "Slot", "Worker"]


@dataclass(eq=False)
class ProcessGroup:
    """A registered group of processes that run one target with one policy.

    "Worker" names too many things (the server processes, the state dict, this group), so
    the class is ``ProcessGroup``; ``Worker`` stays as its public alias.
    """

    name: str
    target: str
    kwargs: dict[str, Any]
    server: bool = False
    transient: bool = False
    restartable: bool = False
    tracked: bool = True
    auto_start: bool = True
    respawn: bool = False
    slots: list[Slot] = field(default_factory=list)

    @property
    def respawns(self) -> bool:
        """Whether an unexpected death is repaired automatically (servers, transient, respawn)."""
        return self.server or self.transient or self.respawn


@dataclass(eq=False)
class Slot:
    """One stable process name and the instances that have held it."""

    name: str
    worker: ProcessGroup
    current: ProcessInstance | None = None
    incoming: list[ProcessInstance] = field(default_factory=list)
    retiring: list[ProcessInstance] = field(default_factory=list)
    generations: int = 0
    restart_at: datetime | None = None
    crash_streak: int = 0
    start_failures: int = 0
    respawn_timer: asyncio.TimerHandle | None = None
    failed: str | None = None
    """Why the slot is marked failed (a crash loop at run time); None while healthy."""

    def instances(self) -> list[ProcessInstance]:
        """Every instance the manager still tracks for this slot."""
        current = [self.current] if self.current is not None else []
        return current + self.incoming + self.retiring

    def live(self) -> list[ProcessInstance]:
        """Instances whose OS process may still run."""
        return [instance for instance in self.instances() if instance.alive]

    def cancel_respawn(self) -> None:
        """Drop a pending respawn, if any."""
        if self.respawn_timer is not None:
            self.respawn_timer.cancel()
            self.respawn_timer = None

    def display_state(self) -> ProcessState:
        """The slot's state when it has no current instance."""
        if self.failed is not None:
            return ProcessState.FAILED
        if self.respawn_timer is not None:
            return ProcessState.RESTARTING
        return ProcessState.NONE


Worker = ProcessGroup
"""The reference's name for ``ProcessGroup`` (what ``manage()`` returns)."""
