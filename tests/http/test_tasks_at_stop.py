"""A stop waits for the apps still running after their response, then cancels the rest.

An ASGI app may go on after its last ``send`` (Django sends its ``request_finished``
signal then). The server used to forget such a task once the response was written: a stop
closed the loop over it ("Task was destroyed but it is pending!").
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from hurtle_http import AsgiApp, Config, HttpServer, bind_socket

REQUEST = b"GET /%s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"


def test_a_stop_waits_for_an_app_still_running_and_cancels_one_past_the_timeout() -> None:
    outcomes: dict[str, str] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        name = scope["path"].strip("/")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        try:  # after the response: the short one finishes, the endless one is cancelled
            await asyncio.sleep(0.3 if name == "short" else 3600)
            outcomes[name] = "finished"
        except asyncio.CancelledError:
            outcomes[name] = "cancelled"
            raise

    async def scenario() -> list[bytes]:
        listener = bind_socket("127.0.0.1", 0)
        config = Config()
        config.ACCESS_LOG = False
        server = HttpServer(AsgiApp(app, config=config, lifespan="off"), listener)
        await server.start()
        loop = asyncio.get_running_loop()
        answers = []
        try:
            for name in (b"short", b"endless"):
                client = socket.create_connection(listener.getsockname(), timeout=5)
                client.setblocking(False)
                client.sendall(REQUEST % name)
                data = b""
                while chunk := await loop.sock_recv(client, 1024):
                    data += chunk
                client.close()
                answers.append(data)
            await server.stop(1.0)  # the endless one outlives this graceful timeout
        finally:
            listener.close()
        return answers

    loop = asyncio.new_event_loop()
    try:
        answers = loop.run_until_complete(scenario())
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    finally:
        loop.close()
    assert all(answer.endswith(b"ok") for answer in answers), answers
    assert outcomes == {"short": "finished", "endless": "cancelled"}
    assert pending == []
