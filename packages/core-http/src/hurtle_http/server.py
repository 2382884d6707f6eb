"""Serving an app on a listening socket: start, request counters, timers and graceful drain.

``serve(app, sock)`` (or ``HttpServer(app, sock).start()``) runs inside an already running
event loop: before_server_start -> accept connections -> ``ready()`` -> after_server_start.
``stop(graceful_timeout)`` stops accepting, runs before_server_stop, drains every
connection without losing a request, then runs after_server_stop.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import socket
import ssl as _ssl
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from hurtle_http._access import AccessLog
from hurtle_http._sink import HeldWrites
from hurtle_http._state import ConnState, timers
from hurtle_http._wire import Clock
from hurtle_http.config import Config
from hurtle_http.exceptions import ServerError
from hurtle_http.protocol import HttpProtocol

if TYPE_CHECKING:
    from hurtle_http.app import HttpApp
    from hurtle_http.asgi import AsgiApp

logger = logging.getLogger("hurtle.server")

ReadyCallback = Callable[[], "Awaitable[None] | None"]


class RequestStats(msgspec.Struct):
    """Counters kept by a running server; cheap to read at any time, encodable with msgspec.

    ``served``: responses completed; ``in_flight``: requests being handled; ``errors``:
    responses with a 5xx status or failed while sent; ``bad_requests``: malformed or
    over-limit requests rejected by the protocol; ``connections``: open connections.
    """

    served: int = 0
    in_flight: int = 0
    errors: int = 0
    bad_requests: int = 0
    connections: int = 0


@dataclass(frozen=True, slots=True)
class Limits:
    """Timeouts and size limits read once from the config when a server starts."""

    keep_alive: bool
    keep_alive_timeout: float
    request_timeout: float
    response_timeout: float
    drain_idle_grace: float
    max_url: int
    max_header_size: int
    max_headers: int
    max_head: int
    max_body: int
    pipeline: int

    @classmethod
    def from_config(cls, config: Config) -> Limits:
        """The limits in ``config`` (see ``Config.DEFAULTS`` for their meaning)."""
        max_url = int(config.REQUEST_MAX_URL)
        max_header_size = int(config.REQUEST_MAX_HEADER_SIZE)
        return cls(
            keep_alive=bool(config.KEEP_ALIVE),
            keep_alive_timeout=float(config.KEEP_ALIVE_TIMEOUT),
            request_timeout=float(config.REQUEST_TIMEOUT),
            response_timeout=float(config.RESPONSE_TIMEOUT),
            drain_idle_grace=float(config.DRAIN_IDLE_GRACE),
            max_url=max_url,
            max_header_size=max_header_size,
            max_headers=int(config.REQUEST_MAX_HEADERS),
            max_head=max_url + max_header_size + 1024,
            max_body=int(config.REQUEST_MAX_SIZE),
            pipeline=max(1, int(config.REQUEST_MAX_PIPELINE)),
        )

    def timeouts(self, *, draining: bool) -> dict[ConnState, float]:
        """The timer of each connection state (an idle one is short while draining)."""
        return timers(
            keep_alive=self.keep_alive_timeout,
            request=self.request_timeout,
            response=self.response_timeout,
            drain_idle_grace=self.drain_idle_grace,
            draining=draining,
        )

    def tick(self, *, draining: bool = False) -> float:
        """How often timers are checked: often enough for the shortest timeout in force."""
        shortest = min(self.keep_alive_timeout, self.request_timeout, self.response_timeout)
        if draining:
            shortest = min(shortest, self.drain_idle_grace)
        return max(0.05, min(1.0, shortest / 4))


class HttpServer:
    """An app served on one listening socket inside the running event loop.

    The socket stays the caller's: the server listens on a duplicate and never closes
    the original, so other processes sharing it keep accepting while this one drains.
    With ``close_listener=True`` (what ``app.run`` uses, as the only server on its
    socket), a stop also serves the connections already waiting in the accept backlog
    and then closes the socket, so that later clients are refused instead of reset.
    """

    held_writes: HeldWrites  # made by start(), on the running loop

    def __init__(
        self,
        app: HttpApp | AsgiApp,
        sock: socket.socket,
        *,
        ssl: _ssl.SSLContext | None = None,
        ready: ReadyCallback | None = None,
        backlog: int | None = None,
        close_listener: bool = False,
    ) -> None:
        self.app = app
        self.sock = sock
        self.close_listener = close_listener
        self.ssl = ssl
        self.ready = ready
        self.backlog = backlog if backlog is not None else int(app.config.BACKLOG)
        self.stats = RequestStats()
        # An app that writes its responses itself (ASGI) serves each request through this.
        self.serve_request = getattr(app, "serve_request", None)
        self.clock = Clock(str(app.config.SERVER_NAME))
        self.limits = Limits.from_config(app.config)
        self.access_log = AccessLog(app.config.ACCESS_LOG_FORMAT)
        self.draining = False
        self.websocket_close_code = 1001
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._accepting_stopped = False
        self._connections: set[HttpProtocol] = set()
        # The requests' tasks: an app may still run after its response is written.
        self._tasks: set[asyncio.Task[None]] = set()
        self._tasks_pruned_at = 64  # run_task drops the done ones past this many
        # Accepted by the loop but not made yet (connection_made is queued, or a TLS
        # handshake runs): the drain waits for them. Weak, so a failed handshake leaves none.
        self._accepted: weakref.WeakSet[HttpProtocol] = weakref.WeakSet()
        self._no_connections = asyncio.Event()
        self._closed = asyncio.Event()
        self._stopping: asyncio.Task[None] | None = None
        self._tick_handle: asyncio.TimerHandle | None = None
        self._port: int | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop this server runs in (set by ``start``)."""
        if self._loop is None:
            raise ServerError("The server is not started: await server.start() first")
        return self._loop

    @property
    def port(self) -> int:
        """The port the socket listens on (0 for a Unix socket)."""
        if self._port is None:
            name = self.sock.getsockname()
            self._port = int(name[1]) if isinstance(name, tuple) else 0
        return self._port

    async def start(self) -> None:
        """Run before_server_start, accept connections, call ``ready``, run after_server_start."""
        if self._loop is not None:
            raise ServerError("This server was already started; create a new HttpServer")
        self._loop = loop = asyncio.get_running_loop()
        _ = self.port  # remembered: the socket may be closed by the time someone asks
        self.limits = Limits.from_config(self.app.config)
        self.clock = Clock(str(self.app.config.SERVER_NAME))
        self.held_writes = HeldWrites(loop)
        self.access_log = AccessLog(self.app.config.ACCESS_LOG_FORMAT)
        await self.app.dispatch("before_server_start", loop)
        try:
            listening = self.sock.dup()
            try:
                self._server = await loop.create_server(
                    self._accept,
                    sock=listening,
                    ssl=self.ssl,
                    backlog=self.backlog,
                    ssl_handshake_timeout=self.limits.request_timeout if self.ssl else None,
                )
            except BaseException:
                listening.close()
                raise
            self._tick_handle = loop.call_later(self.limits.tick(), self._tick)
            if self.ready is not None:
                result = self.ready()
                if inspect.isawaitable(result):
                    await result
            await self.app.dispatch("after_server_start", loop)
        except BaseException:
            # Release what before_server_start set up, as a normal stop would.
            self.draining = True
            await self._close_now()
            await self._dispatch_safely("before_server_stop")
            await self._dispatch_safely("after_server_stop")
            self._closed.set()
            raise

    def _tick(self) -> None:
        """Refresh the Date header and fire expired connection timers."""
        self.clock.tick()
        loop = self.loop
        now = loop.time()
        for conn in list(self._connections):
            try:
                conn.check_timeout(now)
            except Exception:  # one broken connection must not stop every timer
                logger.exception("Checking a connection's timers failed; aborting it")
                conn.abort()
        self._tick_handle = loop.call_later(self.limits.tick(draining=self.draining), self._tick)

    def _accept(self) -> HttpProtocol:
        """The protocol factory: the loop calls it when it accepts a connection."""
        conn = HttpProtocol(self)
        self._accepted.add(conn)
        return conn

    def connection_made(self, conn: HttpProtocol) -> None:
        """Called by a protocol when its connection opens."""
        self._accepted.discard(conn)
        self._connections.add(conn)
        self.stats.connections += 1
        self._no_connections.clear()

    def connection_lost(self, conn: HttpProtocol) -> None:
        """Called by a protocol when its connection is gone."""
        self._accepted.discard(conn)
        if conn in self._connections:
            self._connections.discard(conn)
            self.stats.connections -= 1
        if not self._connections:
            self._no_connections.set()

    async def stop(
        self, graceful_timeout: float | None = None, *, websocket_close_code: int = 1001
    ) -> None:
        """Stop gracefully: stop accepting, drain within ``graceful_timeout``, run stop listeners.

        Open WebSockets are closed with ``websocket_close_code`` (1001 going away; 1012
        service restart, for a reload).

        In-flight requests complete; a busy keep-alive connection gets its response with
        ``Connection: close``; an idle one answers what arrives during ``DRAIN_IDLE_GRACE``
        with ``Connection: close``, then closes. Whatever remains after the timeout
        (default ``GRACEFUL_SHUTDOWN_TIMEOUT``) is aborted. Safe to call more than once.
        """
        if self._loop is None:
            raise ServerError("The server is not started; there is nothing to stop")
        if self._stopping is None:
            if graceful_timeout is None:
                graceful_timeout = float(self.app.config.GRACEFUL_SHUTDOWN_TIMEOUT)
            self.websocket_close_code = websocket_close_code
            self._stopping = self._loop.create_task(self._drain(graceful_timeout))
        await asyncio.shield(self._stopping)

    def run_task(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run a request's coroutine in a task the stop waits for (then cancels)."""
        loop = self._loop  # not the property: this runs for every ASGI request
        assert loop is not None, "run_task on a server that is not started"
        task = loop.create_task(coro)
        tasks = self._tasks
        tasks.add(task)
        # Done tasks are dropped whenever the set has doubled since the last time, rather
        # than by a done callback each (a callback costs a loop turn per request).
        if len(tasks) > self._tasks_pruned_at:
            self._tasks = tasks = {running for running in tasks if not running.done()}
            self._tasks_pruned_at = max(64, 2 * len(tasks))
        return task

    def stop_accepting(self) -> None:
        """Take no new connection from now on, before returning; ``stop`` still drains.

        For a process that hands the socket to another at a precise moment: nothing is
        accepted once this returns, and nothing accepted is lost.
        """
        server = self._server
        if server is None or self._accepting_stopped:
            return
        self._accepting_stopped = True
        if not isinstance(server, asyncio.Server):  # uvloop makes its transports at once
            server.close()
            return
        # asyncio's own loop makes the transport of an accepted socket in a task, a loop
        # turn later; were the server closed before, that transport would fail and its
        # client would hang. So: no more accepts now, the close after those tasks ran.
        for listening in server.sockets:
            self.loop.remove_reader(listening.fileno())
        self.loop.call_soon(server.close)

    async def _drain(self, graceful_timeout: float) -> None:
        self.draining = True
        assert self._server is not None
        self.stop_accepting()
        if self.close_listener:
            await asyncio.sleep(0)  # the listener's own socket closes first (stop_accepting)
            await self._serve_backlog()
        deadline = self.loop.time() + graceful_timeout
        await self._dispatch_safely("before_server_stop")
        for conn in list(self._connections):
            conn.begin_drain(self.websocket_close_code)
        await self._wait_for_accepted(deadline)  # they begin draining once made
        if self._connections:
            try:
                await asyncio.wait_for(
                    self._no_connections.wait(), max(0.0, deadline - self.loop.time())
                )
            except asyncio.TimeoutError:
                logger.warning(
                    "%d connection(s) still busy after the %.1f s graceful timeout: closing them",
                    len(self._connections),
                    graceful_timeout,
                )
        if self._tasks:  # apps that still run after their response (e.g. Django's signals)
            await asyncio.wait(set(self._tasks), timeout=max(0.0, deadline - self.loop.time()))
        await self._close_now()
        await self._dispatch_safely("after_server_stop")
        self._closed.set()

    async def _wait_for_accepted(self, deadline: float) -> None:
        """Let every connection the loop accepted before the listener closed be made.

        A plain accept is made within a loop turn or two; a TLS one after its handshake,
        which ``ssl_handshake_timeout`` bounds. One that fails vanishes from the weak set.
        """
        loop = self.loop
        await asyncio.sleep(0)  # asyncio creates accepted transports in a task
        await asyncio.sleep(0)
        while self._accepted and loop.time() < deadline:  # noqa: ASYNC110 - a weak set cannot signal
            await asyncio.sleep(0.005)

    async def _serve_backlog(self, limit: int = 4096) -> None:
        """Take over the connections queued on the socket, then close it; they drain like the rest.

        The last accept and the close happen with no await between them: a connection that
        reaches the queue meanwhile would be reset by the close instead of answered.
        """
        loop = self.loop
        queued: list[socket.socket] = []
        for _ in range(limit):
            try:
                conn, _ = self.sock.accept()
            except OSError:  # BlockingIOError when the queue is empty
                break
            queued.append(conn)
        self.sock.close()
        pending = []
        for conn in queued:
            conn.setblocking(False)
            pending.append(
                loop.connect_accepted_socket(lambda: HttpProtocol(self), conn, ssl=self.ssl)
            )
        for outcome in await asyncio.gather(*pending, return_exceptions=True):
            if isinstance(outcome, BaseException):
                logger.warning("A queued connection failed while draining: %s", outcome)

    async def _close_now(self) -> None:
        if self._tick_handle is not None:
            self._tick_handle.cancel()
            self._tick_handle = None
        for conn in list(self._connections):
            conn.abort()
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:  # a task left pending would be destroyed with the loop, mid-await
            await asyncio.wait(tasks, timeout=1.0)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._connections:
            try:
                await asyncio.wait_for(self._no_connections.wait(), 1.0)
            except asyncio.TimeoutError:
                logger.warning("%d connection(s) did not close", len(self._connections))

    async def _dispatch_safely(self, event: str) -> None:
        try:
            await self.app.dispatch(event, self._loop)
        except Exception:
            logger.exception("A %s listener failed; the server keeps stopping", event)

    async def wait_closed(self) -> None:
        """Wait until the server has stopped (after ``stop`` completes)."""
        await self._closed.wait()

    @property
    def closed(self) -> bool:
        """True once ``stop`` has completed."""
        return self._closed.is_set()


async def serve(
    app: HttpApp | AsgiApp,
    sock: socket.socket,
    *,
    ssl: _ssl.SSLContext | None = None,
    ready: ReadyCallback | None = None,
    backlog: int | None = None,
    close_listener: bool = False,
) -> HttpServer:
    """Serve ``app`` on the listening ``sock`` in the running loop; return the started server.

    ``ready`` (sync or async) is called once the server accepts connections, before
    after_server_start. Stop it with ``await server.stop(graceful_timeout)``. See
    ``HttpServer`` for ``close_listener``.
    """
    server = HttpServer(
        app, sock, ssl=ssl, ready=ready, backlog=backlog, close_listener=close_listener
    )
    await server.start()
    return server


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop: uvloop's when it is importable, else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop
