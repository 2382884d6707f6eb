"""What binds an app to the process it runs in: the manager, the multiplexer, shared_ctx.

Runs in: every process. One ``ProcessBinding`` per app is the single owner of these
handles: the runner sets them in the main process, the server-process entry
(``hurtle.server_process``) in each server process, and ``Hurtle`` only reads them (``app.manager``,
``app.m``, ``app.shared_ctx``). Neither side calls the other's private methods.
"""

from __future__ import annotations

import os

from hurtle_worker_manager import Multiplexer, SharedContext, WorkerManager

__all__ = ["ProcessBinding"]


class ProcessBinding:
    """The process-level handles of one app, set by whoever runs it in this process."""

    def __init__(self) -> None:
        self.shared_ctx = _closed_shared_context()
        self.multiplexer: Multiplexer | None = None
        self._manager: WorkerManager | None = None
        self._manager_pid = 0

    @property
    def manager(self) -> WorkerManager | None:
        """The manager, in the process that attached it (never in a forked child)."""
        if self._manager_pid != os.getpid():
            return None
        return self._manager

    def open_shared_context(self) -> None:
        """Main process, before ``main_process_start``: a fresh context to fill."""
        self.shared_ctx = SharedContext()

    def attach_manager(self, manager: WorkerManager | None) -> None:
        """Main process: the manager from ``main_process_ready`` on (``None`` after stop)."""
        self._manager = manager
        self._manager_pid = os.getpid()

    def enter_worker(self, multiplexer: Multiplexer) -> None:
        """A managed process: its multiplexer and the context the manager handed it."""
        self.multiplexer = multiplexer
        self._manager = None
        self.shared_ctx = multiplexer.shared_ctx


def _closed_shared_context() -> SharedContext:
    context = SharedContext()
    context.lock()
    return context
