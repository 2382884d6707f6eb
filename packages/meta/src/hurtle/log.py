"""``hurtle.log``: the loggers and a ``dictConfig`` default (see ``hurtle_http.log``)."""

from hurtle_http.log import (
    ACCESS_LOG_ATOMS,
    ACCESS_LOG_FIELDS,
    DEFAULT_ACCESS_LOG_FORMAT,
    LOGGING_CONFIG_DEFAULTS,
    access_logger,
    configure,
    error_logger,
    logger,
    server_logger,
)

__all__ = [
    "ACCESS_LOG_ATOMS",
    "ACCESS_LOG_FIELDS",
    "DEFAULT_ACCESS_LOG_FORMAT",
    "LOGGING_CONFIG_DEFAULTS",
    "access_logger",
    "configure",
    "error_logger",
    "logger",
    "server_logger",
]
