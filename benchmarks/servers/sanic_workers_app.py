"""Sanic with N worker processes: the hello route, plus `/pid` and `/restart`, production.

Run: `python sanic_workers_app.py PORT [WORKERS]` (2 workers by default). Sanic starts its
workers with spawn (hence the main guard). `GET /restart` asks Sanic's worker manager for a
zero-downtime restart of every worker, `app.m.restart(all_workers=True, zero_downtime=True)`:
the documented way to restart from inside the app (the alternative, the inspector's
`POST /reload`, needs one more process and port).
"""

from __future__ import annotations

import os
import sys

from sanic import HTTPResponse, Request, Sanic
from sanic.response import json

app = Sanic("sanic_workers_bench")


@app.get("/")
async def hello(request: Request) -> HTTPResponse:
    """The JSON hello world."""
    return json({"hello": "world"})


@app.get("/pid")
async def pid(request: Request) -> HTTPResponse:
    """Which worker process answered."""
    return json({"pid": os.getpid()})


@app.get("/restart")
async def restart(request: Request) -> HTTPResponse:
    """Restart every worker, each replacement started before its old process stops."""
    request.app.m.restart(all_workers=True, zero_downtime=True)
    return json({"restarting": True})


if __name__ == "__main__":
    app.run(
        host="127.0.0.1",
        port=int(sys.argv[1]),
        workers=int(sys.argv[2]) if len(sys.argv) > 2 else 2,
        access_log=False,
        debug=False,
        motd=False,
    )
