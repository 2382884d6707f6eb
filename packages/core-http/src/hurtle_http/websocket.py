"""WebSockets on a hurtle-http connection, framed by the sans-I/O layer of ``websockets``.

A ``WebSocket`` takes over a connection whose request asked for an upgrade: ``handshake``
writes the 101 (subprotocol, permessage-deflate, extra headers) and moves the connection to
``UPGRADED``; from then on every byte read goes to the frame parser. Fragments are joined
into messages; pings are answered by the library; the server pings every
``WEBSOCKET_PING_INTERVAL`` and closes with 1011 when no pong comes within
``WEBSOCKET_PING_TIMEOUT``. Messages wait in a queue; while more than ``HIGH_WATER`` bytes
wait unread, the socket is not read. Native handlers (``@app.websocket``) and ASGI
``websocket`` scopes both use this class. ``websockets`` is imported on the first upgrade,
so plain HTTP never pays for it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any, cast

from hurtle_http.exceptions import HurtleHttpError

if TYPE_CHECKING:
    from websockets.frames import Frame

    from hurtle_http.config import Config
    from hurtle_http.protocol import HttpProtocol
    from hurtle_http.request import Request

__all__ = ["WebSocket", "WebSocketClosed"]

logger = logging.getLogger("hurtle.error")

HIGH_WATER = 1024 * 1024
LOW_WATER = 256 * 1024
CLOSE_TIMEOUT = 5.0
_NORMAL = (1000, 1001)


class WebSocketClosed(HurtleHttpError):
    """The WebSocket is closed: ``code`` and ``reason`` say how (1006: connection lost)."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"The WebSocket is closed (code {code}{': ' + reason if reason else ''})")
        self.code = code
        self.reason = reason


