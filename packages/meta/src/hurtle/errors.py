"""The exceptions of the ``hurtle`` package."""

from __future__ import annotations

__all__ = ["HurtleError", "StartupFailed"]


class HurtleError(Exception):
    """Base of the errors raised by the ``hurtle`` package itself."""


class StartupFailed(HurtleError):
    """The server could not start; the message says why and what to do.

    ``app.run()`` logs it, runs ``main_process_stop`` and exits with status 1.
    """
