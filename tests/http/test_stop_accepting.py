"""``HttpServer.stop_accepting``: nothing is accepted once it returns, nothing accepted is lost.

The main process's inspector stand-in hands the port over with it. On asyncio's own loop
an accepted socket gets its transport in a task a loop turn after the accept; closing the
server in between made that transport fail and left its client hanging (issue 16 item 4).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
import uvloop

from hurtle_http import HttpApp, HttpServer, Request, bind_socket, text

REQUEST = b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"


def make_app() -> HttpApp:
    app = HttpApp("handover")

    @app.get("/")
    def index(request: Request) -> Any:
        return text("ok")

    return app


async def read_all(sock: socket.socket) -> bytes:
    loop = asyncio.get_running_loop()
    data = b""
    while chunk := await loop.sock_recv(sock, 65536):
        data += chunk
    return data


def test_a_stop_between_an_accept_and_its_transport_loses_no_connection() -> None:
    """asyncio's loop: accepting stops while accepted sockets wait for their transports.

    Every client is answered, by the stopping server or by a successor. (uvloop makes a
    transport within the accept itself, so there is no such window to test there.)
    """

    async def scenario() -> list[bytes]:
        listener = bind_socket("127.0.0.1", 0)
        port = listener.getsockname()[1]
        clients = []
        for _ in range(3):  # all queued before the server starts: one accept callback takes them
            client = socket.create_connection(("127.0.0.1", port), timeout=5)
            client.setblocking(False)
            client.sendall(REQUEST)
            clients.append(client)
        server = HttpServer(make_app(), listener)
        successor = HttpServer(make_app(), listener)
        make_protocol = server._accept  # the factory the loop calls for each accepted socket
        stopped = asyncio.Event()

        def accept_then_stop() -> Any:
            protocol = make_protocol()
            server.stop_accepting()  # while other accepted sockets may wait for their turn
            stopped.set()
            return protocol

        server._accept = accept_then_stop  # type: ignore[method-assign]
        await server.start()
        try:
            await asyncio.wait_for(stopped.wait(), 5.0)
            await successor.start()  # takes what is still queued
            return await asyncio.wait_for(
                asyncio.gather(*(read_all(client) for client in clients)), 5.0
            )
        finally:
            await asyncio.gather(server.stop(5.0), successor.stop(5.0))
            for client in clients:
                client.close()
            listener.close()

    loop = asyncio.new_event_loop()
    try:
        answers = loop.run_until_complete(scenario())
    finally:
        loop.close()
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer
        assert answer.endswith(b"ok")


@pytest.mark.parametrize("use_uvloop", [True, False], ids=["uvloop", "asyncio"])
def test_nothing_is_accepted_once_accepting_stopped(use_uvloop: bool) -> None:
    async def scenario() -> tuple[int, bytes]:
        listener = bind_socket("127.0.0.1", 0)
        port = listener.getsockname()[1]
        server = HttpServer(make_app(), listener)
        await server.start()
        server.stop_accepting()
        client = socket.create_connection(("127.0.0.1", port), timeout=5)
        client.setblocking(False)
        try:
            await asyncio.sleep(0.2)  # time in which a listening server would have taken it
            made = server.stats.connections
            await server.stop(1.0)
            # The connection is still queued on the caller's socket: another server takes it.
            successor = HttpServer(make_app(), listener)
            await successor.start()
            client.sendall(REQUEST)
            answer = await asyncio.wait_for(read_all(client), 5.0)
            await successor.stop(1.0)
            return made, answer
        finally:
            client.close()
            listener.close()

    loop = uvloop.new_event_loop() if use_uvloop else asyncio.new_event_loop()
    try:
        made, answer = loop.run_until_complete(scenario())
    finally:
        loop.close()
    assert made == 0
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer
