"""Answers made while a read is handled leave together, after the loop turn's reads.

Write boundaries cannot be seen from a client socket, so these tests give a real server's
protocol a transport that records each write (the behaviour over real sockets is covered by
the pipelining, drain and protocol suites).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from hurtle_http import HttpApp, HttpServer, Request, text
from hurtle_http.protocol import HttpProtocol

PIPELINED = b"".join(b"GET /n/%d HTTP/1.1\r\nHost: t\r\n\r\n" % n for n in range(3))


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8000)}.get(name)

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return self.closed

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.closed = True

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def _app() -> HttpApp:
    app = HttpApp("held")
    app.config.ACCESS_LOG = False

    @app.get("/n/<n:int>")
    def number(request: Request, n: int) -> Any:
        return text(str(n))

    @app.get("/big")
    def big(request: Request) -> Any:
        return text("x" * 100_000)

    @app.get("/slow")
    async def slow(request: Request) -> Any:
        await asyncio.sleep(0.01)
        return text("slow")

    return app


async def _serve(scenario: Any) -> None:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        server = HttpServer(_app(), sock)
        await server.start()
        conn = HttpProtocol(server)
        transport = RecordingTransport()
        conn.connection_made(transport)
        try:
            await scenario(asyncio.get_running_loop(), conn, transport)
        finally:
            conn.connection_lost(None)
            await server.stop(0)


def test_pipelined_answers_made_in_one_read_leave_in_one_write_after_it() -> None:
    async def scenario(loop: Any, conn: HttpProtocol, transport: RecordingTransport) -> None:
        loop.call_soon(conn.data_received, PIPELINED)  # as the loop delivers a read
        await asyncio.sleep(0)  # the read's turn: answered, and held
        assert transport.writes == []
        for _ in range(3):
            await asyncio.sleep(0)
        assert len(transport.writes) == 1, transport.writes
        (data,) = transport.writes
        assert data.index(b"\r\n\r\n0") < data.index(b"\r\n\r\n1") < data.index(b"\r\n\r\n2")

    asyncio.run(_serve(scenario))


def test_an_answer_made_after_an_await_is_written_at_once() -> None:
    async def scenario(loop: Any, conn: HttpProtocol, transport: RecordingTransport) -> None:
        loop.call_soon(conn.data_received, b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        for _ in range(200):
            if transport.writes:
                break
            await asyncio.sleep(0.005)
        assert len(transport.writes) == 1 and transport.writes[0].endswith(b"slow")

    asyncio.run(_serve(scenario))


def test_held_answers_are_written_before_the_connection_closes() -> None:
    async def scenario(loop: Any, conn: HttpProtocol, transport: RecordingTransport) -> None:
        request = b"GET /n/7 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        loop.call_soon(conn.data_received, request)
        for _ in range(3):
            await asyncio.sleep(0)
        assert transport.closed
        assert len(transport.writes) == 1 and transport.writes[0].endswith(b"\r\n\r\n7")

    asyncio.run(_serve(scenario))


def test_a_large_answer_is_written_at_once() -> None:
    """Past 64 KiB an answer is not held: the transport's flow control must see it."""

    async def scenario(loop: Any, conn: HttpProtocol, transport: RecordingTransport) -> None:
        loop.call_soon(conn.data_received, b"GET /big HTTP/1.1\r\nHost: t\r\n\r\n")
        await asyncio.sleep(0)  # the read's turn
        assert len(transport.writes) == 1 and transport.writes[0].endswith(b"x" * 100_000)

    asyncio.run(_serve(scenario))
