"""What serving a request must not do: ask asyncio for the running loop.

On Python 3.11 every ``asyncio.get_running_loop()`` made in Python is a ``getpid()`` system
call; at the ASGI hello benchmark's rate one per request cost about 5% of the server's
CPU. The connection knows its loop: the request path uses that one.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from hurtle_http import AsgiApp, HttpApp, HttpServer, Request, bind_socket, json

REQUEST = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"


async def _raw_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http":
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b'{"hello":"world"}'})


def _native() -> HttpApp:
    app = HttpApp("calls")

    @app.get("/")
    async def hello(request: Request) -> Any:
        return json({"hello": "world"})

    return app


@pytest.mark.parametrize("kind", ["native", "asgi"])
def test_serving_requests_never_asks_asyncio_for_the_running_loop(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _native() if kind == "native" else AsgiApp(_raw_asgi, lifespan="off")
    app.config.ACCESS_LOG = False
    calls = []

    async def scenario() -> None:
        listener = bind_socket("127.0.0.1", 0)
        server = HttpServer(app, listener)
        await server.start()
        loop = asyncio.get_running_loop()
        client = socket.create_connection(listener.getsockname(), timeout=5)
        client.setblocking(False)
        real = asyncio.get_running_loop

        def counting() -> asyncio.AbstractEventLoop:
            calls.append(1)
            return real()

        try:
            for number in range(20):
                if number == 5:  # the first requests warm up (caches, the connection's task)
                    monkeypatch.setattr(asyncio, "get_running_loop", counting)
                await loop.sock_sendall(client, REQUEST)
                data = b""
                while not data.endswith(b'"world"}'):
                    data += await loop.sock_recv(client, 4096)
                assert data.startswith(b"HTTP/1.1 200 OK\r\n")
        finally:
            monkeypatch.setattr(asyncio, "get_running_loop", real)
            client.close()
            await server.stop(1.0)
            listener.close()

    asyncio.run(scenario())
    assert calls == [], f"{len(calls)} calls in 15 requests"
