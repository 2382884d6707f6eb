"""The settings a Hurtle app adds to hurtle-http's: the inspector, auto-reload, reports.

Every key can come from a ``HURTLE_<KEY>`` environment variable, read when the app is
created, so it is in place before the main process starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from hurtle_http import Config

__all__ = ["HurtleConfig"]


class HurtleConfig(Config):
    """``hurtle_http.Config`` plus the keys of the worker manager and the inspector.

    Empty strings mean "not set" for the TLS paths and the API key, so that values read
    from the environment always stay strings.
    """

    DEFAULTS: ClassVar[Mapping[str, object]] = {
        "INSPECTOR": False,
        "INSPECTOR_HOST": "localhost",
        "INSPECTOR_PORT": 6457,
        "INSPECTOR_TLS_CERT": "",
        "INSPECTOR_TLS_KEY": "",
        "INSPECTOR_API_KEY": "",
        "INSPECTOR_MIN_READY": 1,
        "INSPECTOR_METRICS_HOST": "",
        "INSPECTOR_METRICS_PORT": "",
        "AUTO_RELOAD": False,
        "RELOAD_INTERVAL": 0.5,
        "RELOADED_FILES": "",
        "STATS_REPORT_INTERVAL": 1.0,
        "HEARTBEAT_TIMEOUT": 30.0,
        "MAX_REQUESTS": 0,
        "MAX_REQUESTS_JITTER": 0,
        "MAX_LIFETIME": 0.0,
        "MAX_LIFETIME_JITTER": 0.0,
        "MAX_RSS": 0,
        "MAX_RSS_SAMPLES": 3,
        "PRE_STOP_DELAY": 0.0,
    }
