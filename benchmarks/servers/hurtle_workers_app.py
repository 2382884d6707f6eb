"""Hurtle with N worker processes: the hello route, plus `/pid` and `/workers`, no access log.

Run: `python hurtle_workers_app.py PORT [WORKERS] [START_METHOD] [--inspector]` (2 workers
and spawn by default). `Hurtle.run()` binds the socket in the main process and starts the
workers with the start method (spawn and forkserver import this module in every worker,
hence the main guard); SIGHUP to the main process restarts every worker with zero downtime,
SIGTTIN adds one. `--inspector` also runs the inspector (`HURTLE_INSPECTOR_PORT` etc.).
"""

from __future__ import annotations

import os
import sys

from hurtle import HTTPResponse, Hurtle, Request, json

app = Hurtle("hurtle_workers_bench")


@app.get("/")
async def hello(request: Request) -> HTTPResponse:
    """The JSON hello world."""
    return json({"hello": "world"})


@app.get("/pid")
async def pid(request: Request) -> HTTPResponse:
    """Which worker process answered."""
    return json({"pid": os.getpid()})


@app.get("/workers")
async def workers(request: Request) -> HTTPResponse:
    """Every process the manager runs, with its state (a local read)."""
    return json(app.m.workers)


if __name__ == "__main__":
    args = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    workers_count = int(args[1]) if len(args) > 1 else 2
    if len(args) > 2:
        Hurtle.start_method = args[2]
    app.run(
        host="127.0.0.1",
        port=int(args[0]),
        workers=workers_count,
        access_log=False,
        inspector="--inspector" in sys.argv,
    )
