"""``--log-level`` and ``--log-config`` of ``hurtle serve``, for the main process and workers.

Both are applied here, before the app is imported, and exported as ``HURTLE_LOG_LEVEL`` /
``HURTLE_LOG_CONFIG`` so that worker processes (which import the app again) apply them too
(hurtle-http reads them when an app is created).
"""

from __future__ import annotations

import json
import logging
import logging.config
import os

from hurtle_cli.errors import HurtleCliError

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def apply_logging(level: str | None, config_path: str | None) -> None:
    """Configure logging from the options, in this process and (by env) in the workers."""
    if config_path:
        path = os.path.abspath(config_path)
        try:
            if path.endswith(".json"):
                with open(path, encoding="utf-8") as handle:
                    logging.config.dictConfig(json.load(handle))
            else:
                logging.config.fileConfig(path, disable_existing_loggers=False)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise HurtleCliError(
                f"--log-config {config_path}: {type(exc).__name__}: {exc}"
            ) from exc
        os.environ["HURTLE_LOG_CONFIG"] = path
    if level:
        name = level.upper()
        if not logging.getLogger().handlers:
            logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s")
        logging.getLogger().setLevel(name)
        logging.getLogger("hurtle").setLevel(name)
        os.environ["HURTLE_LOG_LEVEL"] = name
