"""The server worker: what every ``Hurtle-Server-<n>-<m>`` process runs.

It loads the app, takes the main process's config and shared context, serves on the
socket the main process bound, acknowledges once it accepts connections, reports its
request counters into its state entry, and drains gracefully when the manager asks it
to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl as _ssl
from collections.abc import Mapping
from typing import Any

import msgspec

from hurtle.loader import AppRef, load_app
from hurtle_http import HttpServer, RequestStats, create_ssl_context, serve
from hurtle_worker_manager import Multiplexer, get_multiplexer

__all__ = ["STATS_KEY", "serve_worker"]

logger = logging.getLogger("hurtle.server")

STATS_KEY = "http"
"""The key of the worker's ``RequestStats`` in its state entry (``workers[name]["http"]``)."""

CLOSE_RESTART = 1012
"""WebSocket close code "service restart": a reload, restart or scale-down stops this worker."""
CLOSE_GOING_AWAY = 1001
"""WebSocket close code "going away": the server shuts down."""
STOP_REASON_WAIT = 0.5
"""Seconds a stopping worker waits for the manager's reason before assuming a shutdown."""

TlsSetting = _ssl.SSLContext | Mapping[str, str] | None


async def serve_worker(app: AppRef, config: dict[str, Any], tls: TlsSetting = None) -> None:
    """Serve the app ``app`` names until the manager stops this process."""
    multiplexer = get_multiplexer()
    stop = asyncio.Event()
    multiplexer.on_stop(stop.set)
    hurtle_app = load_app(app)
    hurtle_app.config.update(config)
    if multiplexer.reloaded_files:
        hurtle_app.config.RELOADED_FILES = ",".join(multiplexer.reloaded_files)
    hurtle_app.binding.enter_worker(multiplexer)
    context = tls if isinstance(tls, _ssl.SSLContext) or tls is None else _load(tls)
    server = await serve(
        hurtle_app._servable(), multiplexer.sockets[0], ssl=context, ready=multiplexer.ack
    )
    multiplexer.set_serving(True)
    reporter = asyncio.create_task(
        _report(multiplexer, server, float(hurtle_app.config.STATS_REPORT_INTERVAL))
    )
    closed = asyncio.create_task(server.wait_closed())
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({closed, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        with contextlib.suppress(OSError):  # the manager may be gone; drain anyway
            multiplexer.set_serving(False)
        await server.stop(
            float(hurtle_app.config.GRACEFUL_SHUTDOWN_TIMEOUT),
            websocket_close_code=await _close_code(multiplexer),
        )
        closed.cancel()
        reporter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reporter
        _send_stats(multiplexer, server.stats)


async def _close_code(multiplexer: Multiplexer) -> int:
    """The WebSocket close code for this stop: 1012 for a restart, 1001 for a shutdown.

    The manager's ``StopNotice`` is written before its stop signal, but it is read by the
    multiplexer's thread: give it a moment. A stop the manager did not explain (a signal
    sent from outside) is a shutdown.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STOP_REASON_WAIT
    while not multiplexer.stop_reason and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.005)  # the reason is set by the channel's thread
    return CLOSE_RESTART if multiplexer.stop_reason == "restart" else CLOSE_GOING_AWAY


def _load(paths: Mapping[str, str]) -> _ssl.SSLContext:
    return create_ssl_context(paths["cert"], paths["key"], paths.get("password"))


async def _report(multiplexer: Multiplexer, server: HttpServer, interval: float) -> None:
    """Publish the request counters whenever they changed, at most once per ``interval``."""
    last: RequestStats | None = None
    while True:
        current = msgspec.structs.replace(server.stats)
        if current != last:
            _send_stats(multiplexer, current)
            last = current
        await asyncio.sleep(interval)


def _send_stats(multiplexer: Multiplexer, stats: RequestStats) -> None:
    try:
        multiplexer.report(STATS_KEY, stats)
    except OSError:  # the manager is gone; the process is stopping anyway
        logger.debug("%s: could not report request counters", multiplexer.name)
