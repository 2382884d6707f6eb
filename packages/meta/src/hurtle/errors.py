"""The exceptions of the ``hurtle`` package."""

from __future__ import annotations

from hurtle_worker_manager.errors import StartupError as _ManagerStartupError

__all__ = ["HurtleError", "StartupError", "StartupFailed"]


class HurtleError(Exception):
    """Base of the errors raised by the ``hurtle`` package itself."""


class StartupError(HurtleError, _ManagerStartupError):
    """The server could not start; the message says why and what to do.

    ``app.run()`` logs it, runs ``main_process_stop`` and exits with status 1. It is the
    worker manager's ``StartupError`` too: one class for "could not start", whichever
    layer found out.
    """


StartupFailed = StartupError
"""Former name of ``StartupError`` (kept for callers)."""
