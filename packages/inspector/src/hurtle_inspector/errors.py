"""The exceptions of hurtle-inspector: one base class and a few precise kinds."""

from __future__ import annotations

__all__ = [
    "InspectorConfigError",
    "InspectorError",
    "InspectorRequestError",
    "InspectorTimeoutError",
]


class InspectorError(Exception):
    """Base class of every error this package raises on purpose."""


class InspectorConfigError(InspectorError, ValueError):
    """The inspector's configuration is invalid; the message says what to change.

    Raised by ``InspectorSettings.from_config`` in the main process, before anything
    starts, so that a bad setting is a clear startup error and never a silent fallback.
    """


class InspectorRequestError(InspectorError):
    """Raise from a command to answer with an error ``status`` (400 by default).

    The message goes to the client in the ``error`` field of the response envelope.
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class InspectorTimeoutError(InspectorRequestError):
    """The manager did not answer (or finish a waited action) in time: HTTP 504."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 504)
