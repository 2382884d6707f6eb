"""Lifecycle listeners, app.ctx, the ready callback and the request counters."""

from __future__ import annotations

import asyncio
import socket
from typing import Any, ClassVar

import msgspec
import pytest
from testkit import wait_until

from hurtle_http import HttpApp, Request, RequestStats, bind_socket, serve, text
from hurtle_http.listeners import SERVER_EVENTS


def test_listeners_run_in_order_with_app_or_app_and_loop(start_server: Any) -> None:
    app = HttpApp("life")
    events: list[str] = []

    @app.before_server_start
    async def setup(app_: HttpApp, loop: asyncio.AbstractEventLoop) -> None:
        assert loop is asyncio.get_running_loop()
        app_.ctx.db = "connected"
        events.append("before_server_start")

    @app.after_server_start
    def started(app_: HttpApp) -> None:
        events.append("after_server_start")

    @app.listener("before_server_stop")
    def stopping_first(app_: HttpApp) -> None:
        events.append("before_server_stop:first")

    @app.listener("before_server_stop")
    async def stopping_second(app_: HttpApp) -> None:
        events.append("before_server_stop:second")

    @app.after_server_stop
    async def teardown(app_: HttpApp) -> None:
        app_.ctx.db = "closed"
        events.append("after_server_stop")

    @app.get("/")
    def index(request: Request) -> Any:
        return text(request.app.ctx.db)

    server = start_server(app)
    assert server.ready_calls == 1
    assert events == ["before_server_start", "after_server_start"]
    conn = server.client()
    try:
        conn.request("GET", "/")
        assert conn.getresponse().read() == b"connected"
    finally:
        conn.close()
    server.stop()
    assert events[2:] == [
        "before_server_stop:second",
        "before_server_stop:first",
        "after_server_stop",
    ]
    assert app.ctx.db == "closed"


def test_a_subclass_can_add_listener_events() -> None:
    class Meta(HttpApp):
        listener_events: ClassVar[tuple[str, ...]] = (*SERVER_EVENTS, "main_process_start")

    app = Meta("meta")
    calls: list[str] = []
    app.listener("main_process_start")(lambda a: calls.append(a.name))
    asyncio.run(app.dispatch("main_process_start"))
    assert calls == ["meta"]


def test_request_stats_track_served_in_flight_and_errors(start_server: Any) -> None:
    app = HttpApp("stats")
    release = asyncio.Event()

    @app.get("/slow")
    async def slow(request: Request) -> Any:
        await release.wait()
        return text("done")

    @app.get("/boom")
    def boom(request: Request) -> Any:
        raise RuntimeError("boom")

    server = start_server(app)
    stats = server.server.stats
    assert isinstance(stats, RequestStats)
    slow_conn, conn = server.client(), server.client()
    try:
        slow_conn.request("GET", "/slow")
        wait_until(lambda: stats.in_flight == 1, what=lambda: f"one request in flight, saw {stats}")
        conn.request("GET", "/boom")
        assert conn.getresponse().status == 500
        server.loop.call_soon_threadsafe(release.set)
        assert slow_conn.getresponse().read() == b"done"
    finally:
        slow_conn.close()
        conn.close()
    wait_until(
        lambda: stats.served == 2 and stats.in_flight == 0, what=lambda: f"2 served, saw {stats}"
    )
    assert stats.errors == 1
    assert stats.bad_requests == 0


def test_a_failing_start_listener_fails_serve_and_releases_everything(
    start_server: Any,
) -> None:
    app = HttpApp("broken")

    @app.before_server_start
    def explode(app_: HttpApp) -> None:
        raise RuntimeError("database unreachable")

    with pytest.raises(RuntimeError, match="database unreachable"):
        start_server(app)


def test_a_failing_ready_callback_stops_the_server() -> None:
    app = HttpApp("unready")
    stopped: list[str] = []
    app.after_server_stop(lambda a: stopped.append("after_server_stop"))

    def ready() -> None:
        raise RuntimeError("manager gone")

    async def attempt(sock: socket.socket) -> None:
        await serve(app, sock, ready=ready)

    sock = bind_socket("127.0.0.1", 0)
    try:
        with pytest.raises(RuntimeError, match="manager gone"):
            asyncio.run(attempt(sock))
        port = sock.getsockname()[1]
    finally:
        sock.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert stopped == ["after_server_stop"], "stop listeners release what start set up"


def test_request_stats_wire_format_is_stable() -> None:
    stats = RequestStats(served=3, in_flight=1, errors=2, bad_requests=4, connections=5)
    golden = b'{"served":3,"in_flight":1,"errors":2,"bad_requests":4,"connections":5}'
    assert msgspec.json.encode(stats) == golden
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(stats), type=RequestStats) == stats
    # Older readers and newer writers: missing fields default, unknown fields are ignored.
    assert msgspec.json.decode(b'{"served":7}', type=RequestStats) == RequestStats(served=7)
    newer = b'{"served":1,"in_flight":0,"errors":0,"bad_requests":0,"connections":0,"rss":9}'
    assert msgspec.json.decode(newer, type=RequestStats).served == 1
