"""One HTTP request through an ASGI app: ``HttpCycle`` (``AsgiApp.serve_request`` runs it).

Its ``receive()`` is fed by the request's ``BodyStream`` (flow control: the socket is not
read while the app does not consume); its ``send()`` writes through the protocol, chunked
when the app gives no length, and waits for the transport to drain. Response heads are
checked and encoded once per (status, header fields) and reused.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Iterable, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

from hurtle_http._body import BodyStream, ClientDisconnected
from hurtle_http._senders import copy_file
from hurtle_http._wire import status_line
from hurtle_http.exceptions import HTTPException
from hurtle_http.headers import valid_name, valid_value

if TYPE_CHECKING:
    from hurtle_http.asgi import AsgiApp
    from hurtle_http.protocol import HttpProtocol
    from hurtle_http.request import Request

logger = logging.getLogger("hurtle.error")

Message = MutableMapping[str, Any]

_DISCONNECT: Message = {"type": "http.disconnect"}
# Response header fields already checked (apps send the same few again and again).
_VALID_FIELDS: set[tuple[bytes, bytes]] = set()
# Encoded heads by (status, header fields): most apps send a few heads again and again.
_HEADS: dict[tuple[object, tuple[object, ...]], _Head] = {}
_MAX_CACHED_HEADS = 256
_MAX_CACHED_HEAD = 1024  # bytes: a larger head (cookies, ...) is encoded every time


class HttpCycle:
    """One HTTP request/response through an ASGI app.

    ``send()`` and ``receive()`` are plain methods returning awaitables: an already-done
    future when nothing must wait (the common case: a response written whole, a body already
    here), a coroutine only when they must wait (drain, a body still arriving). Errors are
    raised by the call itself, so ``await send(message)`` raises them as with a coroutine.
    """

    __slots__ = (
        "_disconnect",
        "asgi",
        "body_done",
        "body_error",
        "chunked",
        "complete",
        "conn",
        "disconnected",
        "done",
        "head",
        "keep_alive",
        "length",
        "request",
        "sent",
        "started",
        "status",
        "with_body",
    )

    # Set when the head is written (``_final_head``), read only after it.
    status: int
    length: int | None
    chunked: bool
    keep_alive: bool
    with_body: bool

    def __init__(
        self,
        asgi: AsgiApp,
        conn: HttpProtocol,
        request: Request,
        done: asyncio.Future[None],
    ) -> None:
        self.asgi = asgi
        self.conn = conn
        self.request = request
        self.started = self.complete = self.disconnected = self.body_done = False
        self.body_error: HTTPException | None = None
        self.head: _Head | None = None  # the app's head, until it is written
        self.sent = 0
        self._disconnect: asyncio.Future[None] | None = None
        self.done = done  # what send() returns when nothing must wait (already done)

    def lost(self) -> None:
        """The connection is gone: ``receive()`` answers ``http.disconnect``."""
        self.disconnected = True
        self._wake()

    def _wake(self) -> None:
        waiter, self._disconnect = self._disconnect, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def run(self) -> None:
        asgi = self.asgi
        conn = self.conn
        conn.owner = self
        try:
            result = await asgi.app(asgi.scope(self.request), self.receive, self.send)
        except Exception as exc:
            if self.complete or self.disconnected:
                logger.error("Exception in the ASGI app after its response", exc_info=exc)
                return
            if self.body_error is not None and not conn.head_sent:
                conn.refuse(self.request, self.body_error)  # the app failed on it
                return
            raise  # the protocol answers 500 before the head, closes after it; and logs
        finally:
            if conn.owner is self:
                conn.owner = None
        if result is not None:
            logger.error("The ASGI app returned %r instead of None", result)
        if self.body_error is not None and not conn.head_sent:
            conn.refuse(self.request, self.body_error)
            return
        if not self.complete and not self.disconnected:
            what = "completing" if self.started else "starting"
            raise RuntimeError(f"The ASGI app returned without {what} its response")

    def receive(self) -> Awaitable[Message]:
        """The next ``http.request`` piece, or ``http.disconnect``."""
        request = self.request
        stream = request.stream
        if stream is None:
            if not self.body_done:  # the whole body is here (none, for most such requests)
                self.body_done = True
                return self._ready(
                    {"type": "http.request", "body": request.body, "more_body": False}
                )
        elif not self.body_done and not self.disconnected and stream.ready():
            return self._ready(self._piece(stream))  # e.g. a small body, arrived whole
        return self._receive()

    def _ready(self, message: Message) -> asyncio.Future[Message]:
        ready: asyncio.Future[Message] = self.conn.loop.create_future()
        ready.set_result(message)
        return ready

    async def _receive(self) -> Message:
        stream = self.request.stream
        if not self.body_done and not self.disconnected and stream is not None:
            await stream.wait()
            return self._piece(stream)
        if not self.disconnected and not self.complete:
            # The body is read: wait until the client goes or the response is complete.
            self._disconnect = self.conn.loop.create_future()
            await self._disconnect
        return _DISCONNECT

    def _piece(self, stream: BodyStream) -> Message:
        """The next ``http.request`` message of a streamed body that is ``ready()``."""
        try:
            data = stream.take()
        except ClientDisconnected:
            self.body_done = True
            return _DISCONNECT
        except HTTPException as exc:  # e.g. 413: answered if the app does not answer
            self.body_done = True
            self.body_error = exc
            return _DISCONNECT
        more = data is not None and not stream.exhausted
        if not more:
            self.body_done = True
        return {"type": "http.request", "body": data or b"", "more_body": more}

    def send(self, message: Message) -> Awaitable[None]:
        """Take ``http.response.start``, then ``http.response.body`` pieces (or pathsend)."""
        if self.disconnected:
            return self.done  # as uvicorn: writes to a gone client are dropped
        kind = message.get("type")
        if not self.started:
            if kind != "http.response.start":
                raise RuntimeError(f"Expected ASGI message 'http.response.start', got {kind!r}")
            self.head = _head(message)
            self.started = True
            return self.done
        if self.complete:
            raise RuntimeError(f"Unexpected ASGI message {kind!r} after the response completed")
        if kind == "http.response.body":
            return self._body(message.get("body", b""), message.get("more_body", False))
        if kind == "http.response.pathsend":
            return self._pathsend(str(message["path"]))
        raise RuntimeError(
            f"Expected ASGI message 'http.response.body' or 'http.response.pathsend', got {kind!r}"
        )

    def _final_head(self, head: _Head, more: object, size: int) -> bytes:
        """The head with the framing this response needs (written with the first piece)."""
        self.head = None
        request = self.request
        clock = self.conn.clock
        if head.own_date:
            out = head.fields if head.own_server else head.fields + clock.server_line
        elif head.own_server:
            out = head.fields + clock.date_line
        else:
            out = head.fields + clock.prefix
        status = self.status = head.status
        self.length = length = head.length
        chunked = False
        keep_alive = head.keep_alive and self.conn.keep_alive_for(request)
        # has_body(), inline: HEAD, 1xx, 204 and 304 responses carry none
        self.with_body = with_body = (
            status >= 200 and status != 204 and status != 304 and request.method != "HEAD"
        )
        if not with_body or length is not None:
            pass  # HEAD, 1xx, 204, 304: the head as the app gave it; or its own length
        elif not more and not head.chunked:
            self.length = size
            out += b"content-length: %d\r\n" % size
        elif request.version == "1.1":
            chunked = True
            out += b"transfer-encoding: chunked\r\n"
        else:
            keep_alive = False  # HTTP/1.0: the end of the body is the close
        if not keep_alive:
            out += b"connection: close\r\n"
        elif request.version == "1.0":
            out += b"connection: keep-alive\r\n"
        self.chunked = chunked
        self.keep_alive = keep_alive
        return out + b"\r\n"

    def _body(self, body: bytes, more: object) -> Awaitable[None]:
        # One write per piece: the head goes out with the first one (one send, not two).
        head = self.head
        out = self._final_head(head, more, len(body)) if head is not None else b""
        if body and self.with_body:
            self.sent += len(body)
            if self.length is not None and self.sent > self.length:
                raise RuntimeError(
                    f"The ASGI app sent more than its Content-Length ({self.length} bytes)"
                )
            out += b"%x\r\n%s\r\n" % (len(body), body) if self.chunked else body
        if not more and self.chunked:
            out += b"0\r\n\r\n"
        if out:
            self.conn.write_head(out)  # also marks the head as sent
        if not more:
            self._finish()
            return self.done
        return self._drain()

    async def _drain(self) -> None:
        try:
            await self.conn.drain()
        except ConnectionResetError:
            self.lost()

    def _finish(self) -> None:
        if self.length is not None and self.sent < self.length and self.with_body:
            self.keep_alive = False  # the client waits for bytes that never come: close
        self.complete = True
        if self._disconnect is not None:
            self._wake()
        self.conn.finish_response(self.request, self.status, self.keep_alive, self.sent)

    async def _pathsend(self, path: str) -> None:
        head = self.head
        if head is None:
            raise RuntimeError(
                "'http.response.pathsend' must follow 'http.response.start' (the file is the"
                " whole body)"
            )
        handle = open(path, "rb")  # noqa: SIM115, ASYNC230 - as the native file(): one open
        with handle:
            size = os.fstat(handle.fileno()).st_size
            if head.length is None:  # the file's size, rather than chunks
                head = _with_length(head, size)
            self.conn.write_head(self._final_head(head, False, size))
            assert self.length is not None
            if self.with_body and size:
                await copy_file(self.conn, handle, 0, min(size, self.length), 256 * 1024)
                self.sent = min(size, self.length)
        self._finish()


class _Head:
    """A response head as an app's ``http.response.start`` gave it, checked and encoded."""

    __slots__ = ("chunked", "fields", "keep_alive", "length", "own_date", "own_server", "status")

    def __init__(self, status: int, fields: bytes) -> None:
        self.status = status
        self.fields = fields  # the status line and the app's own fields, framing left out
        self.length: int | None = None
        self.chunked = False
        self.keep_alive = True
        self.own_date = self.own_server = False


