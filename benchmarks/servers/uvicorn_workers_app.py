"""uvicorn with N worker processes (httptools, uvloop) and the raw ASGI app of uvicorn_app.py.

Run: `python uvicorn_workers_app.py PORT [WORKERS]` (2 workers by default). Several workers
need the app as an import string, which every spawned worker imports: this module, which
adds `/pid` (which worker answered) to the routes of `uvicorn_app.app`. SIGHUP to the main
process makes uvicorn replace its workers one by one, each new one started before the old
one stops.
"""

from __future__ import annotations

import json
import os
import sys

import uvicorn
from uvicorn_app import Receive, Scope, Send
from uvicorn_app import app as routes


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """`GET /pid`, then the routes of uvicorn_app.py."""
    if scope["type"] == "http" and scope["path"] == "/pid":
        body = json.dumps({"pid": os.getpid()}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    await routes(scope, receive, send)


if __name__ == "__main__":
    uvicorn.run(
        "uvicorn_workers_app:app",
        host="127.0.0.1",
        port=int(sys.argv[1]),
        workers=int(sys.argv[2]) if len(sys.argv) > 2 else 2,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )
