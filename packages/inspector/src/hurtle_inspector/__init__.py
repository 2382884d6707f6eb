"""hurtle-inspector: the control service of a running Hurtle server.

``serve_inspector`` runs in the managed process ``Hurtle-Inspector-0`` and serves an
HTTP API (reload, scale, restart, shutdown, stats, info, health and readiness) over the
worker manager's multiplexer. Subclass ``Inspector`` to add commands; build the settings
with ``InspectorSettings.from_config`` in the main process.
"""

from hurtle_inspector.__about__ import __version__
from hurtle_inspector.errors import (
    InspectorConfigError,
    InspectorError,
    InspectorRequestError,
    InspectorTimeoutError,
)
from hurtle_inspector.inspector import Inspector
from hurtle_inspector.service import build_app, serve_inspector
from hurtle_inspector.settings import InspectorSettings
from hurtle_inspector.standby import Standby

__all__ = [
    "Inspector",
    "InspectorConfigError",
    "InspectorError",
    "InspectorRequestError",
    "InspectorSettings",
    "InspectorTimeoutError",
    "Standby",
    "__version__",
    "build_app",
    "serve_inspector",
]