def _head(message: Message) -> _Head:
    """The checked, encoded head of an ``http.response.start`` (cached by its content)."""
    status = message["status"]
    fields = tuple(message.get("headers", ()))
    try:
        key = (status, fields)
        head = _HEADS.get(key)
    except TypeError:  # unhashable, e.g. lists as pairs: encoded without the cache
        return _encode_head(int(status), fields)
    if head is None:
        head = _encode_head(int(status), fields)
        if len(head.fields) <= _MAX_CACHED_HEAD:
            if len(_HEADS) >= _MAX_CACHED_HEADS:
                _HEADS.clear()
            _HEADS[key] = head
    return head


def _encode_head(status: int, fields: Iterable[Sequence[bytes]]) -> _Head:
    """Check and encode the status and header fields of an ``http.response.start``."""
    lines = bytearray(status_line(status))
    head = _Head(status, b"")
    for name, value in fields:
        if type(name) is not bytes or type(value) is not bytes:
            name, value = bytes(name), bytes(value)
        if (name, value) not in _VALID_FIELDS:
            if not valid_name(name) or not valid_value(value):
                raise RuntimeError(f"Invalid ASGI response header {name!r}: {value!r}")
            if len(_VALID_FIELDS) < 512:
                _VALID_FIELDS.add((name, value))
        lname = name.lower()
        if lname == b"content-length":
            head.length = int(value)
        elif lname == b"transfer-encoding":
            if value.strip().lower() == b"chunked":
                head.chunked = True
            continue  # the server frames the body itself
        elif lname == b"connection":
            head.keep_alive = head.keep_alive and value.strip().lower() != b"close"
            continue
        elif lname == b"date":
            head.own_date = True
        elif lname == b"server":
            head.own_server = True
        lines += name + b": " + value + b"\r\n"
    head.fields = bytes(lines)
    return head


def _with_length(head: _Head, length: int) -> _Head:
    """``head`` with a Content-Length of ``length`` (a pathsend's file size)."""
    sized = _Head(head.status, head.fields + b"content-length: %d\r\n" % length)
    sized.length = length
    sized.keep_alive = head.keep_alive
    sized.own_date, sized.own_server = head.own_date, head.own_server
    return sized


def completed(loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
    """A future already done (awaiting it returns at once, on any loop)."""
    done: asyncio.Future[None] = loop.create_future()
    done.set_result(None)
    return done
