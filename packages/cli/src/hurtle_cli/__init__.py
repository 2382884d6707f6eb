"""hurtle-cli: the ``hurtle`` command (``serve`` an app, ``inspect`` a running server).

``hurtle inspect`` needs only this package: it talks to an inspector over HTTP(S) with the
standard library. ``hurtle serve`` imports the user's app by path and calls its ``run()``.
"""

from hurtle_cli.__about__ import __version__
from hurtle_cli.client import Endpoint, InspectorAnswer, InspectorClient, Reply
from hurtle_cli.errors import (
    AppLoadError,
    AuthenticationError,
    CommandFailedError,
    EndpointError,
    HurtleCliError,
    InspectorUnreachableError,
    ProtocolError,
    ServeError,
    UnknownCommandError,
)
from hurtle_cli.main import cli, main

__all__ = [
    "AppLoadError",
    "AuthenticationError",
    "CommandFailedError",
    "Endpoint",
    "EndpointError",
    "HurtleCliError",
    "InspectorAnswer",
    "InspectorClient",
    "InspectorUnreachableError",
    "ProtocolError",
    "Reply",
    "ServeError",
    "UnknownCommandError",
    "__version__",
    "cli",
    "main",
]
