"""The exceptions of hurtle-cli; each carries the exit status the ``hurtle`` command ends with.

They subclass ``click.ClickException`` so that click prints ``Error: <message>`` on stderr
and exits with ``exit_code``, never with a traceback.
"""

from __future__ import annotations

import click

__all__ = [
    "AppLoadError",
    "AuthenticationError",
    "CommandFailedError",
    "EndpointError",
    "HurtleCliError",
    "InspectorUnreachableError",
    "ProtocolError",
    "ServeError",
    "UnknownCommandError",
]


class HurtleCliError(click.ClickException):
    """Base of every error the ``hurtle`` command reports; exits with ``exit_code``."""

    exit_code = 1


class AppLoadError(HurtleCliError):
    """``hurtle serve`` could not import the target or it is not an app (exit 1)."""


class ServeError(HurtleCliError):
    """The app's ``run()`` raised (exit 1); ``SystemExit`` from the app passes through as is."""


class CommandFailedError(HurtleCliError):
    """The inspector refused the command (400) or the command raised (500) (exit 1)."""


class EndpointError(HurtleCliError):
    """``--host``, ``--port`` and the TLS options contradict each other (exit 2)."""

    exit_code = 2


class ProtocolError(HurtleCliError):
    """The server answered, but not like a Hurtle inspector (exit 1)."""


class UnknownCommandError(HurtleCliError):
    """The inspector has no such command (404) (exit 2, like a usage error)."""

    exit_code = 2


class InspectorUnreachableError(HurtleCliError):
    """No connection to the inspector, a TLS failure or no answer in time (exit 3)."""

    exit_code = 3


class AuthenticationError(HurtleCliError):
    """The inspector refused the API key (401) (exit 4)."""

    exit_code = 4
