"""uvicorn for the adversarial round: N workers (httptools, uvloop), the round's routes.

Run: `python adversarial_uvicorn.py PORT [WORKERS]`. Routes as adversarial_hurtle.py; SIGHUP
to the main process replaces the workers one by one.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
BIG = b"x" * (1024 * 1024)


async def app(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    method, path = scope["method"], scope["path"]
    status, body = 404, b""
    if method == "GET" and path == "/":
        status, body = 200, b'{"hello":"world"}'
    elif method == "GET" and path == "/pid":
        status, body = 200, json.dumps({"pid": os.getpid()}).encode()
    elif method == "GET" and path == "/slow":
        await asyncio.sleep(1.0)
        status, body = 200, b'{"slept":1.0}'
    elif method == "GET" and path == "/big":
        status, body = 200, BIG
    elif method == "POST" and path == "/upload":
        status, body = 200, b'{"ignored":true}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


if __name__ == "__main__":
    uvicorn.run(
        "adversarial_uvicorn:app",
        host="127.0.0.1",
        port=int(sys.argv[1]),
        workers=int(sys.argv[2]) if len(sys.argv) > 2 else 2,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )
