"""What the managed processes of the inspector tests run (imported by path in children).

``http_server`` does what the ``hurtle`` meta-package does for a server worker: serve a
hurtle-http app on the shared socket, ack once listening, stop on the manager's request
and report its HTTP counters under ``"http"``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import msgspec

from hurtle_http import HttpApp, Request, json, serve
from hurtle_inspector import Inspector, InspectorRequestError
from hurtle_worker_manager import get_multiplexer


def build_app() -> HttpApp:
    """A tiny app that answers with its pid."""
    app = HttpApp("Probe")

    @app.get("/")
    async def index(request: Request) -> Any:
        return json({"pid": os.getpid()})

    return app


async def http_server(
    *,
    ack_when: str = "",
    slow_ack_above: int = 0,
    slow_ack: float = 0.0,
    fail_above: int = 0,
    report_ext: bool = False,
    fail_while_exists: str = "",
    **_: Any,
) -> None:
    """Serve ``build_app()`` on the manager's socket until asked to stop.

    ``ack_when``: ack only once this file exists. ``slow_ack_above``/``slow_ack``: generations
    above N wait that long before acking. ``fail_above``: generations above N fail to start.
    ``report_ext``: report a value JSON cannot carry (a MessagePack extension).
    """
    mux = get_multiplexer()
    if fail_above and mux.generation > fail_above:
        raise RuntimeError(f"generation {mux.generation} refuses to start")
    if fail_while_exists and mux.generation > 1 and _exists(fail_while_exists):
        raise RuntimeError(f"generation {mux.generation} refuses to start while the flag exists")
    stop = asyncio.Event()
    mux.on_stop(stop.set)

    async def ready() -> None:
        while ack_when and not _exists(ack_when) and not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), 0.02)
            except asyncio.TimeoutError:
                pass
        if slow_ack_above and mux.generation > slow_ack_above:
            await asyncio.sleep(slow_ack)
        mux.ack()

    server = await serve(build_app(), mux.sockets[0], ready=ready)
    if report_ext:
        mux.report("odd", msgspec.msgpack.Ext(5, b"\x00\x01"))
    while not stop.is_set():
        mux.report("http", server.stats)
        try:
            await asyncio.wait_for(stop.wait(), 0.2)
        except asyncio.TimeoutError:
            pass
    await server.stop(5.0)


def _exists(path: str) -> bool:
    return os.path.exists(path)


class Probe(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A typed body for a custom command."""

    level: int
    tags: list[str] = []


class CustomInspector(Inspector):
    """Custom commands, and attributes that must never be commands."""

    label = "a class attribute, not a command"

    @property
    def prop(self) -> str:
        return "a property, not a command"

    @staticmethod
    def static() -> str:
        return "a static method, not a command"

    def _secret(self) -> str:
        return "private"

    def hello(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The reference's example: echo what arrived."""
        print("hello", args, kwargs, flush=True)
        return {"args": list(args), "kwargs": kwargs}

    async def greet(self, name: str, times: int = 1) -> str:
        """Typed arguments, async."""
        await asyncio.sleep(0)
        return ", ".join([f"hello {name}"] * times)

    def probe(self, body: Probe) -> dict[str, Any]:
        """A body decoded into a struct."""
        return {"level": body.level, "tags": body.tags}

    def boom(self) -> None:
        raise RuntimeError("kaboom")

    def refuse(self) -> None:
        raise InspectorRequestError("not today", 409)

    def unencodable(self) -> object:
        return object()

    def names(self) -> list[str]:
        """What the multiplexer sees."""
        return sorted(self.multiplexer.workers)
