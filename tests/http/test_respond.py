"""request.respond(): the head goes out at once and each send() while the handler runs."""

from __future__ import annotations

import asyncio
from typing import Any

from hurtle_http import HttpApp, HTTPMethodView, HurtleHttpError, Request, text


def test_respond_streams_while_the_handler_runs(start_server: Any) -> None:
    app = HttpApp("respond")
    release = asyncio.Event()

    @app.get("/feed")
    async def feed(request: Request) -> None:
        response = await request.respond(content_type="text/csv", headers={"X-Feed": "1"})
        await response.send("a,1\n")
        await release.wait()  # the client has the head and the first row by now
        await response.send(b"b,2\n")
        await response.eof()

    @app.get("/release")
    async def do_release(request: Request) -> Any:
        release.set()
        return text("released")

    @app.get("/implicit")
    async def implicit(request: Request) -> None:
        response = await request.respond()
        await response.send("no eof: ended when the handler returns")

    @app.get("/whole")
    async def whole(request: Request) -> None:
        await request.respond(text("a whole response", 202))

    class Items(HTTPMethodView):
        async def get(self, request: Request) -> None:
            response = await request.respond(status=201)
            await response.send("from a view")

    app.add_route(Items, "/view")

    def helper(request: Request) -> Any:
        return request.respond()

    @app.get("/helper")
    async def indirect(request: Request) -> Any:
        try:
            await helper(request)
        except HurtleHttpError as exc:
            return text(str(exc), 500)
        return text("unexpected")

    server = start_server(app)
    with server.raw() as client:
        client.send(b"GET /feed HTTP/1.1\r\nHost: x\r\n\r\n")
        head = b""
        while b"a,1\n" not in client.buffer:
            assert client._fill(), f"closed early: {client.buffer!r}"
        head = client.buffer
        assert head.startswith(b"HTTP/1.1 200")
        assert b"content-type: text/csv" in head.lower() and b"x-feed: 1" in head.lower()
        assert b"b,2" not in head  # the handler is still waiting
        conn = server.client()
        conn.request("GET", "/release")
        assert conn.getresponse().read() == b"released"
        conn.close()
        client.buffer = b""
        client.send(b"GET /implicit HTTP/1.1\r\nHost: x\r\n\r\n")
        # The rest of /feed (b,2 and the last chunk), then /implicit on the same connection.
        while b"0\r\n\r\nHTTP/1.1" not in client.buffer or not client.buffer.endswith(b"0\r\n\r\n"):
            assert client._fill(), f"closed early: {client.buffer!r}"
        assert b"b,2\n" in client.buffer
        assert b"no eof: ended when the handler returns" in client.buffer
    conn = server.client()
    conn.request("GET", "/whole")
    response = conn.getresponse()
    assert (response.status, response.read()) == (202, b"a whole response")
    conn.request("GET", "/view")
    response = conn.getresponse()
    assert (response.status, response.read()) == (201, b"from a view")
    conn.request("GET", "/helper")
    response = conn.getresponse()
    assert response.status == 500 and b"in the handler" in response.read()
    conn.close()


def test_a_handler_failing_after_respond_cuts_the_response_short(start_server: Any) -> None:
    app = HttpApp("respondfail")

    @app.get("/broken")
    async def broken(request: Request) -> None:
        response = await request.respond()
        await response.send("partial\n")
        raise RuntimeError("the database went away")

    server = start_server(app)
    with server.raw() as client:
        client.send(b"GET /broken HTTP/1.1\r\nHost: x\r\n\r\n")
        assert client.is_closed(10)  # aborted: no terminating chunk
        assert client.buffer.startswith(b"HTTP/1.1 200") and b"partial" in client.buffer
        assert not client.buffer.endswith(b"0\r\n\r\n")
