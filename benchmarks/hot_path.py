"""The CPU a request costs in Hurtle's own Python, measured in-process: no sockets, no wrk.

Each app is served by a real ``HttpServer`` whose connection is fed one keep-alive request
at a time through an in-memory transport (what uvloop's transport would carry, minus the
syscalls and the event loop's I/O polling). The figure is the time from ``data_received`` to
the last byte of the response written, per request: the part of a request's cost that is
ours to cut. ``--profile APP`` prints the functions it is spent in (cProfile).

Run it in the bench environment:

    python3 -m hatch run bench:python benchmarks/hot_path.py
    python3 -m hatch run bench:python benchmarks/hot_path.py --profile native-fw

The ceiling's protocol (``servers/ceiling.py``) is measured the same way, as the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import importlib
import pstats
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvloop

sys.path.insert(0, str(Path(__file__).parent / "servers"))

HELLO = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n"


class MemoryTransport(asyncio.Transport):
    """Collects what the protocol writes; wakes the driver when a response is complete."""

    def __init__(self, expect: bytes) -> None:
        super().__init__()
        self.expect = expect
        self.responses = 0
        self.waiter: asyncio.Future[None] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if bytes(data[-len(self.expect) :]) == self.expect:
            self.responses += 1
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(None)

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False

    def can_write_eof(self) -> bool:
        return True

    def pause_reading(self) -> None:
        pass

    def abort(self) -> None:
        self.close()

    def close(self) -> None:
        self.closed = True

    def resume_reading(self) -> None:
        pass


def native(module: str) -> Callable[[], Any]:
    def app() -> Any:
        return importlib.import_module(module).app

    return app


def protocol_only() -> Any:
    """An app whose ``handle`` returns one prepared response: the protocol's cost alone."""
    from hurtle_http import HttpApp, HTTPResponse, Request, json

    hello = json({"hello": "world"})

    class Prepared(HttpApp):
        async def handle(self, request: Request) -> HTTPResponse:
            return hello

    return Prepared("protocol")


def asgi(name: str) -> Callable[[], Any]:
    def app() -> Any:
        import asgi_apps

        from hurtle_http import AsgiApp

        return AsgiApp(getattr(asgi_apps, name))

    return app


APPS: dict[str, Callable[[], Any]] = {
    "native": native("hurtle_app"),
    "native-fw": native("hurtle_framework_app"),
    "protocol": protocol_only,
    "asgi-raw": asgi("raw"),
    "asgi-starlette": asgi("starlette"),
}


async def measure_hurtle(make_app: Callable[[], Any], count: int, profile: bool) -> float:
    """Seconds per request for ``count`` requests through one connection of ``make_app()``."""
    from hurtle_http import HttpServer
    from hurtle_http.protocol import HttpProtocol

    app = make_app()
    app.config.ACCESS_LOG = False
    with socket.create_server(("127.0.0.1", 0)) as sock:
        server = HttpServer(app, sock)
        await server.start()
        try:
            conn = HttpProtocol(server)
            transport = MemoryTransport(b'"world"}')
            conn.connection_made(transport)
            try:
                return await drive(conn.data_received, transport, count, profile)
            finally:
                conn.connection_lost(None)
        finally:
            await server.stop(0)


async def measure_ceiling(count: int, profile: bool) -> float:
    from ceiling import CeilingProtocol

    conn = CeilingProtocol()
    transport = MemoryTransport(b'"world"}')
    conn.connection_made(transport)
    return await drive(conn.data_received, transport, count, profile)


async def drive(
    feed: Callable[[bytes], None], transport: MemoryTransport, count: int, profile: bool
) -> float:
    loop = asyncio.get_running_loop()
    for _ in range(200):  # warm up
        await one(feed, transport, loop)
    profiler = cProfile.Profile() if profile else None
    gc.collect()
    if profiler is not None:
        profiler.enable()
    started = time.process_time()
    for _ in range(count):
        await one(feed, transport, loop)
    elapsed = time.process_time() - started
    if profiler is not None:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    return elapsed / count


async def one(
    feed: Callable[[bytes], None], transport: MemoryTransport, loop: asyncio.AbstractEventLoop
) -> None:
    before = transport.responses
    feed(HELLO)
    if transport.responses == before:
        transport.waiter = loop.create_future()
        await transport.waiter
        transport.waiter = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50_000, help="requests per app")
    parser.add_argument("--rounds", type=int, default=3, help="best of this many runs")
    parser.add_argument("--apps", nargs="+", default=[*APPS, "ceiling"], help="what to measure")
    parser.add_argument("--profile", metavar="APP", help="profile one app instead")
    args = parser.parse_args()
    if args.profile:
        run_one(args.profile, args.count, profile=True)
        return
    print(f"{'app':<16} {'µs/request':>10} {'vs ceiling':>10}")
    figures = {
        name: min(run_one(name, args.count) for _ in range(args.rounds)) for name in args.apps
    }
    floor = figures.get("ceiling")
    for name, seconds in figures.items():
        ratio = f"{floor / seconds:.2f}x" if floor else "-"
        print(f"{name:<16} {seconds * 1e6:>10.2f} {ratio:>10}")


def run_one(name: str, count: int, profile: bool = False) -> float:
    if name == "ceiling":
        return uvloop.run(measure_ceiling(count, profile))
    if name not in APPS:
        raise SystemExit(f"unknown app {name!r}: choose from {', '.join([*APPS, 'ceiling'])}")
    return uvloop.run(measure_hurtle(APPS[name], count, profile))


if __name__ == "__main__":
    main()
