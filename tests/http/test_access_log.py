"""The access log over real sockets: each record's fields (address, method, target with its
query, version, status, body size, duration, request id), the message format
(``ACCESS_LOG_FORMAT``, gunicorn's atoms), the same record for ASGI responses, and silence
when it is off."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from testkit import wait_until
from websockets.sync.client import connect

from hurtle_http import (
    AsgiApp,
    ConfigError,
    HttpApp,
    Request,
    WebSocket,
    file,
    json,
    stream,
    text,
)
from hurtle_http.log import ACCESS_LOG_FIELDS, AccessLog


def make_app(**config: Any) -> HttpApp:
    app = HttpApp("access")
    app.config.update(config)

    @app.get("/search")
    def search(request: Request) -> Any:
        return json({"q": request.args.get("q"), "n": request.args.get("n")})

    @app.get("/slow/<ms:int>")
    async def slow(request: Request, ms: int) -> Any:
        await asyncio.sleep(ms / 1000)
        return text("late")

    @app.get("/stream")
    def chunks(request: Request) -> Any:
        async def produce(response: Any) -> None:
            for piece in (b"abc", b"defgh", b"ij"):
                await response.write(piece)

        return stream(produce)

    @app.get("/file")
    def a_file(request: Request) -> Any:
        return file(app.ctx.path)

    @app.websocket("/ws")
    async def echo(request: Request, ws: WebSocket) -> None:
        await ws.send(await ws.recv())

    @app.on_response
    def request_id_header(request: Request, response: Any) -> None:
        response.headers["X-Request-ID"] = str(request.id)

    return app


def access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "hurtle.access"]


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Any:
    """``logged(n)``: wait for the n-th access record and return the first n."""
    caplog.set_level(logging.INFO, logger="hurtle.access")

    def get(count: int) -> list[logging.LogRecord]:
        wait_until(
            lambda: len(access_records(caplog)) >= count,
            what=f"{count} access records; saw {[r.getMessage() for r in access_records(caplog)]}",
        )
        return access_records(caplog)[:count]

    return get


def test_a_record_carries_every_field_and_the_default_message(
    start_server: Any, logged: Any
) -> None:
    server = start_server(make_app())
    with server.raw() as client:
        client.send(b"GET /search?q=hurtle&n=2 HTTP/1.1\r\nHost: shop.test\r\n\r\n")
        response = client.read_response()
        client_port = client.sock.getsockname()[1]
    (record,) = logged(1)
    fields = {name: getattr(record, name) for name in ACCESS_LOG_FIELDS}
    assert fields["client_ip"] == "127.0.0.1"
    assert fields["host"] == f"127.0.0.1:{client_port}"
    assert fields["method"] == "GET"
    assert fields["target"] == "/search?q=hurtle&n=2"
    assert fields["request"] == "GET http://shop.test/search?q=hurtle&n=2"
    assert fields["http_version"] == "1.1"
    assert fields["status"] == 200
    assert fields["byte"] == len(response.body) == len(b'{"q":"hurtle","n":"2"}')
    assert 0 < fields["duration"] < 5000
    assert fields["request_id"] == response.header("x-request-id")
    message = record.getMessage()
    assert re.fullmatch(
        r'127\.0\.0\.1 "GET /search\?q=hurtle&n=2 HTTP/1\.1" 200 22 \d+\.\d{3}ms '
        + re.escape(fields["request_id"]),
        message,
    ), message


def test_the_request_id_is_the_one_the_client_sent(start_server: Any, logged: Any) -> None:
    server = start_server(make_app())
    with server.raw() as client:
        client.send(b"GET /search HTTP/1.0\r\nX-Request-ID: trace-77\r\n\r\n")
        response = client.read_response()
    (record,) = logged(1)
    assert response.header("x-request-id") == "trace-77"
    assert record.request_id == "trace-77"
    assert record.http_version == "1.0"
    assert record.target == "/search"


def test_the_duration_spans_the_handler(start_server: Any, logged: Any) -> None:
    server = start_server(make_app())
    with server.raw() as client:
        client.send(b"GET /slow/80 HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.read_response().body == b"late"
    (record,) = logged(1)
    assert 70 <= record.duration < 5000  # the loop's timers may fire a few ms early


def test_sizes_are_body_bytes_written(start_server: Any, logged: Any, tmp_path: Path) -> None:
    app = make_app()
    app.ctx.path = tmp_path / "data.bin"
    app.ctx.path.write_bytes(b"z" * 1000)
    server = start_server(app)
    with server.raw() as client:
        requests = [
            (b"GET /stream", "GET"),
            (b"GET /file", "GET"),
            (b"HEAD /file", "HEAD"),
            (b"GET /file HTTP/1.1\r\nRange: bytes=10-109\r\nX: y", "GET"),
            (b"GET /nowhere", "GET"),
        ]
        bodies = []
        for line, method in requests:
            head = line if b"HTTP/1.1" in line else line + b" HTTP/1.1"
            client.send(head + b"\r\nHost: t\r\n\r\n")
            bodies.append(client.read_response(method).body)
    records = logged(len(requests))
    assert [r.status for r in records] == [200, 200, 200, 206, 404]
    assert bodies[0] == b"abcdefghij" and len(bodies[3]) == 100
    assert [r.byte for r in records] == [10, 1000, 0, 100, len(bodies[4])]


def test_pipelined_requests_get_one_record_each(start_server: Any, logged: Any) -> None:
    server = start_server(make_app())
    with server.raw() as client:
        client.send(b"".join(b"GET /search?q=%d HTTP/1.1\r\nHost: t\r\n\r\n" % i for i in range(3)))
        for _ in range(3):
            client.read_response()
    records = logged(3)
    assert [r.target for r in records] == ["/search?q=0", "/search?q=1", "/search?q=2"]
    assert len({r.request_id for r in records}) == 3


def test_gunicorn_atoms_and_record_fields_in_the_format(start_server: Any, logged: Any) -> None:
    fmt = '%(h)s %(l)s "%(r)s" %(s)s %(b)s "%({user-agent}i)s" %(U)s|%(q)s %(request_id)s %(M)sms'
    server = start_server(make_app(ACCESS_LOG_FORMAT=fmt))
    with server.raw() as client:
        client.send(
            b"GET /search?q=x HTTP/1.1\r\nHost: t\r\nUser-Agent: probe/1\r\n"
            b"X-Request-ID: r-1\r\n\r\n"
        )
        client.read_response()
        client.send(b"HEAD /search HTTP/1.1\r\nHost: t\r\n\r\n")
        client.read_response("HEAD")
    first, second = logged(2)
    assert re.fullmatch(
        r'127\.0\.0\.1 - "GET /search\?q=x HTTP/1\.1" 200 18 "probe/1" /search\|q=x r-1 \d+ms',
        first.getMessage(),
    ), first.getMessage()
    assert second.getMessage().startswith('127.0.0.1 - "HEAD /search HTTP/1.1" 200 - "-" /search| ')


def test_a_bad_format_is_refused_before_serving(start_server: Any) -> None:
    with pytest.raises(ConfigError, match=r"unknown field %\(nope\)s"):
        start_server(make_app(ACCESS_LOG_FORMAT="%(h)s %(nope)s"))
    with pytest.raises(ConfigError, match="literal percent sign as %%"):
        AccessLog("%(s)s 100%")
    with pytest.raises(ConfigError, match="non-empty"):
        AccessLog("")


def test_a_response_timeout_is_logged_for_its_request(start_server: Any, logged: Any) -> None:
    server = start_server(make_app(RESPONSE_TIMEOUT=0.2))
    with server.raw() as client:
        client.send(b"GET /slow/3000?why=timeout HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.read_response().status == 503
    (record,) = logged(1)
    assert (record.status, record.target) == (503, "/slow/3000?why=timeout")
    # The timer runs on the loop's clock (uvloop's is cached per iteration, in whole ms),
    # the duration on perf_counter: they may disagree by a few milliseconds.
    assert 150 <= record.duration < 3000


def test_a_websocket_upgrade_is_logged_as_101(start_server: Any, logged: Any) -> None:
    server = start_server(make_app())
    with connect(f"ws://127.0.0.1:{server.port}/ws?room=1") as ws:
        ws.send("hi")
        assert ws.recv() == "hi"
    (record,) = logged(1)
    assert (record.status, record.byte, record.target) == (101, 0, "/ws?room=1")


async def asgi_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    body = b"asgi:" + scope["query_string"]
    if scope["path"] == "/chunks":
        await send({"type": "http.response.start", "status": 201, "headers": []})
        for piece in (b"one", b"two", b""):
            await send({"type": "http.response.body", "body": piece, "more_body": bool(piece)})
        return
    await asyncio.sleep(0.02)
    headers = [(b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def test_asgi_responses_carry_the_same_fields(start_server: Any, logged: Any) -> None:
    server = start_server(AsgiApp(asgi_app, lifespan="off"))
    with server.raw() as client:
        client.send(b"GET /x?a=1 HTTP/1.1\r\nHost: t\r\nX-Request-ID: asgi-1\r\n\r\n")
        assert client.read_response().body == b"asgi:a=1"
        client.send(b"GET /chunks HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.read_response().body == b"onetwo"
    plain, chunked = logged(2)
    assert (plain.method, plain.target, plain.status, plain.byte) == ("GET", "/x?a=1", 200, 8)
    assert plain.request_id == "asgi-1" and plain.duration >= 15
    assert plain.getMessage().startswith('127.0.0.1 "GET /x?a=1 HTTP/1.1" 200 8 ')
    assert (chunked.status, chunked.byte) == (201, 6)


def test_nothing_is_logged_when_the_access_log_is_off(
    start_server: Any, caplog: pytest.LogCaptureFixture, logged: Any
) -> None:
    def ask(server: Any, query: str) -> None:
        with server.raw() as client:
            client.send(f"GET /search?q={query} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            client.read_response()

    quiet = start_server(make_app(ACCESS_LOG=False))
    ask(quiet, "1")
    quiet.stop()  # every record of this server is written once it has stopped
    assert access_records(caplog) == []
    # The logger's level counts too: a connection made while it is above INFO logs nothing.
    caplog.set_level(logging.WARNING, logger="hurtle.access")
    server = start_server(make_app())
    ask(server, "2")
    server.stop()
    assert access_records(caplog) == []
    # The same app logs once both allow it (the control: this test can fail).
    caplog.set_level(logging.INFO, logger="hurtle.access")
    loud = start_server(make_app())
    ask(loud, "3")
    assert [r.target for r in logged(1)] == ["/search?q=3"]


def test_a_unix_socket_client_has_no_address(
    start_server: Any, logged: Any, tmp_path: Path
) -> None:
    path = str(tmp_path / "app.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    start_server(make_app(), sock=listener)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(5)
        client.connect(path)
        client.sendall(b"GET /search?q=u HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 ")
    (record,) = logged(1)
    assert (record.host, record.client_ip, record.target) == ("-", "-", "/search?q=u")
    assert record.getMessage().startswith('- "GET /search?q=u HTTP/1.1" 200 ')
