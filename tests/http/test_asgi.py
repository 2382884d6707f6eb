"""The ASGI 3 server: scope, receive() with flow control and disconnects, send() with
streaming, errors, lifespan and ASGI 2, over real sockets."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest
from testkit import wait_until

from hurtle_http import (
    AsgiApp,
    HttpApp,
    HurtleHttpError,
    LifespanError,
    asgi_interface,
)

Scope = dict[str, Any]


async def read_body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        assert message["type"] == "http.request", message
        body += message["body"]
        if not message["more_body"]:
            return body


async def respond(send: Any, status: int, body: bytes, headers: list[Any] | None = None) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers or []})
    await send({"type": "http.response.body", "body": body})


def scope_json(scope: Scope) -> bytes:
    shown = {k: v for k, v in scope.items() if k not in ("extensions",)}
    shown["headers"] = [[n.decode(), v.decode()] for n, v in scope["headers"]]
    shown["raw_path"] = scope["raw_path"].decode("latin-1")
    shown["query_string"] = scope["query_string"].decode("latin-1")
    shown["extensions"] = sorted(scope.get("extensions", {}))
    return msgspec.json.encode(shown)


async def probe(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                scope["state"]["started"] = "yes"
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = await read_body(receive)
    shown = scope_json(scope)
    scope["state"]["mutated"] = True  # a copy: the next request must not see it
    if scope["path"] == "/echo":
        await respond(send, 200, body, [(b"content-type", b"application/octet-stream")])
    else:
        await respond(send, 200, shown, [(b"content-type", b"application/json")])


def test_the_scope_has_every_field(start_server: Any) -> None:
    server = start_server(AsgiApp(probe, root_path="/api"))
    with server.raw() as client:
        client.send(
            b"GET /a%20b/%C3%A9?x=1&y=%20 HTTP/1.1\r\nHost: example.com\r\n"
            b"X-Dup: one\r\nx-dup: two\r\nAccept: */*\r\n\r\n"
        )
        response = client.read_response()
        scope = msgspec.json.decode(response.body)
        client.send(b"GET /again HTTP/1.1\r\nHost: t\r\n\r\n")
        again = msgspec.json.decode(client.read_response().body)
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/api/a b/\u00e9"
    assert scope["raw_path"] == "/api/a%20b/%C3%A9"
    assert scope["query_string"] == "x=1&y=%20"
    assert scope["root_path"] == "/api"
    assert scope["headers"] == [
        ["host", "example.com"],
        ["x-dup", "one"],
        ["x-dup", "two"],
        ["accept", "*/*"],
    ]
    assert scope["client"][0] == "127.0.0.1" and scope["client"][1] > 0
    assert scope["server"] == ["127.0.0.1", server.port]
    assert scope["state"] == {"started": "yes"}, "the lifespan state, copied per request"
    assert again["state"] == {"started": "yes"}
    assert scope["extensions"] == ["http.response.pathsend"]


def test_request_bodies_stream_in_and_responses_keep_alive(start_server: Any) -> None:
    server = start_server(AsgiApp(probe))
    payload = bytes(range(256)) * 4096  # 1 MiB
    with server.raw() as client:
        client.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(payload))
        client.send(payload)
        first = client.read_response()
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (b"abc", b"d" * 70000, b"e"))
        client.send(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            + chunks
            + b"0\r\n\r\n"
        )
        second = client.read_response()
    assert first.status == 200 and first.body == payload
    assert first.header("content-length") == str(len(payload))
    assert second.body == b"abc" + b"d" * 70000 + b"e"


async def streamer(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for piece in (b"one ", b"two ", b"three"):
        await send({"type": "http.response.body", "body": piece, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def test_a_streamed_response_is_chunked_and_head_has_no_body(start_server: Any) -> None:
    server = start_server(AsgiApp(streamer, lifespan="off"))
    with server.raw() as client:
        client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        response = client.read_response()
        assert response.header("transfer-encoding") == "chunked"
        assert response.body == b"one two three"
        client.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n")
        head = client.read_response("HEAD")
        assert head.status == 200
        client.send(b"GET / HTTP/1.0\r\n\r\n")
        old = client.read_response()
    assert old.body == b"one two three" and old.header("connection") == "close"


def test_pathsend_sends_a_file(start_server: Any, tmp_path: Path) -> None:
    data = b"0123456789" * 100_000
    target = tmp_path / "data.bin"
    target.write_bytes(data)

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.pathsend", "path": str(target)})

    server = start_server(AsgiApp(app, lifespan="off"))
    with server.raw() as client:
        client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        response = client.read_response()
    assert response.header("content-length") == str(len(data))
    assert response.body == data


def test_a_slow_app_pauses_reading_so_memory_stays_bounded(start_server: Any) -> None:
    release = threading.Event()
    received: list[int] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 30)
        total = 0
        while True:
            message = await receive()
            total += len(message["body"])
            if not message["more_body"]:
                break
        received.append(total)
        await respond(send, 200, b"%d" % total)

    server = start_server(AsgiApp(app, lifespan="off"))
    size = 64 * 1024 * 1024
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 256 * 1024)
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % size)
        sock.setblocking(False)
        block = b"z" * 65536
        sent = 0
        stalled_since = time.monotonic()
        while time.monotonic() - stalled_since < 0.5 and sent < size:
            try:
                sent += sock.send(block)
                stalled_since = time.monotonic()
            except BlockingIOError:
                time.sleep(0.01)
        # The server stopped reading: only socket buffers and the high-water mark are in flight.
        assert sent < 16 * 1024 * 1024, f"{sent} bytes accepted while the app read nothing"
        release.set()
        sock.setblocking(True)
        while sent < size:
            sent += sock.send(block[: min(len(block), size - sent)])
        answer = b""
        while not answer.endswith(b"%d" % size):
            chunk = sock.recv(65536)
            assert chunk, answer
            answer += chunk
    finally:
        release.set()
        sock.close()
    assert received == [size]


def test_the_app_hears_http_disconnect(start_server: Any) -> None:
    heard: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                heard.append("disconnect")
                return

    server = start_server(AsgiApp(app, lifespan="off"))
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert b"first" in sock.recv(65536)
    wait_until(lambda: heard == ["disconnect"], what="http.disconnect during a streamed response")

    heard_mid_body: list[str] = []

    async def reader(scope: Scope, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                heard_mid_body.append("disconnect")
                return

    second = start_server(AsgiApp(reader, lifespan="off"))
    with socket.create_connection(("127.0.0.1", second.port), timeout=5) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nhalf")
        time.sleep(0.05)  # let the server read the head and start the app
    wait_until(lambda: heard_mid_body == ["disconnect"], what="http.disconnect during the upload")


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("raise-before-start", 500),
        ("body-before-start", 500),
        ("return-without-response", 500),
        ("raise-after-start", None),
        ("twice-complete", 200),
        ("pathsend-after-body", None),
    ],
)
def test_app_errors_never_crash_the_server(
    start_server: Any, caplog: pytest.LogCaptureFixture, case: str, expected: int | None
) -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["path"] == "/ok":
            await respond(send, 200, b"fine")
        elif case == "raise-before-start":
            raise ValueError("boom before")
        elif case == "body-before-start":
            await send({"type": "http.response.body", "body": b"x"})
        elif case == "raise-after-start":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"part", "more_body": True})
            raise ValueError("boom after")
        elif case == "twice-complete":
            await respond(send, 200, b"done")
            await send({"type": "http.response.body", "body": b"again"})
        elif case == "pathsend-after-body":  # the file would land inside a chunked body
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"part", "more_body": True})
            await send({"type": "http.response.pathsend", "path": __file__})

    server = start_server(AsgiApp(app, lifespan="off"))
    with caplog.at_level(logging.ERROR, logger="hurtle.error"):
        with server.raw() as client:
            client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            if expected is None:
                data = b""
                while True:
                    try:
                        chunk = client.sock.recv(65536)
                    except ConnectionResetError:
                        break
                    if not chunk:
                        break
                    data += chunk
                assert data.startswith(b"HTTP/1.1 200 ")
                assert not data.endswith(b"0\r\n\r\n"), "an aborted body must not look complete"
            else:
                assert client.read_response().status == expected
        with server.raw() as client:
            client.send(b"GET /ok HTTP/1.1\r\nHost: t\r\n\r\n")
            assert client.read_response().body == b"fine"
    assert any(record.levelno == logging.ERROR for record in caplog.records), case


def test_response_heads_follow_what_the_app_sends_each_time(start_server: Any) -> None:
    """Heads are encoded once per (status, fields) and reused: a list the app changes in
    place, its own Date and Server, and a bad field are honoured on every request."""
    fields = [(b"content-type", b"text/plain"), (b"x-count", b"0")]
    count = 0

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        nonlocal count
        if scope["path"] == "/bad":
            await respond(send, 200, b"never", [(b"x-bad", b"a\r\nb")])
            return
        if scope["path"] == "/lists":  # pairs as lists: not hashable, still a head
            await respond(send, 200, b"lists", [[b"x-kind", b"list"]])
            return
        if scope["path"] == "/generator":  # any iterable of pairs
            await respond(send, 200, b"gen", (pair for pair in [(b"x-kind", b"generator")]))
            return
        if scope["path"] == "/own":
            own = [(b"date", b"Thu, 01 Jan 2026 00:00:00 GMT"), (b"server", b"mine")]
            await respond(send, 203, b"own", own)
            return
        count += 1
        fields[1] = (b"x-count", b"%d" % count)  # the same list object, changed in place
        await respond(send, 200 if count % 2 else 201, b"hello", fields)

    server = start_server(AsgiApp(app, lifespan="off"))
    with server.raw() as client:
        seen = []
        for _ in range(4):
            client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            response = client.read_response()
            seen.append((response.status, response.header("x-count"), response.body))
        for _ in range(2):
            client.send(b"GET /own HTTP/1.1\r\nHost: t\r\n\r\n")
            own = client.read_response()
            assert own.status == 203 and own.body == b"own"
            assert own.header("date") == "Thu, 01 Jan 2026 00:00:00 GMT"
            assert own.header("server") == "mine"
            assert [name for name, _ in own.headers].count("date") == 1
            assert [name for name, _ in own.headers].count("server") == 1
        for kind in ("lists", "generator", "lists", "generator"):
            client.send(b"GET /%s HTTP/1.1\r\nHost: t\r\n\r\n" % kind.encode())
            assert client.read_response().header("x-kind") == kind.removesuffix("s")
    assert seen == [
        (200, "1", b"hello"),
        (201, "2", b"hello"),
        (200, "3", b"hello"),
        (201, "4", b"hello"),
    ]
    for _ in range(2):  # refused every time, not only the first
        with server.raw() as client:
            client.send(b"GET /bad HTTP/1.1\r\nHost: t\r\n\r\n")
            assert client.read_response().status == 500


# Lifespan --------------------------------------------------------------------------------------


def test_lifespan_startup_runs_before_ready_and_shutdown_after_the_drain(
    start_server: Any,
) -> None:
    events: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                events.append(message["type"])
                if message["type"] == "lifespan.startup":
                    scope["state"]["db"] = "pool"
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await respond(send, 200, scope["state"]["db"].encode())

    asgi = AsgiApp(app, lifespan="on")

    @asgi.listener("after_server_start")
    def started(app: AsgiApp) -> None:
        events.append("after_server_start")

    server = start_server(asgi)
    assert server.ready_calls == 1
    assert events == ["lifespan.startup", "after_server_start"]
    with server.raw() as client:
        client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.read_response().body == b"pool"
    server.stop()
    assert events[-1] == "lifespan.shutdown"


def test_a_failed_startup_makes_serve_raise_with_the_reason(start_server: Any) -> None:
    async def failing(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database at db:5432"})

    with pytest.raises(LifespanError, match="no database at db:5432"):
        start_server(AsgiApp(failing))

    async def raising(scope: Scope, receive: Any, send: Any) -> None:
        raise RuntimeError("lifespan not here")

    with pytest.raises(LifespanError, match="lifespan not here"):
        start_server(AsgiApp(raising, lifespan="on"))
    assert issubclass(LifespanError, HurtleHttpError)


def test_apps_without_lifespan_work_in_auto_mode(start_server: Any) -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        assert scope["type"] == "http", "no lifespan support"
        await respond(send, 200, b"no lifespan")

    server = start_server(AsgiApp(app))
    with server.raw() as client:
        client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.read_response().body == b"no lifespan"


# ASGI 2 and detection ---------------------------------------------------------------------------


class Asgi2App:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    async def __call__(self, receive: Any, send: Any) -> None:
        if self.scope["type"] == "http":
            await respond(send, 200, b"asgi2 " + self.scope["path"].encode())


def test_asgi2_apps_are_detected_and_adapted(start_server: Any) -> None:
    server = start_server(AsgiApp(Asgi2App))
    with server.raw() as client:
        client.send(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.read_response().body == b"asgi2 /x"


def test_asgi_interface_tells_asgi_apps_from_anything_else() -> None:
    async def asgi3(scope: Any, receive: Any, send: Any) -> None: ...

    def asgi2(scope: Any) -> Any:
        return asgi3

    class Callable3:
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None: ...

    assert asgi_interface(asgi3) == "asgi3"
    assert asgi_interface(Callable3()) == "asgi3"
    assert asgi_interface(Asgi2App) == "asgi2"
    assert asgi_interface(asgi2) == "asgi2"
    assert asgi_interface(HttpApp("native")) is None
    assert asgi_interface(AsgiApp(asgi3)) is None
    assert asgi_interface(42) is None
    assert asgi_interface(lambda: None) is None
    with pytest.raises(HurtleHttpError, match="not an ASGI application"):
        AsgiApp(HttpApp("native"))


# Native streamed bodies (stream=True) share the machinery -------------------------------------


def test_native_stream_routes_read_the_body_as_it_arrives(start_server: Any) -> None:
    from hurtle_http import Request, text

    app = HttpApp("streamed")
    sizes: list[int] = []

    @app.post("/count", stream=True)
    async def count(request: Request) -> Any:
        assert request.body == b""
        assert request.stream is not None
        total = 0
        async for chunk in request.stream:
            total += len(chunk)
            sizes.append(len(chunk))
        return text(str(total))

    @app.put("/whole", stream=True)
    async def whole(request: Request) -> Any:
        assert request.stream is not None
        return text((await request.stream.read()).decode())

    @app.post("/ignore", stream=True)
    def ignore(request: Request) -> Any:
        return text("not read")

    server = start_server(app)
    with server.raw() as client:
        # The handler runs before the body is complete: the answer needs it to end.
        client.send(b"POST /count HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(3):
            client.send(b"4000\r\n" + b"q" * 0x4000 + b"\r\n")
        client.send(b"0\r\n\r\n")
        assert client.read_response().body == b"%d" % (3 * 0x4000)
        client.send(b"PUT /whole HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
        assert client.read_response().body == b"hello"
        # A body the handler never reads is discarded; the connection stays usable.
        client.send(b"POST /ignore HTTP/1.1\r\nHost: t\r\nContent-Length: 70000\r\n\r\n")
        client.send(b"i" * 70000)
        assert client.read_response().body == b"not read"
        client.send(b"PUT /whole HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok")
        assert client.read_response().body == b"ok"
    assert sum(sizes) == 3 * 0x4000


def assert_continue_then_echo(client: Any, path: bytes) -> None:
    """POST to ``path`` with ``Expect: 100-continue``: the 100 arrives before the client
    sends its 3 bytes, then the response echoes them."""
    client.send(
        b"POST %s HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n" % path
    )
    assert client._read_line() == b"HTTP/1.1 100 Continue"
    assert client._read_line() == b""
    client.send(b"abc")
    assert client.read_response().body == b"abc"


def test_native_stream_expect_100_continue_is_sent_when_the_body_is_read(
    start_server: Any,
) -> None:
    from hurtle_http import Request, text

    app = HttpApp("continue")

    @app.post("/", stream=True)
    async def read(request: Request) -> Any:
        assert request.stream is not None
        return text((await request.stream.read()).decode())

    server = start_server(app)
    with server.raw() as client:
        assert_continue_then_echo(client, b"/")


def test_asgi_expect_100_continue_is_sent_when_the_app_reads_and_bodies_arrive_whole(
    start_server: Any,
) -> None:
    server = start_server(AsgiApp(probe))
    with server.raw() as client:
        assert_continue_then_echo(client, b"/echo")
        # A small body in the same packet as its head: receive() has it at once.
        client.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
        assert client.read_response().body == b"hello"
        client.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
        assert client.read_response().body == b""


def test_an_over_limit_streamed_body_is_a_413_for_asgi_apps(start_server: Any) -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise RuntimeError("the body never completed")  # as frameworks do
            if not message["more_body"]:
                await respond(send, 200, b"unexpected")
                return

    asgi = AsgiApp(app, lifespan="off")
    asgi.config.REQUEST_MAX_SIZE = 1000
    server = start_server(asgi)
    with server.raw() as client:
        client.send(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        client.send(b"400\r\n" + b"a" * 0x400 + b"\r\n")
        response = client.read_response()
    assert response.status == 413
    assert server.server.stats.bad_requests == 1


def test_asgi_drain_finishes_requests_and_closes_websockets_with_1012(start_server: Any) -> None:
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    release = threading.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            while (await receive())["type"] != "websocket.disconnect":
                pass
            return
        await asyncio.get_running_loop().run_in_executor(None, release.wait, 10)
        await respond(send, 200, b"finished in the drain")

    server = start_server(AsgiApp(app, lifespan="off"))
    with connect(f"ws://127.0.0.1:{server.port}/") as ws, server.raw() as client:
        client.send(b"GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.1)  # the request is in flight
        assert server.server is not None
        stopper = threading.Thread(
            target=server.call, args=(server.server.stop(10, websocket_close_code=1012),)
        )
        stopper.start()
        with pytest.raises(ConnectionClosed) as info:
            ws.recv()
        release.set()
        response = client.read_response()
        stopper.join(15)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1012
    assert response.status == 200 and response.body == b"finished in the drain"
    assert response.header("connection") == "close"
