"""A real framework (Starlette) on hurtle-http's ASGI server, and the same probe app under
hurtle-http and uvicorn compared field by field."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from testkit import wait_until
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from hurtle_http import AsgiApp

done: list[str] = []


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    yield {"greeting": "hello from lifespan"}


async def params(request: Request) -> Response:
    return JSONResponse(
        {
            "item": request.path_params["item"],
            "q": request.query_params.getlist("q"),
            "greeting": request.state.greeting,
        }
    )


async def echo_json(request: Request) -> Response:
    return JSONResponse({"got": await request.json()})


async def upload(request: Request) -> Response:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
    return PlainTextResponse(str(size))


async def download(request: Request) -> Response:
    return Response(b"d" * 5_000_000, media_type="application/octet-stream")


async def events(request: Request) -> Response:
    async def produce() -> AsyncIterator[str]:
        for number in range(3):
            yield f"data: event {number}\n\n"
            await asyncio.sleep(0)

    return StreamingResponse(produce(), media_type="text/event-stream")


async def background(request: Request) -> Response:
    return PlainTextResponse("queued", background=BackgroundTask(done.append, "task ran"))


async def fail(request: Request) -> Response:
    raise ValueError("a handler bug")


async def ws_echo(websocket: WebSocket) -> None:
    await websocket.accept()
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") == "close":
            await websocket.close(4100, "closing as asked")
            return
        if message.get("text") is not None:
            await websocket.send_text(message["text"])
        else:
            await websocket.send_bytes(message["bytes"])


async def ws_deny(websocket: WebSocket) -> None:
    await websocket.close()


starlette_app = Starlette(
    routes=[
        Route("/items/{item}", params),
        Route("/json", echo_json, methods=["POST"]),
        Route("/upload", upload, methods=["POST"]),
        Route("/download", download),
        Route("/events", events),
        Route("/background", background),
        Route("/fail", fail),
        WebSocketRoute("/ws", ws_echo),
        WebSocketRoute("/deny", ws_deny),
    ],
    lifespan=lifespan,
)


def test_starlette_http_features(start_server: Any) -> None:
    server = start_server(AsgiApp(starlette_app, lifespan="on"))
    with server.raw(timeout=10) as client:
        client.send(b"GET /items/42?q=a&q=b HTTP/1.1\r\nHost: t\r\n\r\n")
        assert json.loads(client.read_response().body) == {
            "item": "42",
            "q": ["a", "b"],
            "greeting": "hello from lifespan",
        }
        body = json.dumps({"n": [1, 2, 3]}).encode()
        client.send(
            b"POST /json HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        assert json.loads(client.read_response().body) == {"got": {"n": [1, 2, 3]}}
        big = 20 * 1024 * 1024
        client.send(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % big)
        for _ in range(20):
            client.send(b"u" * (1024 * 1024))
        assert client.read_response().body == b"%d" % big
        chunked = b"".join(b"%x\r\n%s\r\n" % (n, b"c" * n) for n in (10, 70000, 3)) + b"0\r\n\r\n"
        client.send(b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        client.send(chunked)
        assert client.read_response().body == b"70013"
        client.send(b"GET /download HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.read_response().body == b"d" * 5_000_000
        client.send(b"GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
        sse = client.read_response()
        assert (
            sse.header(
                "content-type",
            )
            == "text/event-stream; charset=utf-8"
        )
        assert sse.body == b"data: event 0\n\ndata: event 1\n\ndata: event 2\n\n"
        client.send(b"GET /background HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.read_response().body == b"queued"
        wait_until(lambda: done == ["task ran"], what="the background task")
    with server.raw() as client:
        client.send(b"GET /fail HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.read_response().status == 500
        client.send(b"GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.read_response().status == 404


def test_starlette_websockets(start_server: Any) -> None:
    server = start_server(AsgiApp(starlette_app))
    with connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
        ws.send("text")
        assert ws.recv() == "text"
        payload = bytes(range(256)) * 1200  # 300 kB
        ws.send(payload)
        assert ws.recv() == payload
        ws.send("close")
        with pytest.raises(ConnectionClosed) as info:
            ws.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 4100
    with (
        pytest.raises(InvalidStatus, match="HTTP 403"),
        connect(f"ws://127.0.0.1:{server.port}/deny"),
    ):
        pass


# Differential: the same probe under hurtle-http and uvicorn -------------------------------------


async def probe(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    shown = {
        key: scope[key] for key in ("type", "http_version", "method", "scheme", "path", "root_path")
    }
    shown["asgi_version"] = scope["asgi"]["version"]
    shown["raw_path"] = scope["raw_path"].decode("latin-1")
    shown["query_string"] = scope["query_string"].decode("latin-1")
    shown["headers"] = [[n.decode(), v.decode()] for n, v in scope["headers"]]
    shown["client_host"] = scope["client"][0]
    shown["server"] = list(scope["server"])[:1]
    shown["body"] = body.decode()
    payload = json.dumps(shown).encode()
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 201, "headers": [(b"x-a", b"1")]})
        await send({"type": "http.response.body", "body": payload, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    else:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"x-a", b"1")],
            }
        )
        await send({"type": "http.response.body", "body": payload})


@pytest.fixture
def uvicorn_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        probe, log_level="error", lifespan="off", root_path="/root", http="httptools"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        threading.Event().wait(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


REQUESTS = [
    b"GET /plain/%C3%A9%20x?a=1&b=%20 HTTP/1.1\r\nHost: h\r\nX-Dup: 1\r\nx-dup: 2\r\n\r\n",
    b"GET /plain?only HTTP/1.1\r\nHost: h\r\n\r\n",
    b"POST /post HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
    b"GET /stream HTTP/1.1\r\nHost: h\r\n\r\n",
    b"HEAD /plain HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /old HTTP/1.0\r\n\r\n",
]


def exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        if b"HTTP/1.0" in request:
            sock.shutdown(socket.SHUT_WR)
        data = b""
        sock.settimeout(2)
        try:
            while chunk := sock.recv(65536):
                data += chunk
                if b"HTTP/1.0" not in request and _complete(data, request):
                    break
        except TimeoutError:
            pass
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.decode().lower()] = value.strip().decode()
    if headers.get("transfer-encoding") == "chunked":
        decoded = b""
        while body:
            size_line, _, body = body.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            decoded += body[:size]
            body = body[size + 2 :]
        body = decoded
    return status, headers, body


def _complete(data: bytes, request: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    if request.startswith(b"HEAD"):
        return True
    lower = head.lower()
    if b"content-length:" in lower:
        length = int(lower.split(b"content-length:")[1].split(b"\r\n")[0])
        return len(body) >= length
    return body.endswith(b"0\r\n\r\n")


@pytest.mark.parametrize(
    "request_bytes", REQUESTS, ids=[r.split(b" HTTP")[0].decode() for r in REQUESTS]
)
def test_the_same_probe_behaves_as_under_uvicorn(
    start_server: Any, uvicorn_port: int, request_bytes: bytes
) -> None:
    server = start_server(AsgiApp(probe, root_path="/root", lifespan="off"))
    ours = exchange(server.port, request_bytes)
    theirs = exchange(uvicorn_port, request_bytes)
    assert ours[0] == theirs[0]
    # Framing may differ and both are valid: a single-message body gets a Content-Length
    # here, chunked under uvicorn. The decoded bodies are compared below.
    for name in ("content-type", "x-a", "connection"):
        assert ours[1].get(name) == theirs[1].get(name), (name, ours[1], theirs[1])
    if ours[2] or theirs[2]:
        mine, other = json.loads(ours[2]), json.loads(theirs[2])
        for key in other:
            assert mine[key] == other[key], (key, mine[key], other[key])
