"""Graceful drain: in-flight requests finish, keep-alive connections end without a lost request."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from typing import Any

import pytest
from testkit import wait_until

from hurtle_http import HttpApp, Request, bind_socket, serve, text


def make_app(**config: Any) -> HttpApp:
    app = HttpApp("drain")
    app.config.update(config)
    app.ctx.events = []

    @app.get("/")
    def index(request: Request) -> Any:
        return text("ok")

    @app.get("/sleep/<seconds:float>")
    async def sleep(request: Request, seconds: float) -> Any:
        await asyncio.sleep(seconds)
        return text(f"slept {seconds}")

    @app.before_server_stop
    def before_stop(app_: HttpApp) -> None:
        app_.ctx.events.append("before_server_stop")

    @app.after_server_stop
    def after_stop(app_: HttpApp) -> None:
        app_.ctx.events.append("after_server_stop")

    return app


def stop_in_background(server: Any, graceful_timeout: float) -> threading.Thread:
    thread = threading.Thread(target=server.stop, args=(graceful_timeout,))
    thread.start()
    return thread


def test_a_slow_request_in_flight_completes_while_the_server_stops(start_server: Any) -> None:
    app = make_app()
    server = start_server(app)
    with server.raw() as client:
        client.send(b"GET /sleep/0.5 HTTP/1.1\r\nHost: t\r\n\r\n")
        wait_until(lambda: server.server.stats.in_flight == 1, what="the slow request in flight")
        stopper = stop_in_background(server, 10)
        wait_until(lambda: server.server.draining, what="the drain to begin")
        response = client.read_response()
        assert (response.status, response.body) == (200, b"slept 0.5")
        assert response.header("connection") == "close"
        assert client.is_closed()
    stopper.join(15)
    assert server.server.closed
    assert app.ctx.events == ["before_server_stop", "after_server_stop"]
    assert server.server.stats.served == 1


def test_an_idle_keep_alive_connection_is_closed_cleanly(start_server: Any) -> None:
    server = start_server(make_app(DRAIN_IDLE_GRACE=0.2))
    with server.raw() as client:
        client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.read_response().header("connection") is None
        started = time.monotonic()
        stopper = stop_in_background(server, 10)
        assert client.is_closed(timeout=5)
        assert client.buffer == b"", "an idle connection gets no unsolicited response"
        # Like a client's connection pool, this one never closes its side: the stop does
        # not wait for it (nothing was in flight: no lingering close).
        stopper.join(15)
        assert server.server.closed
        # (a lingering close would take the grace plus LINGER_TIMEOUT: 2.2 s and more)
        assert time.monotonic() - started < 2.0, "the stop waited for the idle client"


def test_a_request_on_an_idle_connection_during_the_grace_is_answered(start_server: Any) -> None:
    server = start_server(make_app(DRAIN_IDLE_GRACE=3.0))
    with server.raw() as client:
        client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        client.read_response()
        stopper = stop_in_background(server, 10)
        wait_until(lambda: server.server.draining, what="the drain to begin")
        client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        response = client.read_response()
        assert (response.status, response.body) == (200, b"ok")
        assert response.header("connection") == "close"
        assert client.is_closed()
    stopper.join(15)


def test_pipelined_requests_already_sent_are_all_answered(start_server: Any) -> None:
    server = start_server(make_app())
    with server.raw() as client:
        client.send(
            b"GET /sleep/0.3 HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
            b"GET /sleep/0.1 HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        wait_until(lambda: server.server.stats.in_flight == 1, what="the first request in flight")
        stopper = stop_in_background(server, 10)
        responses = [client.read_response() for _ in range(3)]
        assert [r.body for r in responses] == [b"slept 0.3", b"ok", b"slept 0.1"]
        assert [r.header("connection") for r in responses] == [None, None, "close"]
        assert client.is_closed()
    stopper.join(15)


def test_keep_alive_clients_under_load_lose_no_request(start_server: Any) -> None:
    server = start_server(make_app(DRAIN_IDLE_GRACE=3.0))
    lost: list[str] = []
    answered = [0] * 8
    closed_by_server = [False] * 8

    def hammer(index: int) -> None:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            reader = sock.makefile("rb")
            paths = [b"/", b"/sleep/0.002"]
            n = 0
            while True:
                n += 1
                path = paths[n % 2]
                try:
                    sock.sendall(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path)
                    status = reader.readline()
                    if not status:
                        lost.append(f"client {index}: EOF instead of a response to request {n}")
                        return
                    assert status.startswith(b"HTTP/1.1 200 "), status
                    length, close = 0, False
                    while (line := reader.readline()) != b"\r\n":
                        name, _, value = line.partition(b":")
                        if name.lower() == b"content-length":
                            length = int(value)
                        elif name.lower() == b"connection" and b"close" in value.lower():
                            close = True
                    reader.read(length)
                except (ConnectionError, TimeoutError) as exc:
                    lost.append(f"client {index}: {exc!r} on request {n}")
                    return
                answered[index] += 1
                if close:
                    closed_by_server[index] = reader.read() == b""
                    reader.close()
                    return

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    try:
        wait_until(
            lambda: min(answered) >= 20,
            timeout=20,
            what=lambda: f"load on every client: {answered}",
        )
        server.stop(10)
    finally:
        for thread in threads:
            thread.join(20)
    assert lost == []
    assert all(closed_by_server), closed_by_server
    assert server.server.stats.served == sum(answered)


def test_the_graceful_timeout_bounds_the_drain(start_server: Any) -> None:
    app = make_app()
    server = start_server(app)
    with server.raw() as client:
        client.send(b"GET /sleep/30 HTTP/1.1\r\nHost: t\r\n\r\n")
        wait_until(lambda: server.server.stats.in_flight == 1, what="the request in flight")
        started = time.monotonic()
        server.stop(0.3)
        assert time.monotonic() - started < 5
        assert client.is_closed()
    assert app.ctx.events == ["before_server_stop", "after_server_stop"]


def test_stop_is_idempotent_and_leaves_the_socket_to_its_owner(start_server: Any) -> None:
    server = start_server(make_app())

    async def stop_twice() -> None:
        assert server.server is not None
        await asyncio.gather(server.server.stop(1), server.server.stop(1))
        await server.server.stop(1)

    server.call(stop_twice())
    assert server.server.closed
    assert server.sock.fileno() != -1, "serve() must not close the caller's socket"
    assert server.app.ctx.events == ["before_server_stop", "after_server_stop"]


def test_unix_socket_serving_and_drain(tmp_path: Any) -> None:
    app = make_app()
    path = str(tmp_path / "hurtle.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen()

    async def main() -> bytes:
        server = await serve(app, listener)
        reader, writer = await asyncio.open_unix_connection(path)
        writer.write(b"GET / HTTP/1.1\r\nHost: unix\r\n\r\n")
        data = await reader.readuntil(b"ok")
        await server.stop(5)
        rest = await reader.read()  # the drain closes the idle connection: EOF, no error
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
        return data + rest

    try:
        data = asyncio.run(main())
    finally:
        listener.close()
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.endswith(b"ok")
    assert app.ctx.events == ["before_server_stop", "after_server_stop"]


def test_a_worker_drains_while_its_sibling_on_the_same_socket_serves_on(start_server: Any) -> None:
    sock = bind_socket("127.0.0.1", 0)
    leaving = start_server(make_app(DRAIN_IDLE_GRACE=3.0), sock=sock)
    port = leaving.port
    failures: list[str] = []
    answered_after_stop = [0] * 6
    stopped = threading.Event()
    done = threading.Event()

    def client(index: int) -> None:
        while not done.is_set():
            with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
                reader = conn.makefile("rb")
                while not done.is_set():
                    try:
                        conn.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                        status = reader.readline()
                        if not status:
                            failures.append(f"client {index}: EOF instead of a response")
                            return
                        close = False
                        while (line := reader.readline()) != b"\r\n":
                            close |= line.lower() == b"connection: close\r\n"
                        assert reader.read(2) == b"ok"
                    except (ConnectionError, TimeoutError) as exc:
                        failures.append(f"client {index}: {exc!r}")
                        return
                    if stopped.is_set():
                        answered_after_stop[index] += 1
                    if close:
                        break  # reconnect: the kernel hands the connection to a live worker
                reader.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: leaving.server.stats.served >= 50, timeout=20, what="load on the leaver")
        staying = start_server(make_app(), sock=sock)  # its sibling starts, as a new worker
        leaving.stop(10)
        stopped.set()
        wait_until(
            lambda: min(answered_after_stop) >= 20,
            timeout=20,
            what=lambda: f"{answered_after_stop}",
        )
    finally:
        done.set()
        for thread in threads:
            thread.join(20)
    assert failures == []
    assert staying.server.stats.served > 0
    assert leaving.server.closed and not staying.server.closed


def test_the_sole_server_answers_its_accept_backlog_then_refuses(start_server: Any) -> None:
    app = make_app()
    servers: list[Any] = []

    @app.get("/block-then-stop")
    def block_then_stop(request: Request) -> Any:
        time.sleep(0.5)  # blocks the loop: the clients connecting now wait in the backlog
        app.ctx.stopping = asyncio.get_running_loop().create_task(servers[0].server.stop(10))
        return text("unblocked")

    server = start_server(app, close_listener=True)
    servers.append(server)
    with server.raw() as blocker:
        blocker.send(b"GET /block-then-stop HTTP/1.1\r\nHost: t\r\n\r\n")
        wait_until(lambda: server.server.stats.in_flight == 1, what="the loop to block")
        queued = [server.raw() for _ in range(3)]
        try:
            for client in queued:
                client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            assert blocker.read_response().body == b"unblocked"
            for client in queued:
                response = client.read_response()
                assert (response.status, response.body) == (200, b"ok")
                assert response.header("connection") == "close"
                assert client.is_closed()
        finally:
            for client in queued:
                client.close()
    wait_until(lambda: server.server.closed, what="the stop to finish")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
