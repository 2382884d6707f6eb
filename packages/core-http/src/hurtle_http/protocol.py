"""The HTTP/1.1 connection: an asyncio protocol driving httptools, one instance per connection.

The connection's model (states, transitions, timers, expiry actions) is ``_state``; ``_to``
is the only place the state changes. Requests are parsed as bytes arrive; complete ones
wait in a queue (pipelining) and are answered strictly in order. A native handler runs on
the first ``send(None)`` of its coroutine; a Task is created only if it suspends. A request
whose app streams its body (``stream=True`` routes, every ASGI request) is queued when its
head arrives and its body is fed to a ``BodyStream`` with flow control. Timers are
deadlines checked by the server's tick; a move to the same state re-arms its timer, which
happens while the client is still reading our output (a slow reader is not a stalled one).

Its seams live beside it: request building from httptools' callbacks (``_parsing``), the
write sink of responses (``_sink``: ``write_head``, ``write``, ``drain``,
``finish_response``, used by ``_senders``, ``asgi`` and ``websocket``), and the flow
control of streamed bodies (``_body``). This module keeps the state, the pipeline queue,
dispatch, timers, drain and the upgrade to WebSocket.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol, cast

import httptools

from hurtle_http._body import BodyStream, ClientDisconnected
from hurtle_http._eager import Resume
from hurtle_http._parsing import _CONTINUE, _Refused, fields_size
from hurtle_http._sink import ResponseWriting
from hurtle_http._state import (
    CLOSED,
    CLOSING,
    EXPIRY,
    HANDLING,
    IDLE,
    LINGER_TIMEOUT,
    RECEIVING,
    TRANSITIONS,
    UPGRADED,
    ConnState,
    Expiry,
)
from hurtle_http._wire import Clock, encode_response
from hurtle_http.exceptions import (
    BadRequest,
    HeaderFieldsTooLarge,
    HTTPException,
    InternalServerError,
    RequestTimeout,
    ServiceUnavailable,
)
from hurtle_http.request import ConnInfo, Request
from hurtle_http.response import HTTPResponse

if TYPE_CHECKING:
    from hurtle_http.server import HttpServer

access_logger = logging.getLogger("hurtle.access")
error_logger = logging.getLogger("hurtle.error")

__all__ = ["LINGER_TIMEOUT", "ConnState", "HttpProtocol"]


class Lost(Protocol):
    """Something that owns the connection for a while and must hear that it is gone."""

    def lost(self) -> None: ...


class Upgraded(Lost, Protocol):
    """What takes over an upgraded connection (a WebSocket)."""

    def data_received(self, data: bytes) -> None: ...

    def going_away(self, code: int) -> None: ...


class _Detached:
    """The callbacks of a parser whose connection is gone: none."""


# A closed connection swaps its parser for this one, so that the protocol and its parser
# (which holds the protocol's callbacks) do not keep each other alive until a cyclic GC.
_DETACHED_PARSER = httptools.HttpRequestParser(_Detached())


class HttpProtocol(ResponseWriting):
    """Serves HTTP/1.1 on one connection for an ``HttpServer``."""

    # Slots: its ~50 attributes are read on every request (a plain instance of that many
    # attributes falls back to a dict lookup per access).
    __slots__ = (
        "_access_log",
        "_app",
        "_body",
        "_body_paused",
        "_body_size",
        "_buffered",
        "_clock",
        "_conn_info",
        "_continue_pending",
        "_current",
        "_deadline",
        "_discard",
        "_drain_waiter",
        "_draining",
        "_eof",
        "_head_began",
        "_head_bytes",
        "_head_sent",
        "_held",
        "_held_size",
        "_held_writes",
        "_in_head",
        "_in_message",
        "_in_next",
        "_limits",
        "_loop",
        "_max_header_size",
        "_max_headers",
        "_message_started",
        "_parser",
        "_queue",
        "_raw_headers",
        "_read_paused",
        "_read_size",
        "_reading",
        "_rejected",
        "_request",
        "_serve_request",
        "_server",
        "_simple",
        "_state",
        "_stats",
        "_stream",
        "_task",
        "_timeouts",
        "_transport",
        "_upgrade_tail",
        "_upgraded",
        "_upgrading",
        "_url",
        "_write_paused",
        "owner",
    )

    def __init__(self, server: HttpServer) -> None:
        self._server = server
        self._app = server.app
        self._loop = server.loop
        self._limits = server.limits
        self._clock: Clock = server.clock
        self._transport: asyncio.Transport | None = None
        self._conn_info: ConnInfo | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._state = IDLE
        self._deadline = 0.0
        self._queue: deque[Request | HTTPException] = deque()
        self._current: Request | None = None
        self._task: asyncio.Task[None] | None = None
        self._reading = False  # data_received is answering what it read
        self._held: list[bytes] | None = None  # answers held until the turn's reads end
        self._held_size = 0
        self._held_writes = server.held_writes
        self._head_sent = False
        self._in_next = False
        self._rejected = False
        self._eof = False
        self._draining = False
        # True while keep-alive depends on the request alone (no error, EOF or drain).
        self._simple = server.limits.keep_alive
        self._buffered = 0
        self._write_paused = False
        self._read_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        # The access log of this connection (None when it is off: the hot path's one check).
        self._access_log = (
            server.access_log
            if server.app.config.ACCESS_LOG and access_logger.isEnabledFor(logging.INFO)
            else None
        )
        self._timeouts = self._limits.timeouts(draining=False)
        self._stats = server.stats
        self._max_header_size = self._limits.max_header_size
        self._max_headers = self._limits.max_headers
        # The message being parsed (reset by on_message_begin).
        self._in_message = False
        self._in_head = False
        self._continue_pending = False
        self._message_started = 0.0
        self._url = b""
        # The fields of the head being parsed; once it is complete, its trailers (if any).
        self._raw_headers: list[tuple[bytes, bytes]] = []
        self._head_bytes = 0  # raw bytes of the current head received in earlier reads
        self._read_size = 0  # the size of the read being parsed
        self._head_began = False  # the current head began in the read being parsed
        self._request: Request | None = None
        self._body: list[bytes] = []
        self._body_size = 0
        self._discard = False  # the body of the message being parsed is not kept
        self._stream: BodyStream | None = None  # the streamed body being parsed
        self._body_paused = False  # a streamed body's reader is behind: stop reading
        # The app serves requests itself (ASGI): it writes through this protocol.
        self._serve_request: Callable[[HttpProtocol, Request], Awaitable[None]] | None = (
            server.serve_request
        )
        self.owner: Lost | None = None  # told when the connection is lost (ASGI, WebSocket)
        self._upgrading: Request | None = None  # a WebSocket request, its app deciding
        self._upgrade_tail = b""  # bytes that came after its head
        self._upgraded: Upgraded | None = None  # what the bytes go to once upgraded

    # State --------------------------------------------------------------------------------

    def _to(self, state: ConnState, since: float | None = None) -> None:
        """Move to ``state`` and arm its timer (from ``since``, default now)."""
        if state not in TRANSITIONS[self._state]:
            raise RuntimeError(f"Invalid connection transition {self._state} -> {state}")
        self._state = state
        self._deadline = (self._loop.time() if since is None else since) + self._timeouts[state]

    def check_timeout(self, now: float) -> None:
        """Act on an expired timer: close idle, 408 receiving, 503 handling, abort closing."""
        transport = self._transport
        if now < self._deadline or transport is None:
            return
        buffered = transport.get_write_buffer_size()
        progressing = buffered != self._buffered
        self._buffered = buffered
        streaming = self._state is HANDLING and self._head_sent
        if (buffered and progressing) or (streaming and not buffered):
            # The client is still reading our output, or a streamed body is being produced.
            self._to(self._state)
            return
        expiry = EXPIRY[self._state]
        if expiry is Expiry.CLOSE:
            # Idle with nothing left to write: a client keeping its idle connection in a
            # pool never closes its side, and a lingering close would wait the whole
            # LINGER_TIMEOUT for it (a stop or a reload 2 s longer per such connection).
            self._close(linger=bool(buffered))
        elif expiry is Expiry.REQUEST_TIMEOUT:
            self._reject(RequestTimeout("The request was not received in time"))
        elif expiry is Expiry.RESPONSE_TIMEOUT:
            if self._task is not None:
                self._task.cancel()
                self._task = None
            if self._head_sent:
                transport.abort()
            else:
                self._queue.clear()
                current = self._current
                self._abandon_current()
                self._stats.errors += 1
                self._write_error(ServiceUnavailable("The response took too long"), logged=current)
        elif expiry is Expiry.ABORT:
            transport.abort()

    def begin_drain(self, websocket_close_code: int = 1001) -> None:
        """The server is stopping: answer what arrives with ``Connection: close``, then close.

        An open WebSocket is closed with ``websocket_close_code``.
        """
        if self._upgraded is not None:
            self._upgraded.going_away(websocket_close_code)
        self._draining = True
        self._simple = False
        self._timeouts = self._limits.timeouts(draining=True)
        if self._state is IDLE:
            grace = self._loop.time() + self._limits.drain_idle_grace
            self._deadline = min(self._deadline, grace)

    def abort(self) -> None:
        """Close the connection now, whatever it is doing."""
        if self._held is not None:
            self.release_writes()  # as if written at once: what the client may still get
        if self._task is not None:
            self._task.cancel()
        if self._transport is not None:
            self._transport.abort()

    @property
    def head_sent(self) -> bool:
        """Whether the current response's head is written."""
        return self._head_sent

    @property
    def state(self) -> ConnState:
        """The current connection state."""
        return self._state

    # asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        client = (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) else ("", 0)
        here = (str(local[0]), int(local[1])) if isinstance(local, tuple) else ("", 0)
        tls = transport.get_extra_info("sslcontext") is not None
        self._conn_info = ConnInfo(client[0], client[1], here[0], here[1], tls)
        self._server.connection_made(self)
        self._to(IDLE)
        if self._server.draining:
            self.begin_drain(self._server.websocket_close_code)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._state is not CLOSED:
            self._to(CLOSED)
        if self._stream is not None:
            self._stream.fail(ClientDisconnected("The client disconnected"))
            self._stream = None
        self._held = None
        owner, self.owner = self.owner, None
        if owner is not None:
            owner.lost()  # it finishes its task itself (ASGI: http.disconnect)
        elif self._task is not None:
            self._task.cancel()
        self._task = None
        self._abandon_current()
        self._queue.clear()
        self._body = []
        self._request = None
        self._raw_headers = []
        self._parser = _DETACHED_PARSER
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(ConnectionResetError("Connection lost"))
        self._transport = None
        self._server.connection_lost(self)

    def refuse(self, request: Request, exc: HTTPException) -> None:
        """Answer ``request`` (not yet answered) with the error ``exc``, then close."""
        if self._current is request and not self._head_sent:
            self._abandon_current()
            self._write_error(exc, request)

    def _abandon_current(self) -> None:
        if self._current is not None:
            self._stats.in_flight -= 1
            self._current = None

    def eof_received(self) -> bool | None:
        self._eof = True
        self._simple = False
        if self.owner is not None:
            return None  # an ASGI app or WebSocket hears a disconnect (as under uvicorn)
        if self._state is HANDLING or self._queue:
            return True  # half-closed client: send the responses it is owed, then close
        return None

    def data_received(self, data: bytes) -> None:
        if self._upgraded is not None:
            try:
                self._upgraded.data_received(data)
            except Exception:  # never out of data_received: log, close
                error_logger.exception("The upgraded connection failed on its input")
                self.abort()
            return
        if self._rejected or self._state is CLOSING:
            return
        self._read_size = len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            self._rejected = True  # no more HTTP: answer the request (or switch), then close
            self._simple = False
            last = self._queue[-1] if self._queue else None
            if isinstance(last, Request) and last._websocket and self._app.accepts_websocket(last):
                self._upgrading = last
                self._upgrade_tail = data[upgrade.args[0] :] if upgrade.args else b""
            self._update_reading()
        except httptools.HttpParserCallbackError as exc:
            cause = exc.__context__
            if isinstance(cause, _Refused):
                self._refuse(cause.request, cause.refusal)
            elif isinstance(cause, HTTPException):
                self._reject(cause)
            else:
                error_logger.error("Parser callback failed", exc_info=cause)
                self._reject(BadRequest("Malformed request"))
        except httptools.HttpParserError as exc:
            self._reject(BadRequest(f"Malformed request: {exc}"))
        else:
            if self._in_head:
                # A head spanning reads. Count only the current head: when it began in this
                # read, the earlier requests of the read are not part of it (its parsed
                # fields are counted).
                if self._head_began:
                    self._head_began = False
                    self._head_bytes = len(self._url) + fields_size(self._raw_headers)
                else:
                    self._head_bytes += len(data)
                try:
                    if self._head_bytes > self._limits.max_head:
                        raise HeaderFieldsTooLarge("The request head is too large")
                    self.check_partial_head()
                except HTTPException as exc:
                    self._reject(exc)
        if self._queue:
            self._reading = True  # whole answers made now are held (see _sink.HeldWrites)
            try:
                self._next()
            finally:
                self._reading = False
        elif self._in_message and self._state is IDLE:
            self._to(RECEIVING, self._message_started)

    def pause_writing(self) -> None:
        self._write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        waiter, self._drain_waiter = self._drain_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self._current is None and self._queue:
            self._next()
        self._update_reading()

    def _update_reading(self) -> None:
        """Read only while output drains and the pipeline queue has room."""
        transport = self._transport
        if transport is None or self._state is CLOSING:
            return
        pause = (
            self._write_paused
            or self._rejected
            or self._body_paused
            or len(self._queue) >= self._limits.pipeline
        )
        if pause != self._read_paused:
            self._read_paused = pause
            if pause:
                transport.pause_reading()
            else:
                transport.resume_reading()

    def pause_body(self) -> None:
        """A streamed body's reader is behind: stop reading from the socket."""
        self._body_paused = True
        self._update_reading()

    def resume_body(self) -> None:
        """A streamed body's reader caught up: read again."""
        self._body_paused = False
        self._update_reading()

    def body_wanted(self) -> None:
        """A handler started reading its streamed body: send a pending 100 Continue."""
        if self._continue_pending and not self._queue:
            self._continue_pending = False
            self.write(_CONTINUE)

    # Handling -------------------------------------------------------------------------------

    def _next(self) -> None:
        """Start queued requests one at a time, then settle the state and the timers.

        A native handler runs here, on the first ``send(None)`` of its coroutine; a Task is
        created only if it suspends. The other kinds of request (a WebSocket, an ASGI app's)
        run in a Task from the start.
        """
        if self._in_next:
            return
        self._in_next = True
        try:
            while (
                self._current is None
                and self._queue
                and self._transport is not None
                and not self._write_paused
            ):
                request = self._queue.popleft()
                if type(request) is not Request:
                    self._write_error(cast(HTTPException, request))
                    return
                if request._refusal is not None:
                    self._write_error(request._refusal, request)
                    return
                self._to(HANDLING)
                self._current = request
                self._head_sent = False
                self._stats.in_flight += 1
                if request is self._upgrading:
                    self._upgrading = None
                    self._task = self._server.run_task(self._serve_websocket(request))
                    return
                if self._serve_request is not None:
                    self._task = self._server.run_task(self._serve_directly(request))
                    return
                coro = self._app.handle(request)
                try:
                    first = coro.send(None)
                except StopIteration as stop:
                    response = stop.value
                    if type(response) is HTTPResponse:
                        self._send(request, response)
                    else:
                        self._respond(request, response)
                    continue
                except Exception as exc:  # app.handle answers errors itself; a last resort
                    self._fail(request, exc)
                    return
                self._task = self._server.run_task(self._finish(request, Resume(coro, first)))
        finally:
            self._in_next = False
        if self._current is None and self._transport is not None and self._state is not CLOSING:
            if self._state is HANDLING and not self._queue:
                if self._in_message:
                    self._to(RECEIVING, self._message_started)
                else:
                    self._to(IDLE)
            if self._continue_pending:
                self._continue_pending = False
                self.write(_CONTINUE)
            if self._read_paused:
                self._update_reading()

    async def _finish(self, request: Request, pending: Awaitable[HTTPResponse]) -> None:
        try:
            response = await pending
        except Exception as exc:
            self._task = None
            self._fail(request, exc)
            return
        self._task = None
        self._respond(request, response)

    async def _serve_directly(self, request: Request) -> None:
        assert self._serve_request is not None
        # This coroutine's task: run_task returned it before this first step (cheaper than
        # asyncio.current_task(), a Python function on 3.11).
        task = self._task
        try:
            await self._serve_request(self, request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the app adapter answers errors itself; a last resort
            if self._current is request:
                if self._head_sent:
                    error_logger.error("Failed while serving %r", request, exc_info=exc)
                    self._stats.errors += 1
                    self.abort()
                else:
                    self._fail(request, exc)
        finally:
            if self._task is task:
                self._task = None

    async def _serve_websocket(self, request: Request) -> None:
        try:
            await self._app.serve_websocket(self, request)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self._current is request and not self._head_sent:
                self._fail(request, exc)
            else:
                error_logger.error("WebSocket handler failed on %r", request, exc_info=exc)
                self.abort()
        finally:
            if self._task is asyncio.current_task():
                self._task = None
            if self._upgraded is not None and self._state is not CLOSED:
                self._close()

    def upgrade(self, handler: Upgraded, request: Request) -> None:
        """The 101 is written: from now on every byte read goes to ``handler``."""
        if self._transport is None:
            handler.lost()  # the client left while the app decided
            return
        self._to(UPGRADED)
        self._upgraded = self.owner = handler
        self._current = None
        self._stats.served += 1
        self._stats.in_flight -= 1
        if self._access_log is not None:
            self._access_log.log(request, 101, 0)
        self._rejected = False
        self._update_reading()
        tail, self._upgrade_tail = self._upgrade_tail, b""
        if tail:
            self.data_received(tail)
        if self._draining:
            handler.going_away(self._server.websocket_close_code)

    def close_transport(self) -> None:
        """Shut the connection (the write side now, the rest when the peer closes)."""
        self._close()

    def _fail(self, request: Request, exc: Exception) -> None:
        """Error handling itself failed: log it, answer a bare 500 and close."""
        error_logger.error("Unhandled error while handling %r", request, exc_info=exc)
        self._stats.errors += 1
        self._abandon_current()
        self._queue.clear()
        bare = HTTPResponse(
            InternalServerError().message, 500, content_type="text/plain; charset=utf-8"
        )
        self.write(encode_response(bare, self._clock, False))
        if self._access_log is not None:
            self._access_log.log(request, 500, len(bare.body))
        self._close()

    def _refuse(self, request: Request, exc: HTTPException) -> None:
        """An ``on_request_head`` hook refused ``request``: answer in order, read no body."""
        self._rejected = True
        self._simple = False
        self._in_message = self._in_head = False
        self._request = None
        self._update_reading()
        request._refusal = exc
        self._queue.append(request)

    def _reject(self, exc: HTTPException) -> None:
        """Bad input: answer ``exc`` after the responses already owed, then close.

        A streamed body that turns out bad (too large, malformed chunks) is its request's
        answer: the error replaces whatever its handler would have said.
        """
        self._rejected = True
        self._simple = False
        self._in_message = self._in_head = False
        self._stats.bad_requests += 1
        self._update_reading()
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.fail(exc)  # the handler reading it hears why
            current = self._current
            if current is not None and current.stream is stream:
                owner, self.owner = self.owner, None
                if owner is not None:
                    owner.lost()  # an ASGI app hears http.disconnect; its sends are dropped
                if self._head_sent:
                    self.abort()
                else:
                    self.refuse(current, exc)
                return
            # Still queued, never started: the error answers in its place.
            self._queue = deque(
                item
                for item in self._queue
                if not (isinstance(item, Request) and item.stream is stream)
            )
        if self._current is None and not self._queue:
            self._write_error(exc)
        else:
            self._queue.append(exc)

    def _write_error(
        self, exc: HTTPException, request: Request | None = None, logged: Request | None = None
    ) -> None:
        """Answer ``exc`` and close; the access log records it for ``logged or request``
        (a response to no parsed request, e.g. a malformed one, is not recorded)."""
        try:
            response = self._app.error_response(exc, request)
            data = encode_response(response, self._clock, False)
        except Exception as failure:  # a broken error_response override: answer plainly
            error_logger.error("Rendering a %d failed", exc.status_code, exc_info=failure)
            response = HTTPResponse(exc.message, exc.status_code)
            data = encode_response(response, self._clock, False)
        self.write(data)
        logged = logged or request
        if logged is not None and self._access_log is not None:
            self._access_log.log(logged, response.status, len(response.body))
        self._close()

    def _close(self, linger: bool = True) -> None:
        """Shut our side, then discard input until the peer closes (a lingering close).

        The lingering keeps a client's late bytes from making our kernel reset the
        connection, which can destroy the answer it has not read yet. With no answer in
        flight (``linger=False``: an idle connection whose output is all written) the
        connection is closed at once.
        """
        transport = self._transport
        if transport is None or self._state is CLOSING:
            return
        if self._held is not None:
            self.release_writes()
        self._to(CLOSING)
        self._queue.clear()
        if linger and not self._eof and transport.can_write_eof():
            transport.write_eof()
            if self._read_paused:
                self._read_paused = False
                transport.resume_reading()
        else:
            transport.close()
