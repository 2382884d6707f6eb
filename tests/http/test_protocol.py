"""HTTP/1.1 protocol behaviour, checked byte by byte over raw sockets."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Any

import pytest
from testkit import wait_until

from hurtle_http import HttpApp, Request, StreamingResponse, json, stream, text


def make_app(**config: Any) -> HttpApp:
    app = HttpApp("proto")
    app.config.update(config)

    @app.get("/")
    def index(request: Request) -> Any:
        return text("ok")

    @app.route("/echo", methods=["POST", "PUT"])
    def echo(request: Request) -> Any:
        return text(request.body.decode())

    @app.get("/sleep/<seconds:float>")
    async def sleep(request: Request, seconds: float) -> Any:
        await asyncio.sleep(seconds)
        return text(f"slept {seconds}")

    @app.get("/big/<size:int>")
    def big(request: Request, size: int) -> Any:
        return text("x" * size)

    @app.get("/id/<n:int>")
    def ident(request: Request, n: int) -> Any:
        return json({"n": n})

    return app


GET = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"


def test_keep_alive_serves_several_requests_on_one_connection(start_server: Any) -> None:
    server = start_server(make_app())
    with server.raw() as client:
        for _ in range(3):
            client.send(GET)
            response = client.read_response()
            assert (response.status, response.body) == (200, b"ok")
            assert response.header("connection") is None
    assert server.server.stats.served == 3


def test_pipelined_requests_are_answered_in_order(start_server: Any) -> None:
    server = start_server(make_app())
    with server.raw() as client:
        client.send(
            b"GET /sleep/0.2 HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /id/2 HTTP/1.1\r\nHost: t\r\n\r\n"
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nthree"
            b"GET /sleep/0.01 HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /id/5 HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        bodies = [client.read_response().body for _ in range(5)]
    assert bodies == [b"slept 0.2", b'{"n":2}', b"three", b"slept 0.01", b'{"n":5}']


def test_many_pipelined_requests_pause_and_resume_reading(start_server: Any) -> None:
    server = start_server(make_app(REQUEST_MAX_PIPELINE=2))
    with server.raw() as client:
        client.send(b"".join(b"GET /id/%d HTTP/1.1\r\nHost: t\r\n\r\n" % i for i in range(50)))
        bodies = [client.read_response().body for _ in range(50)]
    assert bodies == [b'{"n":%d}' % i for i in range(50)]


def test_expect_100_continue(start_server: Any) -> None:
    server = start_server(make_app())
    with server.raw() as client:
        client.send(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"
        )
        client.sock.settimeout(5)
        while b"\r\n\r\n" not in client.buffer:
            assert client._fill()
        assert client.buffer.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        client.buffer = client.buffer[len(b"HTTP/1.1 100 Continue\r\n\r\n") :]
        client.send(b"body")
        assert client.read_response().body == b"body"
        client.send(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nExpect: teapot\r\n\r\n"
        )
        assert client.read_response().status == 417
        assert client.is_closed()


def test_chunked_request_body(start_server: Any) -> None:
    server = start_server(make_app())
    with server.raw() as client:
        client.send(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
        )
        time.sleep(0.05)  # let the first chunk arrive alone
        client.send(b"6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n")
        assert client.read_response().body == b"hello world"


def test_http10_closes_by_default_and_keeps_alive_on_request(start_server: Any) -> None:
    server = start_server(make_app())
    with server.raw() as client:
        client.send(b"GET / HTTP/1.0\r\n\r\n")
        response = client.read_response()
        assert response.body == b"ok"
        assert response.header("connection") == "close"
        assert client.is_closed()
    with server.raw() as client:
        client.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        assert client.read_response().header("connection") == "keep-alive"
        client.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        assert client.read_response().body == b"ok"


def test_connection_close_is_honoured(start_server: Any) -> None:
    server = start_server(make_app())
    with server.raw() as client:
        client.send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" + GET)
        response = client.read_response()
        assert response.header("connection") == "close"
        assert client.is_closed()
        assert b"HTTP/1.1" not in client.buffer, "nothing is answered after Connection: close"


def test_keep_alive_off_closes_after_each_response(start_server: Any) -> None:
    server = start_server(make_app(KEEP_ALIVE=False))
    with server.raw() as client:
        client.send(GET)
        assert client.read_response().header("connection") == "close"
        assert client.is_closed()


def test_idle_keep_alive_connection_times_out(start_server: Any) -> None:
    server = start_server(make_app(KEEP_ALIVE_TIMEOUT=0.3))
    with server.raw() as client:
        client.send(GET)
        assert client.read_response().status == 200
        started = time.monotonic()
        assert client.is_closed(timeout=5)
        assert time.monotonic() - started >= 0.2


def test_incomplete_request_times_out_with_408(start_server: Any) -> None:
    server = start_server(make_app(REQUEST_TIMEOUT=0.3))
    with server.raw() as client:
        client.send(b"GET / HTTP/1.1\r\nHost: t\r\n")
        response = client.read_response()
        assert response.status == 408
        assert response.header("connection") == "close"
        assert client.is_closed()
    with server.raw() as client:
        client.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        assert client.read_response().status == 408


def test_slow_handler_times_out_with_503(start_server: Any) -> None:
    server = start_server(make_app(RESPONSE_TIMEOUT=0.3))
    with server.raw() as client:
        client.send(b"GET /sleep/10 HTTP/1.1\r\nHost: t\r\n\r\n")
        response = client.read_response()
        assert response.status == 503
        assert client.is_closed()
    assert server.server.stats.in_flight == 0


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /" + b"a" * 300 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"v" * 600 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: t\r\n" + b"X-A: 1\r\n" * 20 + b"\r\n", 431),
        (b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n", 413),
        (
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"200\r\n"
            + b"z" * 512
            + b"\r\n"
            + b"200\r\n"
            + b"z" * 512
            + b"\r\n",
            413,
        ),
    ],
    ids=["url", "header-size", "header-count", "content-length", "chunked-body"],
)
def test_limits(start_server: Any, request_bytes: bytes, status: int) -> None:
    app = make_app(
        REQUEST_MAX_URL=256,
        REQUEST_MAX_HEADER_SIZE=512,
        REQUEST_MAX_HEADERS=10,
        REQUEST_MAX_SIZE=1000,
    )
    server = start_server(app)
    with server.raw() as client:
        client.send(request_bytes)
        response = client.read_response()
        assert response.status == status
        assert response.header("connection") == "close"
        assert client.is_closed()
    assert server.server.stats.bad_requests == 1


def test_a_header_line_that_never_ends_is_refused(start_server: Any) -> None:
    server = start_server(make_app(REQUEST_MAX_URL=256, REQUEST_MAX_HEADER_SIZE=512))
    with server.raw() as client:
        client.send(b"GET / HTTP/1.1\r\nHost: t\r\nX-Endless: ")
        for _ in range(64):  # the server discards input after refusing, so sending succeeds
            client.send(b"y" * 1024)
        response = client.read_response()
        assert response.status == 431
        assert client.is_closed()


def test_header_fields_arriving_over_many_reads_are_counted_as_they_come(
    start_server: Any,
) -> None:
    # Each field is under the limit, the head never ends: the 431 comes from the fields
    # counted after each read, not from the head's end.
    server = start_server(make_app(REQUEST_MAX_HEADER_SIZE=512, REQUEST_TIMEOUT=30))
    with server.raw() as client:
        client.send(b"GET / HTTP/1.1\r\nHost: t\r\n")
        for index in range(8):
            client.send(b"X-F%d: %s\r\n" % (index, b"v" * 100))
        response = client.read_response()
        assert response.status == 431
        assert client.is_closed()


def test_unsupported_http_version_is_505(start_server: Any) -> None:
    server = start_server(make_app())
    with server.raw() as client:
        client.send(b"GET / HTTP/2.0\r\nHost: t\r\n\r\n")
        assert client.read_response().status == 505


def test_backpressure_keeps_the_server_responsive(start_server: Any) -> None:
    server = start_server(make_app(KEEP_ALIVE_TIMEOUT=1.0, RESPONSE_TIMEOUT=1.0))
    size = 4 * 1024 * 1024
    with server.raw(timeout=30) as slow:
        # Ask for 40 MB and read nothing yet: the server pauses instead of buffering it all.
        slow.send(b"".join(b"GET /big/%d HTTP/1.1\r\nHost: t\r\n\r\n" % size for _ in range(10)))
        with server.raw() as other:
            other.send(GET)
            assert other.read_response().body == b"ok"
        # A slow reader is not idle: short timeouts must not cut the transfer.
        for _ in range(10):
            response = slow.read_response()
            assert len(response.body) == size
            assert response.body == b"x" * size


def test_access_log_can_be_switched_off(
    start_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hurtle.access")
    server = start_server(make_app())
    with server.raw() as client:
        client.send(b"GET /id/7 HTTP/1.1\r\nHost: t\r\n\r\n")
        client.read_response()
    wait_until(
        lambda: any(
            "GET /id/7" in r.getMessage() and "200" in r.getMessage() for r in caplog.records
        ),
        what="the access log line",
    )
    caplog.clear()
    quiet = start_server(make_app(ACCESS_LOG=False))
    with quiet.raw() as client:
        client.send(b"GET /id/8 HTTP/1.1\r\nHost: t\r\n\r\n")
        client.read_response()
    quiet.stop()  # every log line of this server is written once it has stopped
    assert not [r for r in caplog.records if r.name == "hurtle.access"]


def test_half_closed_client_still_gets_its_response(start_server: Any) -> None:
    server = start_server(make_app())
    with server.raw() as client:
        client.send(b"GET /sleep/0.1 HTTP/1.1\r\nHost: t\r\n\r\n")
        client.sock.shutdown(socket.SHUT_WR)
        assert client.read_response().body == b"slept 0.1"


def test_client_disconnect_mid_handler_is_harmless(start_server: Any) -> None:
    server = start_server(make_app())
    with server.raw() as client:
        client.send(b"GET /sleep/0.3 HTTP/1.1\r\nHost: t\r\n\r\n")
        wait_until(lambda: server.server.stats.in_flight == 1, what="the request in flight")
    with server.raw() as client:
        client.send(GET)
        assert client.read_response().body == b"ok"
    stats = server.server.stats
    wait_until(
        lambda: stats.in_flight == 0 and stats.connections == 0,
        what=lambda: f"cleanup, saw {stats}",
    )


def test_upgrade_requests_are_answered_then_closed(start_server: Any) -> None:
    server = start_server(make_app())
    with server.raw() as client:
        client.send(
            b"GET / HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
            b"\x81\x85 websocket frame bytes"
        )
        response = client.read_response()
        assert (response.status, response.body) == (200, b"ok")
        assert response.header("connection") == "close"
        assert client.is_closed()


def test_100_continue_waits_for_the_previous_response(start_server: Any) -> None:
    server = start_server(make_app())
    with server.raw() as client:
        client.send(
            b"GET /sleep/0.2 HTTP/1.1\r\nHost: t\r\n\r\n"
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
        )
        assert client.read_response().body == b"slept 0.2"
        while b"\r\n\r\n" not in client.buffer:
            assert client._fill(), client.buffer
        continue_line = b"HTTP/1.1 100 Continue\r\n\r\n"
        assert client.buffer.startswith(continue_line)
        client.buffer = client.buffer[len(continue_line) :]
        client.send(b"hi")
        assert client.read_response().body == b"hi"


def test_too_large_body_with_expect_is_refused_before_continue(start_server: Any) -> None:
    server = start_server(make_app(REQUEST_MAX_SIZE=10))
    with server.raw() as client:
        client.send(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n"
        )
        response = client.read_response()
        assert response.status == 413
        assert client.is_closed()


def test_garbage_after_a_valid_request_is_answered_in_order(start_server: Any) -> None:
    server = start_server(make_app())
    with server.raw() as client:
        client.send(b"GET /sleep/0.05 HTTP/1.1\r\nHost: t\r\n\r\nNOT HTTP AT ALL\r\n\r\n")
        first = client.read_response()
        assert (first.status, first.body) == (200, b"slept 0.05")
        second = client.read_response()
        assert second.status == 400
        assert second.header("connection") == "close"
        assert client.is_closed()


def slow_read(client: Any, total: int, chunk: int = 256 * 1024) -> int:
    """Read ``total`` bytes in small steps, pausing between them like a slow client."""
    received = len(client.buffer)
    client.buffer = b""
    while received < total:
        data = client.sock.recv(chunk)
        assert data, f"the server closed after {received} of {total} bytes"
        received += len(data)
        time.sleep(0.02)
    return received


def test_a_slow_reader_outlasting_every_timeout_gets_the_whole_body(
    start_server: Any,
) -> None:
    size = 16 * 1024 * 1024
    server = start_server(make_app(KEEP_ALIVE_TIMEOUT=0.4, RESPONSE_TIMEOUT=0.4))
    with server.raw(timeout=30) as client:
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        client.send(b"GET /big/%d HTTP/1.1\r\nHost: t\r\n\r\n" % size)
        while b"\r\n\r\n" not in client.buffer:
            assert client._fill()
        head, _, client.buffer = client.buffer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ")
        assert slow_read(client, size) == size


def test_streamed_body_waits_for_a_slow_reader(start_server: Any) -> None:
    app = make_app(RESPONSE_TIMEOUT=0.4)

    @app.get("/firehose")
    async def firehose(request: Request) -> Any:
        async def produce(response: StreamingResponse) -> None:
            for _ in range(16):
                await response.write(b"z" * (1024 * 1024))

        return stream(produce)

    server = start_server(app)
    with server.raw(timeout=30) as client:
        client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        client.send(b"GET /firehose HTTP/1.1\r\nHost: t\r\n\r\n")
        response = client.read_response()
        assert len(response.body) == 16 * 1024 * 1024
        assert set(response.body) == {ord("z")}
