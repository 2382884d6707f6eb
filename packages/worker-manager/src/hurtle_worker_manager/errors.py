"""The exceptions of hurtle-worker-manager: one base class and a few precise kinds.

Runs in: both sides.
"""

from __future__ import annotations


class WorkerManagerError(Exception):
    """Base class of every error this package raises on purpose."""


class StartupError(WorkerManagerError):
    """A process failed to start or to acknowledge its start; everything was stopped.

    ``process`` names the process that failed (e.g. ``Hurtle-Server-0-0``), or is empty
    when the failure was not a single process's.
    """

    def __init__(self, message: str, process: str = "") -> None:
        super().__init__(message)
        self.process = process


class CrashLoopError(WorkerManagerError):
    """A process kept dying while starting, so the manager stopped everything."""


class CommandError(WorkerManagerError):
    """The manager refused or failed a command (restart, scale, manage, ...).

    The message says why, for the person who sent the command.
    """


class UsageError(CommandError, ValueError, TypeError):
    """Our API was called wrongly (a bad count, name or argument); the message says what to do.

    Misuse is a kind of refusal, so a command that arrives malformed is refused with this
    class. It is also a ``ValueError`` and a ``TypeError``, the types these calls raised
    before, so existing ``except`` clauses keep working.
    """


class TargetError(WorkerManagerError):
    """A callable cannot run in another process: it has no importable path."""


class AddressInUseError(WorkerManagerError, OSError):
    """The listening address is already taken by another socket."""
