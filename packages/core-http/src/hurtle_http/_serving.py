"""Serving an app: ``app.run`` (its own loop, until a signal) and ``app.create_server``
(your running loop, returning the ``AsyncioServer`` below).

``ServingMixin`` is a mixin of ``HttpApp``; it relies on the app's ``name``, ``config``
and ``_stop_requested``.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import ssl as _ssl
from typing import TYPE_CHECKING, cast

from hurtle_http import _tls
from hurtle_http._access import AccessLog
from hurtle_http._sockets import describe, listen, remove_unix, unix_path
from hurtle_http.exceptions import HurtleHttpError
from hurtle_http.log import server_logger
from hurtle_http.server import new_event_loop, serve

if TYPE_CHECKING:
    from hurtle_http.app import HttpApp
    from hurtle_http.config import Config
    from hurtle_http.server import HttpServer


class ServingMixin:
    """``run``, ``stop`` and ``create_server``."""

    name: str
    config: Config
    _stop_requested: asyncio.Event | None

    def _apply_run_options(
        self, debug: bool | None, access_log: bool | None, access_log_format: str | None
    ) -> None:
        """The config keys ``run`` and ``create_server`` take as arguments (None: unchanged)."""
        if debug is not None:
            self.config.DEBUG = debug
        if access_log is not None:
            self.config.ACCESS_LOG = access_log
        if access_log_format is not None:
            self.config.ACCESS_LOG_FORMAT = AccessLog(access_log_format).format

    def run(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        ssl: _ssl.SSLContext | _tls.CertPaths | None = None,
        debug: bool | None = None,
        access_log: bool | None = None,
        backlog: int | None = None,
        unix: str | None = None,
        access_log_format: str | None = None,
    ) -> None:
        """Serve this app in this process until SIGINT or SIGTERM, then drain gracefully.

        ``ssl`` is an ``SSLContext`` or ``{"cert": path, "key": path}``. ``unix`` is the
        path of a Unix socket to listen on instead of ``host:port`` (its file is removed at
        stop). ``access_log_format`` sets ``ACCESS_LOG_FORMAT`` (see ``hurtle_http.log``).
        uvloop is used when it is importable.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise HurtleHttpError(
                "app.run() starts its own event loop; inside a running loop, use "
                "`server = await app.create_server(host, port)` (or hurtle_http.serve(app, sock))"
            )
        self._apply_run_options(debug, access_log, access_log_format)
        context = _tls.load_context(ssl)
        sock = listen(host, port, unix, backlog=backlog or self.config.BACKLOG)
        path = unix_path(sock)
        loop = new_event_loop()
        try:
            loop.run_until_complete(self._run_until_signal(sock, context))
        finally:
            remove_unix(path)
            sock.close()
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()

    def stop(self) -> None:
        """Ask ``app.run()`` to stop gracefully (from a handler, listener or signal)."""
        if self._stop_requested is None:
            raise HurtleHttpError(
                "app.stop() stops a running app.run(); with serve(), call `await server.stop()`"
            )
        self._stop_requested.set()

    async def _run_until_signal(self, sock: socket.socket, context: _ssl.SSLContext | None) -> None:
        loop = asyncio.get_running_loop()
        self._stop_requested = stop_requested = asyncio.Event()
        signals = (signal.SIGINT, signal.SIGTERM)
        for sig in signals:
            loop.add_signal_handler(sig, stop_requested.set)  # the signal is only recorded
        try:
            server = await serve(cast("HttpApp", self), sock, ssl=context, close_listener=True)
            server_logger.info("%s serving on %s", self.name, describe(sock, context is not None))
            stopped = asyncio.ensure_future(stop_requested.wait())
            ended = asyncio.ensure_future(server.wait_closed())
            await asyncio.wait({stopped, ended}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            ended.cancel()
            await server.stop(self.config.GRACEFUL_SHUTDOWN_TIMEOUT)
        finally:
            self._stop_requested = None
            for sig in signals:
                loop.remove_signal_handler(sig)

    async def create_server(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        unix: str | None = None,
        sock: socket.socket | None = None,
        ssl: _ssl.SSLContext | _tls.CertPaths | None = None,
        debug: bool | None = None,
        access_log: bool | None = None,
        backlog: int | None = None,
        return_asyncio_server: bool = True,
        access_log_format: str | None = None,
    ) -> AsyncioServer:
        """Serve this app inside the running event loop (your own ``asyncio.run(main())``).

        Binds ``host:port`` (or ``unix``, or uses your listening ``sock``, which stays
        yours to close), runs the start
        listeners and accepts connections; returns an ``AsyncioServer``: ``await
        server.serve_forever()``, ``await server.close()``. No signal handlers are
        installed: stopping is yours.
        """
        self._apply_run_options(debug, access_log, access_log_format)
        context = _tls.load_context(ssl)
        size = backlog or self.config.BACKLOG
        owned = sock is None
        if sock is None:
            sock = listen(host, port, unix, backlog=size)
        try:
            server = await serve(cast("HttpApp", self), sock, ssl=context, backlog=size)
        except BaseException:
            if owned:
                remove_unix(unix_path(sock))
                sock.close()
            raise
        server_logger.info("%s serving on %s", self.name, describe(sock, context is not None))
        timeout = float(self.config.GRACEFUL_SHUTDOWN_TIMEOUT)
        return AsyncioServer(server, sock, timeout, owned)


class AsyncioServer:
    """A server started by ``await app.create_server(...)`` in your running loop.

    It already accepts connections (and ran the start listeners). ``await
    server.serve_forever()`` waits until it stops; ``await server.close()`` stops it
    gracefully (the stop listeners run); ``startup``, ``before_start`` and ``after_start``
    exist for code written for the reference and do nothing more.
    """

    def __init__(
        self, server: HttpServer, sock: socket.socket, graceful_timeout: float, owned: bool
    ) -> None:
        self.server = server
        self.sock = sock
        self._owned = owned  # we bound the socket: we close it (and remove its file)
        self._unix_path = unix_path(sock) if owned else None
        self._graceful_timeout = graceful_timeout

    @property
    def port(self) -> int:
        """The TCP port it listens on (0 for a Unix socket)."""
        return self.server.port

    async def startup(self) -> None:
        """Nothing to do: the server started in ``create_server``."""

    async def before_start(self) -> None:
        """Nothing to do: ``before_server_start`` ran in ``create_server``."""

    async def after_start(self) -> None:
        """Nothing to do: ``after_server_start`` ran in ``create_server``."""

    def is_serving(self) -> bool:
        """Whether it still accepts connections."""
        return not self.server.closed and not self.server.draining

    async def serve_forever(self) -> None:
        """Wait until the server is stopped (``close()``, or the task is cancelled)."""
        try:
            await self.server.wait_closed()
        except asyncio.CancelledError:
            await self.close()
            raise

    async def close(self, graceful_timeout: float | None = None) -> None:
        """Stop gracefully: finish in-flight requests, run the stop listeners, close."""
        if not self.server.closed:
            timeout = self._graceful_timeout if graceful_timeout is None else graceful_timeout
            await self.server.stop(timeout)
        if self._owned:
            remove_unix(self._unix_path)
            self.sock.close()

    async def wait_closed(self) -> None:
        """Wait until the server is closed."""
        await self.server.wait_closed()