class WebSocket:
    """One WebSocket connection: ``await ws.send(...)``, ``await ws.recv()``, ``async for``.

    ``subprotocol`` is the negotiated subprotocol (None when there is none).
    """

    def __init__(self, conn: HttpProtocol, request: Request, config: Config) -> None:
        from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
        from websockets.frames import Opcode
        from websockets.protocol import State
        from websockets.server import ServerProtocol

        self._opcode = Opcode  # the library's names, looked up once per connection
        self._closing_states = (State.CLOSING, State.CLOSED)
        self.request = request
        self.subprotocol: str | None = None
        self.close_code: int | None = None
        self.close_reason = ""
        self._conn = conn
        self._ping_interval = float(config.get("WEBSOCKET_PING_INTERVAL", 20.0) or 0)
        self._ping_timeout = float(config.get("WEBSOCKET_PING_TIMEOUT", 20.0) or 0)
        max_size = config.get("WEBSOCKET_MAX_SIZE", 1024 * 1024)
        compress = bool(config.get("WEBSOCKET_PER_MESSAGE_DEFLATE", True))

        def select(*protocol_and_offered: Any) -> Any:
            return self._chosen  # the handler's (or the ASGI app's) choice

        self._proto = ServerProtocol(
            extensions=[ServerPerMessageDeflateFactory()] if compress else None,
            select_subprotocol=select,
            max_size=int(max_size) if max_size else None,
        )
        self._chosen: str | None = None
        self._messages: deque[str | bytes] = deque()
        self._queued = 0
        self._paused = False
        self._parts: list[bytes] = []
        self._text = False
        self._waiter: asyncio.Future[None] | None = None
        self._pings: dict[bytes, asyncio.Future[None]] = {}
        self._keepalive: asyncio.Task[None] | None = None
        self._lost = False
        self._done: asyncio.Future[None] = conn.loop.create_future()
        self.accepted = False

    # Handshake ---------------------------------------------------------------------------

    @property
    def offered_subprotocols(self) -> list[str]:
        """The subprotocols the client offered, in its order."""
        offered: list[str] = []
        for value in self.request.headers.getall("sec-websocket-protocol"):
            offered.extend(p.strip() for p in value.split(",") if p.strip())
        return offered

    def handshake(
        self, subprotocol: str | None = None, headers: Iterable[tuple[bytes, bytes]] = ()
    ) -> bool:
        """Answer the upgrade with 101 and take the connection; False if the request was bad
        (it was answered with a 4xx and the connection closes)."""
        from websockets.http11 import Request as WsRequest

        request = self.request
        # The library parses the head again (its documented flow; once per connection) so
        # that its parser moves on to frames.
        head = b"GET %s HTTP/1.1\r\n" % request.raw_url
        head += b"".join(b"%s: %s\r\n" % pair for pair in request.raw_headers)
        self._proto.receive_data(head + b"\r\n")
        parsed = self._proto.events_received()
        self._chosen = subprotocol
        response = self._proto.accept(cast("WsRequest", parsed[0]))
        if response.status_code != 101:
            self._proto.send_response(response)
            self._conn.write_head(b"".join(self._proto.data_to_send()))
            self._conn.finish_response(request, response.status_code, False, len(response.body))
            return False
        for name, value in headers:
            key = name.decode("latin-1")
            if key.lower() not in ("sec-websocket-accept", "upgrade", "connection"):
                response.headers[key] = value.decode("latin-1")
        self.subprotocol = response.headers.get("Sec-WebSocket-Protocol")
        self._proto.send_response(response)
        self._conn.write_head(b"".join(self._proto.data_to_send()))
        self.accepted = True
        self._conn.upgrade(self, request)
        if self._ping_interval > 0 and not self._lost:
            self._keepalive = self._conn.loop.create_task(self._ping_loop())
        return True

    # The connection's side ----------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        """Bytes from the client (the connection is UPGRADED)."""
        Opcode = self._opcode
        proto = self._proto
        proto.receive_data(data)
        for event in proto.events_received():
            frame = cast("Frame", event)  # after the handshake, every event is a frame
            opcode = frame.opcode
            if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
                self._text = opcode is Opcode.TEXT
                self._parts = [bytes(frame.data)]
            elif opcode is Opcode.CONT:
                self._parts.append(bytes(frame.data))
            elif opcode is Opcode.PONG:
                waiter = self._pings.pop(bytes(frame.data), None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
                continue
            elif opcode is Opcode.CLOSE:
                closing = proto.close_rcvd
                if closing is not None and self.close_code is None:
                    self.close_code, self.close_reason = int(closing.code), closing.reason
                self._wake()
                continue
            else:
                continue
            if frame.fin:
                self._deliver()
        self._flush()

    def _deliver(self) -> None:
        parts, self._parts = self._parts, []
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        raw = bytes(data)
        message: str | bytes = raw
        if self._text:
            try:
                message = raw.decode("utf-8")
            except UnicodeDecodeError:
                self._proto.fail(1007, "invalid UTF-8 in a text message")
                return
        self._messages.append(message)
        self._queued += len(data)
        if self._queued > HIGH_WATER and not self._paused:
            self._paused = True
            self._conn.pause_body()
        self._wake()

    def _flush(self) -> None:
        conn = self._conn
        for chunk in self._proto.data_to_send():
            if chunk:
                conn.write(chunk)
            else:  # the library's signal: the server closes the TCP connection now
                conn.close_transport()

    def _closing(self) -> bool:
        return self._proto.state in self._closing_states

    def _code(self) -> int:
        proto = self._proto
        if proto.close_rcvd is not None:
            return int(proto.close_rcvd.code)
        if proto.close_sent is not None:
            return int(proto.close_sent.code)
        return 1006

    def lost(self) -> None:
        """The connection is gone."""
        self._lost = True
        if self.close_code is None:
            self.close_code = self._code()
            if self._proto.close_rcvd is not None:
                self.close_reason = self._proto.close_rcvd.reason
        if self._keepalive is not None:
            self._keepalive.cancel()
        for waiter in self._pings.values():
            if not waiter.done():
                waiter.cancel()
        self._pings.clear()
        if not self._done.done():
            self._done.set_result(None)
        self._wake()

    def going_away(self, code: int) -> None:
        """The server is stopping: start the closing handshake with ``code``."""
        if self.accepted and not self._closing() and not self._lost:
            reason = "service restart" if code == 1012 else "server shutting down"
            self._proto.send_close(code, reason)
            self._flush()
            self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # The handler's side -------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once a close frame was sent or received, or the connection is gone."""
        return self._lost or self._closing()

    async def recv(self, timeout: float | None = None) -> str | bytes | None:
        """The next message (str for text, bytes for binary); raises ``WebSocketClosed``.

        With ``timeout`` (seconds), None when no message came in time (as Sanic's).
        """
        if timeout is not None and not self._messages:
            try:
                return await asyncio.wait_for(self._next_message(), timeout)
            except asyncio.TimeoutError:
                return None
        return await self._next_message()

    async def _next_message(self) -> str | bytes:
        while not self._messages:
            if self.closed:
                raise WebSocketClosed(self.close_code or self._code(), self.close_reason)
            self._waiter = self._conn.loop.create_future()
            await self._waiter
        message = self._messages.popleft()
        self._queued -= len(message)
        if self._paused and self._queued <= LOW_WATER:
            self._paused = False
            self._conn.resume_body()
        return message

    async def send(self, data: str | bytes) -> None:
        """Send a text (str) or binary (bytes) message; raises ``WebSocketClosed``."""
        if self.closed:
            raise WebSocketClosed(self.close_code or self._code(), self.close_reason)
        if isinstance(data, str):
            self._proto.send_text(data.encode("utf-8"))
        elif isinstance(data, (bytes, bytearray, memoryview)):
            self._proto.send_binary(data)
        else:
            raise TypeError(f"WebSocket messages are str or bytes, not {type(data).__name__}")
        self._flush()
        try:
            await self._conn.drain()
        except ConnectionResetError:
            pass

    async def ping(self, data: bytes | None = None) -> None:
        """Send a ping and wait for its pong."""
        if self.closed:
            raise WebSocketClosed(self.close_code or self._code(), self.close_reason)
        key = data if data is not None else os.urandom(4)
        waiter = self._pings[key] = self._conn.loop.create_future()
        self._proto.send_ping(key)
        self._flush()
        await waiter

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close with ``code`` and ``reason``, and wait (bounded) for the client's close."""
        if not self.closed:
            self._proto.send_close(code, reason)
            if self.close_code is None:
                self.close_code, self.close_reason = code, reason
            self._flush()
            self._wake()
        if not self._lost:
            try:
                await asyncio.wait_for(asyncio.shield(self._done), CLOSE_TIMEOUT)
            except asyncio.TimeoutError:
                self._conn.abort()

    def fail(self, code: int, reason: str) -> None:
        """Close at once with ``code`` (an error on our side), without waiting."""
        if not self.closed:
            self._proto.fail(code, reason)
            self.close_code, self.close_reason = code, reason
            self._flush()
        self._wake()

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[str | bytes]:
        while True:
            try:
                yield await self._next_message()
            except WebSocketClosed as closed:
                if closed.code in _NORMAL or closed.code == 1005:
                    return
                raise

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self._ping_interval)
            if self.closed:
                return
            try:
                await asyncio.wait_for(self.ping(), self._ping_timeout or None)
            except asyncio.TimeoutError:
                timeout = self._ping_timeout
                logger.info("WebSocket %r: no pong in %.1f s, closing", self.request, timeout)
                self.fail(1011, "keepalive ping timeout")
                return
            except WebSocketClosed:
                return
