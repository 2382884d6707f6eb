"""The ASGI apps of asgi_bench.py, the same for every server.

- ``raw``: a raw ASGI 3 app: ``GET /`` → ``{"hello":"world"}`` (JSON by hand, as a
  hand-written ASGI app would do it), and a WebSocket echo on ``/ws``;
- ``starlette``: a Starlette app with one JSON route ``GET /`` (``JSONResponse``).
Both answer the lifespan protocol (raw: by hand; Starlette: its own).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

HELLO = json.dumps({"hello": "world"}, separators=(",", ":")).encode()
HELLO_HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(HELLO))]


async def raw(scope: Scope, receive: Receive, send: Send) -> None:
    """Hello over HTTP, echo over WebSocket."""
    kind = scope["type"]
    if kind == "http":
        await send({"type": "http.response.start", "status": 200, "headers": HELLO_HEADERS})
        await send({"type": "http.response.body", "body": HELLO})
    elif kind == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is not None:
                await send({"type": "websocket.send", "text": text})
            else:
                await send({"type": "websocket.send", "bytes": message.get("bytes")})
    elif kind == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return


def _starlette() -> Any:
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def hello(request: Any) -> JSONResponse:
        return JSONResponse({"hello": "world"})

    return Starlette(routes=[Route("/", hello)])


try:
    starlette = _starlette()
except ImportError:  # the bench env installs it; elsewhere only raw is available
    starlette = None
