"""Writing responses: the write sink of ``HttpProtocol``, used by its own in-memory responses
and by the senders of streamed bodies, files (``_senders``), ASGI and WebSockets.

``write_head`` marks the response as started (an error after it aborts instead of answering
500); ``drain`` waits while the transport's buffer is over its high-water mark;
``finish_response`` counts the response, writes its access log record (``_access``) and
moves the connection on (next request, or close). ``HeldWrites`` holds the answers made
while a read is handled until the loop turn's reads are done.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING

from hurtle_http._body import BodyStream
from hurtle_http._parsing import RequestParsing
from hurtle_http._senders import send_file, send_stream
from hurtle_http._wire import Clock, encode_response
from hurtle_http.exceptions import HTTPException
from hurtle_http.request import Request
from hurtle_http.response import FileResponse, HTTPResponse, StreamingResponse

if TYPE_CHECKING:
    from hurtle_http._access import AccessLog
    from hurtle_http.app import HttpApp
    from hurtle_http.asgi import AsgiApp
    from hurtle_http.server import HttpServer, Limits, RequestStats

error_logger = logging.getLogger("hurtle.error")

_MAX_HELD = 64 * 1024
"""Bytes a connection holds at most (see ``HeldWrites``); past them it writes at once."""


class HeldWrites:
    """Answers made while reading, written together once the loop turn's reads are done.

    uvloop writes at once in ``transport.write``: an answer made inside ``data_received``
    leaves, and wakes its client, before the other sockets ready in the same turn are read.
    Held until those reads are done (one callback per turn writes them all), the answers
    of a busy turn leave together and wake each client once per batch: less kernel time per
    request (see ``docs/design-notes.md``). One per server.
    """

    __slots__ = ("_held", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._held: list[ResponseWriting] = []

    def hold(self, conn: ResponseWriting) -> None:
        """``conn`` holds output: write it at the start of the next turn."""
        if not self._held:
            self._loop.call_soon(self._release)
        self._held.append(conn)

    def _release(self) -> None:
        held, self._held = self._held, []
        for conn in held:
            conn.release_writes()


class ResponseWriting(RequestParsing):
    """The response half of ``HttpProtocol`` (which owns every attribute used here).

    The methods below are ``HttpProtocol``'s (see ``RequestParsing`` for the chain).
    """

    def abort(self) -> None:
        raise NotImplementedError

    def _close(self, linger: bool = True) -> None:
        raise NotImplementedError

    def _next(self) -> None:
        raise NotImplementedError

    _app: HttpApp | AsgiApp
    _loop: asyncio.AbstractEventLoop
    _server: HttpServer
    _limits: Limits
    _clock: Clock
    _stats: RequestStats
    _transport: asyncio.Transport | None
    _queue: deque[Request | HTTPException]
    _current: Request | None
    _task: asyncio.Task[None] | None
    _head_sent: bool
    _in_next: bool
    _rejected: bool
    _eof: bool
    _draining: bool
    _simple: bool
    _in_message: bool
    _access_log: AccessLog | None
    _discard: bool
    _stream: BodyStream | None
    _write_paused: bool
    _drain_waiter: asyncio.Future[None] | None
    _reading: bool
    _held: list[bytes] | None
    _held_size: int
    _held_writes: HeldWrites

    @property
    def clock(self) -> Clock:
        """The server's Date/Server header cache."""
        return self._clock

    @property
    def transport(self) -> asyncio.Transport | None:
        """The connection's transport (None once it is lost); held output is written first."""
        if self._held is not None:
            self.release_writes()
        return self._transport

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop serving this connection."""
        return self._loop

    async def drain(self) -> None:
        """Wait while the transport's write buffer is above its high-water mark."""
        if not self._write_paused:
            return
        if self._transport is None:
            raise ConnectionResetError("Connection lost")
        if self._drain_waiter is None:
            self._drain_waiter = self._loop.create_future()
        await self._drain_waiter

    def _respond(self, request: Request, response: HTTPResponse) -> None:
        if self._transport is None or request is not self._current:
            return
        if isinstance(response, (StreamingResponse, FileResponse)):
            self._task = self._server.run_task(self._send_async(request, response))
        else:
            self._send(request, response)

    def keep_alive_for(self, request: Request) -> bool:
        """Whether the connection stays open after the response to ``request``."""
        if not request._keep_alive or ((self._rejected or self._eof) and not self._queue):
            return False
        if not self._limits.keep_alive:
            return False
        return not self._draining or bool(self._queue) or self._in_message

    def _send(self, request: Request, response: HTTPResponse) -> None:
        """Write a response whose body is in memory."""
        transport = self._transport
        if transport is None:
            return
        keep_alive = request._keep_alive and (self._simple or self.keep_alive_for(request))
        try:
            data = encode_response(response, self._clock, keep_alive, request)
        except Exception as exc:  # e.g. a header value with CR/LF, or a status that is no int
            response = self._app.error_response(exc, request)
            data = encode_response(response, self._clock, keep_alive, request)
        if self._reading:  # answered while a read is handled: held until the turn's reads end
            self._hold(data)
        else:
            transport.write(data)
        self.finish_response(request, response.status, keep_alive, len(response.body))

    def _hold(self, data: bytes) -> None:
        held = self._held
        if held is None:
            self._held = [data]
            self._held_size = len(data)
            self._held_writes.hold(self)
        else:
            held.append(data)  # pipelined requests: their answers leave in one write
            self._held_size += len(data)
        if self._held_size > _MAX_HELD:  # large answers: written now, so that the
            self.release_writes()  # transport's flow control sees them (and pauses reading)

    async def _send_async(self, request: Request, response: HTTPResponse) -> None:
        try:
            if isinstance(response, FileResponse):
                await send_file(self, request, response)
            else:
                assert isinstance(response, StreamingResponse)
                await send_stream(self, request, response)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self._head_sent or self._transport is None:
                self._stats.errors += 1
                error_logger.error("Failed while sending %r", request, exc_info=exc)
                self.abort()
            else:
                self._send(request, self._app.error_response(exc, request))
        finally:
            if self._task is asyncio.current_task():
                self._task = None

    def write_head(self, head: bytes) -> None:
        """Write a response head (for senders of streamed bodies)."""
        self._head_sent = True
        if self._held is not None:
            self.release_writes()
        transport = self._transport  # as write(), without a second call on the hot path
        if transport is not None:
            transport.write(head)

    def write(self, data: bytes) -> None:
        """Write bytes to the client (dropped once the connection is gone)."""
        if self._held is not None:
            self.release_writes()
        if self._transport is not None:
            self._transport.write(data)

    def release_writes(self) -> None:
        """Write the answers held while reading (see ``HeldWrites``), before anything else."""
        held, self._held = self._held, None
        if held and self._transport is not None:
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def finish_response(self, request: Request, status: int, keep_alive: bool, size: int) -> None:
        """The response to ``request`` is fully written (``size`` bytes of body): count it,
        log it, then continue or close."""
        stats = self._stats
        stats.served += 1
        stats.in_flight -= 1
        if status >= 500:
            stats.errors += 1
        self._current = None
        stream = request.stream
        if stream is not None and not stream.complete:
            stream.discard()  # nobody reads the rest of this body now
            self._discard = self._stream is stream
        if self._access_log is not None:
            self._access_log.log(request, status, size)
        if not keep_alive:
            self._close()
        elif not self._in_next:
            self._next()
