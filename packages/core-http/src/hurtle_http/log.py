"""The loggers of hurtle-http and a ``logging.config.dictConfig`` default for them.

``logger`` (``hurtle.root``) for your own messages, ``error_logger`` (``hurtle.error``:
handler failures), ``access_logger`` (``hurtle.access``: one line per response),
``server_logger`` (``hurtle.server``: start and stop). Pass ``log_config=`` to the app (or
call ``logging.config.dictConfig(LOGGING_CONFIG_DEFAULTS)``) to configure them.

Each access record carries ``ACCESS_LOG_FIELDS`` as attributes (``%(status)d`` in a
formatter of yours); its message is ``ACCESS_LOG_FORMAT`` (config; default
``DEFAULT_ACCESS_LOG_FORMAT``) filled with them and with gunicorn's ``ACCESS_LOG_ATOMS``.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from hurtle_http._access import ATOMS as ACCESS_LOG_ATOMS
from hurtle_http._access import DEFAULT_FORMAT as DEFAULT_ACCESS_LOG_FORMAT
from hurtle_http._access import FIELDS as ACCESS_LOG_FIELDS
from hurtle_http._access import AccessLog

logger = logging.getLogger("hurtle.root")
error_logger = logging.getLogger("hurtle.error")
access_logger = logging.getLogger("hurtle.access")
server_logger = logging.getLogger("hurtle.server")

LOGGING_CONFIG_DEFAULTS: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "loggers": {
        "hurtle.root": {"level": "INFO", "handlers": ["console"], "propagate": False},
        "hurtle.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
        "hurtle.access": {"level": "INFO", "handlers": ["access_console"], "propagate": False},
        "hurtle.server": {"level": "INFO", "handlers": ["console"], "propagate": False},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "generic",
            "stream": "ext://sys.stdout",
        },
        "error_console": {
            "class": "logging.StreamHandler",
            "formatter": "generic",
            "stream": "ext://sys.stderr",
        },
        "access_console": {
            "class": "logging.StreamHandler",
            "formatter": "access",
            "stream": "ext://sys.stdout",
        },
    },
    "formatters": {
        "generic": {
            "format": "%(asctime)s [%(process)s] [%(levelname)s] %(message)s",
            "datefmt": "[%Y-%m-%d %H:%M:%S %z]",
            "class": "logging.Formatter",
        },
        "access": {
            "format": "%(asctime)s - (%(name)s)[%(levelname)s]: %(message)s",
            "datefmt": "[%Y-%m-%d %H:%M:%S %z]",
            "class": "logging.Formatter",
        },
    },
}
"""A ``dictConfig`` for the hurtle loggers: messages to stdout, errors to stderr."""


def configure(log_config: Mapping[str, Any] | None = None) -> None:
    """Apply ``log_config`` (a ``dictConfig`` mapping; the defaults when None)."""
    import logging.config  # only apps that configure logging pay for its import

    logging.config.dictConfig(copy.deepcopy(dict(log_config or LOGGING_CONFIG_DEFAULTS)))


_applied_from_environ: str | None = None


def configure_from_environ() -> None:
    """Apply ``HURTLE_LOG_CONFIG`` (a JSON ``dictConfig`` or an INI ``fileConfig`` file, as
    ``hurtle serve --log-config`` exports it), once per process."""
    global _applied_from_environ
    path = os.environ.get("HURTLE_LOG_CONFIG")
    if not path or path == _applied_from_environ:
        return
    _applied_from_environ = path
    import logging.config  # only when a log config is given

    if path.endswith(".json"):
        with open(path, encoding="utf-8") as handle:
            logging.config.dictConfig(json.load(handle))
    else:
        logging.config.fileConfig(path, disable_existing_loggers=False)


__all__ = [
    "ACCESS_LOG_ATOMS",
    "ACCESS_LOG_FIELDS",
    "DEFAULT_ACCESS_LOG_FORMAT",
    "LOGGING_CONFIG_DEFAULTS",
    "AccessLog",
    "access_logger",
    "configure",
    "configure_from_environ",
    "error_logger",
    "logger",
    "server_logger",
]
