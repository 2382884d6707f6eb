"""WebSockets, native (@app.websocket) and ASGI, with the real `websockets` client."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from testkit import wait_until
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from hurtle_http import AsgiApp, HttpApp, Request, WebSocket, WebSocketClosed, text


def url(server: Any, path: str = "/ws") -> str:
    return f"ws://127.0.0.1:{server.port}{path}"


def native_app(closed: list[tuple[int, str]] | None = None) -> HttpApp:
    app = HttpApp("ws")
    app.config.update(WEBSOCKET_MAX_SIZE=512 * 1024)

    @app.websocket("/ws", subprotocols=["chat.v2", "chat.v1"])
    async def echo(request: Request, ws: WebSocket) -> None:
        await ws.send(f"hello {ws.subprotocol}")
        async for message in ws:
            if message == "close please":
                await ws.close(4000, "as asked")
                return
            await ws.send(message)

    @app.websocket("/rooms/<room:int>")
    async def room(request: Request, ws: WebSocket, room: int) -> None:
        assert await ws.recv(timeout=0.01) is None  # nothing sent yet: None, as Sanic's
        await ws.send(f"room {room}")
        try:
            await ws.recv()
        except WebSocketClosed as exc:
            if closed is not None:
                closed.append((exc.code, exc.reason))

    @app.get("/")
    def index(request: Request) -> Any:
        return text("http still works")

    return app


def test_native_echo_text_bytes_large_and_fragmented(start_server: Any) -> None:
    server = start_server(native_app())
    with connect(url(server), subprotocols=["chat.v1", "chat.v2"]) as ws:
        assert ws.subprotocol == "chat.v2"
        assert ws.recv() == "hello chat.v2"
        ws.send("text")
        assert ws.recv() == "text"
        ws.send(b"\x00\x01binary")
        assert ws.recv() == b"\x00\x01binary"
        big = b"x" * 300_000
        ws.send(big)
        assert ws.recv() == big
        ws.send(["frag", "mented ", "message"])  # three frames, one message
        assert ws.recv() == "fragmented message"
        ws.ping(b"p1").wait(5)  # the server answers pings
        assert "permessage-deflate" in (ws.response.headers.get("Sec-WebSocket-Extensions") or "")
        ws.send("close please")
        with pytest.raises(ConnectionClosed) as info:
            ws.recv()
    assert info.value.rcvd is not None
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (4000, "as asked")
    with server.raw() as client:
        client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.read_response().body == b"http still works"


def test_native_route_params_and_client_close_code(start_server: Any) -> None:
    closed: list[tuple[int, str]] = []
    server = start_server(native_app(closed))
    with connect(url(server, "/rooms/7")) as ws:
        assert ws.recv() == "room 7"
        ws.close(4321, "client leaves")
    wait_until(
        lambda: closed == [(4321, "client leaves")], what=lambda: f"the close code seen ({closed})"
    )
    assert server.server.stats.served >= 1


def test_too_large_messages_close_with_1009(start_server: Any) -> None:
    server = start_server(native_app())
    with connect(url(server), max_size=None) as ws:
        ws.recv()
        ws.send(b"y" * (600 * 1024))
        with pytest.raises(ConnectionClosed) as info:
            ws.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009


def test_a_plain_get_on_a_websocket_route_is_426(start_server: Any) -> None:
    server = start_server(native_app())
    with server.raw() as client:
        client.send(b"GET /ws HTTP/1.1\r\nHost: t\r\n\r\n")
        response = client.read_response()
    assert response.status == 426
    assert response.header("upgrade") == "websocket"


def test_drain_closes_open_websockets_with_the_given_code(start_server: Any) -> None:
    server = start_server(native_app())
    with connect(url(server)) as ws:
        ws.recv()
        stopping = server.server.stop(5, websocket_close_code=1012)
        stopper = threading.Thread(target=server.call, args=(stopping,))
        stopper.start()
        with pytest.raises(ConnectionClosed) as info:
            ws.recv()
        stopper.join(10)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1012
    assert server.server.closed


# ASGI ------------------------------------------------------------------------------------------


async def asgi_ws(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        return  # no lifespan: auto mode carries on
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"plain"})
        return
    assert (await receive())["type"] == "websocket.connect"
    path = scope["path"]
    if path == "/deny":
        await send({"type": "websocket.close"})
        return
    if path == "/denial":
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 401,
                "headers": [(b"content-type", b"text/plain")],
            }
        )
        await send({"type": "websocket.http.response.body", "body": b"who are you?"})
        return
    if path == "/boom":
        raise RuntimeError("before accept")
    await send(
        {
            "type": "websocket.accept",
            "subprotocol": scope["subprotocols"][0] if scope["subprotocols"] else None,
            "headers": [(b"x-hello", b"world")],
        }
    )
    info = f"{scope['scheme']} {scope['path']} {scope['query_string'].decode()}"
    await send({"type": "websocket.send", "text": info})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            disconnects.append((message["code"], message.get("reason", "")))
            return
        if message.get("text") == "bye":
            await send({"type": "websocket.close", "code": 4001, "reason": "bye to you"})
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


disconnects: list[tuple[int, str]] = []


def test_asgi_websocket_accept_messages_and_close_codes(start_server: Any) -> None:
    disconnects.clear()
    server = start_server(AsgiApp(asgi_ws))
    with connect(url(server, "/echo?a=1"), subprotocols=["graphql-ws"]) as ws:
        assert ws.subprotocol == "graphql-ws"
        assert ws.response.headers["x-hello"] == "world"
        assert ws.recv() == "ws /echo a=1"
        ws.send("text")
        assert ws.recv() == "text"
        big = b"z" * 300_000
        ws.send(big)
        assert ws.recv() == big
        ws.send("bye")
        with pytest.raises(ConnectionClosed) as info:
            ws.recv()
    assert info.value.rcvd is not None
    assert (info.value.rcvd.code, info.value.rcvd.reason) == (4001, "bye to you")
    with connect(url(server, "/echo")) as ws:
        ws.recv()
        ws.close(4002, "client says bye")
    wait_until(
        lambda: disconnects == [(4002, "client says bye")],
        what=lambda: f"disconnect ({disconnects})",
    )


@pytest.mark.parametrize(
    ("path", "status", "body"),
    [
        ("/deny", 403, b""),
        ("/denial", 401, b"who are you?"),
        ("/boom", 500, None),
    ],
)
def test_asgi_websocket_denials(
    start_server: Any, path: str, status: int, body: bytes | None
) -> None:
    server = start_server(AsgiApp(asgi_ws))
    with pytest.raises(InvalidStatus) as info, connect(url(server, path)):
        pass
    assert info.value.response.status_code == status
    if body is not None:
        assert info.value.response.body == body
    with server.raw() as client:
        client.send(b"GET /plain HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.read_response().body == b"plain"


def test_an_asgi_app_may_listen_before_it_accepts(start_server: Any) -> None:
    """receive() after websocket.connect waits for the handshake (Quart listens in a task
    started before it accepts); it must not fail the connection."""
    import asyncio

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "websocket.connect"
        listening = asyncio.ensure_future(receive())  # before the accept is sent
        await asyncio.sleep(0.05)
        await send({"type": "websocket.accept"})
        message = await listening
        await send({"type": "websocket.send", "text": f"got {message.get('text')}"})
        await send({"type": "websocket.close", "code": 1000})

    server = start_server(AsgiApp(app))
    with connect(url(server)) as ws:
        ws.send("first")
        assert ws.recv() == "got first"
        with pytest.raises(ConnectionClosed) as info:
            ws.recv()
    assert info.value.rcvd is not None and info.value.rcvd.code == 1000
