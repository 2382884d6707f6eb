"""A Hurtle app logging access the way a Sanic user configures it: ``access_app.py --port N``.

Its ``log_config`` gives ``hurtle.access`` a formatter in the reference's style
(``%(host)s %(request)s %(status)d %(byte)d``) writing to ``$ACCESS_FILE``; ``run`` sets the
message with ``access_log_format``. Two workers (spawn): each applies the config itself.
"""

from __future__ import annotations

import argparse
import os

from hurtle import Hurtle, Request, json
from hurtle.log import LOGGING_CONFIG_DEFAULTS

LOG_CONFIG = {
    **LOGGING_CONFIG_DEFAULTS,
    "handlers": {
        **LOGGING_CONFIG_DEFAULTS["handlers"],
        "access_file": {
            "class": "logging.FileHandler",
            "formatter": "sanic_access",
            "filename": os.environ["ACCESS_FILE"],
        },
    },
    "formatters": {
        **LOGGING_CONFIG_DEFAULTS["formatters"],
        "sanic_access": {
            "format": "[%(host)s]: %(request)s %(status)d %(byte)d "
            "| %(duration).3f %(request_id)s | %(message)s",
        },
    },
    "loggers": {
        **LOGGING_CONFIG_DEFAULTS["loggers"],
        "hurtle.access": {"level": "INFO", "handlers": ["access_file"], "propagate": False},
    },
}

app = Hurtle("accessapp", log_config=LOG_CONFIG)


@app.get("/items/<item_id:int>")
async def item(request: Request, item_id: int) -> object:
    return json({"id": item_id, "worker": app.m.name})


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    options = parser.parse_args()
    app.run(port=options.port, workers=2, access_log_format="%(m)s %(U)s %(s)s worker-format")
