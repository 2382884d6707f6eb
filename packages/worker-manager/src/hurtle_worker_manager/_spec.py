"""What the launcher tells a new process about itself, and the signal that dumps its stack.

Runs in: both sides. The launcher (main process) builds a ``ProcessSpec`` for every
process it starts; ``_child`` (in that process) reads it. ``STACK_SIGNAL`` is sent by the
heartbeat watchdog and handled by faulthandler in the child. ``TEMPLATE_MODULE`` is the
module the forkserver's template runs (``template``), read back in ``_child``.
"""

from __future__ import annotations

import signal

import msgspec

from hurtle_worker_manager.template import TEMPLATE_MODULE

__all__ = ["STACK_SIGNAL", "TEMPLATE_MODULE", "ProcessSpec"]

STACK_SIGNAL = signal.SIGUSR1


class ProcessSpec(msgspec.Struct, frozen=True):
    """Everything a new process needs to know about itself."""

    name: str
    generation: int
    target: str
    server: bool
    parent_pid: int
    heartbeat_interval: float
    stack_path: str
    log_level: int
    loop_factory: str | None = None
    reloaded_files: tuple[str, ...] = ()
    inherited_peer_fd: int = -1
    start_method: str = "spawn"
    environ: dict[str, str] | None = None
    """The main process's environment, for a process forked from the template (which has
    the environment of its own start)."""
    umask: int = -1
    """The main process's umask, for a process forked from the template (-1: keep its own)."""
