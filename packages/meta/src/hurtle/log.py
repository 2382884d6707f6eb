"""``hurtle.log``: the loggers and a ``dictConfig`` default (see ``hurtle_http.log``)."""

from hurtle_http.log import (
    LOGGING_CONFIG_DEFAULTS,
    access_logger,
    configure,
    error_logger,
    logger,
    server_logger,
)

__all__ = [
    "LOGGING_CONFIG_DEFAULTS",
    "access_logger",
    "configure",
    "error_logger",
    "logger",
    "server_logger",
]
