"""uvicorn with a raw ASGI app (httptools, uvloop), single process, no access log.

No framework: the routes are a few `if`s, JSON comes from the standard library, as a
hand-written ASGI app would do it. Run: `python uvicorn_app.py PORT`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_TYPE = b"application/json"
BYTES_TYPE = b"application/octet-stream"
USER_PREFIX = "/user/"


def _dumps(obj: object) -> bytes:
    """Compact JSON bytes."""
    return json.dumps(obj, separators=(",", ":")).encode()


async def _read_body(receive: Receive) -> bytes:
    """The whole request body, however many messages it arrives in."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _route(scope: Scope, receive: Receive) -> tuple[int, bytes, bytes]:
    """Status, content type and body for one request."""
    method, path = scope["method"], scope["path"]
    if method == "GET" and path == "/":
        return 200, JSON_TYPE, _dumps({"hello": "world"})
    if method == "GET" and path.startswith(USER_PREFIX) and path[len(USER_PREFIX) :].isdigit():
        return 200, JSON_TYPE, _dumps({"id": int(path[len(USER_PREFIX) :])})
    if method == "POST" and path == "/echo":
        return 200, BYTES_TYPE, await _read_body(receive)
    return 404, BYTES_TYPE, b""


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI application (HTTP only: uvicorn runs it with lifespan off)."""
    if scope["type"] != "http":
        return
    status, content_type, body = await _route(scope, receive)
    headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


if __name__ == "__main__":
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )
