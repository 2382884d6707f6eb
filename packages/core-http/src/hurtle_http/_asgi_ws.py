"""One ASGI ``websocket`` scope: connect, accept (or deny), messages both ways, close.

Before ``websocket.accept`` the connection is still HTTP: ``websocket.close`` answers 403,
and the ``websocket.http.response`` extension sends any HTTP response instead. After it,
the ``WebSocket`` (``hurtle_http.websocket``) owns the connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from hurtle_http._wire import status_line
from hurtle_http.headers import valid_name, valid_value
from hurtle_http.websocket import WebSocket, WebSocketClosed

if TYPE_CHECKING:
    from hurtle_http.asgi import AsgiApp
    from hurtle_http.protocol import HttpProtocol
    from hurtle_http.request import Request

logger = logging.getLogger("hurtle.error")

Message = MutableMapping[str, Any]
_CONNECT: Message = {"type": "websocket.connect"}


class WebSocketCycle:
    """The ASGI side of one WebSocket connection."""

    def __init__(self, asgi: AsgiApp, conn: HttpProtocol, request: Request) -> None:
        self.asgi = asgi
        self.conn = conn
        self.request = request
        self.ws = WebSocket(conn, request, asgi.config)
        self.connected = False  # websocket.connect was delivered
        self.denied = False  # answered with HTTP (403 or a denial response)
        self.closed = False  # the app sent websocket.close (after accept)
        self.response_started = False
        self.response_status = 0
        self.response_length: int | None = None
        self.response_sent = 0  # bytes of the denial response's body written
        self.disconnected = False
        self._settled: asyncio.Event | None = None  # accept, denial or loss happened

    def lost(self) -> None:
        """The client went away before the handshake."""
        self.disconnected = True
        self.ws.lost()
        self._settle()

    def _settle(self) -> None:
        if self._settled is not None:
            self._settled.set()

    def scope(self) -> MutableMapping[str, Any]:
        scope = self.asgi.scope(self.request, "websocket")
        scope["subprotocols"] = self.ws.offered_subprotocols
        scope["extensions"] = {"websocket.http.response": {}}
        return scope

    async def run(self) -> None:
        try:
            await self.asgi.app(self.scope(), self.receive, self.send)
        except Exception as exc:
            if self.ws.accepted:
                logger.error("Exception in the ASGI app's WebSocket", exc_info=exc)
                self.ws.fail(1011, "internal error")
                return
            if self.denied or self.disconnected:
                logger.error("Exception in the ASGI app after denying a WebSocket", exc_info=exc)
                return
            raise  # before the handshake: the protocol answers 500 and logs
        if self.ws.accepted:
            await self.ws.close(1000)
        elif not self.denied and not self.disconnected:
            raise RuntimeError("The ASGI app returned without accepting or closing the WebSocket")
        elif self.response_started and not self.denied:
            self.conn.abort()

    async def receive(self) -> Message:
        if not self.connected:
            self.connected = True
            return _CONNECT
        if not self.ws.accepted and not (self.denied or self.disconnected):
            # An app may listen before it accepts (Quart does, in another task): wait for
            # the handshake to be settled, as uvicorn does, instead of failing.
            if self._settled is None:
                self._settled = asyncio.Event()
            await self._settled.wait()
        if not self.ws.accepted:
            return {"type": "websocket.disconnect", "code": 1006, "reason": ""}
        try:
            message = await self.ws._next_message()
        except WebSocketClosed as closed:
            return {"type": "websocket.disconnect", "code": closed.code, "reason": closed.reason}
        if isinstance(message, str):
            return {"type": "websocket.receive", "text": message}
        return {"type": "websocket.receive", "bytes": message}

    async def send(self, message: Message) -> None:
        kind = message.get("type")
        ws = self.ws
        if self.disconnected and not ws.accepted:
            return
        if not ws.accepted and not self.denied:
            if kind == "websocket.accept":
                headers = [(bytes(n), bytes(v)) for n, v in message.get("headers", ())]
                if not ws.handshake(message.get("subprotocol"), headers):
                    self.denied = True  # a malformed upgrade: answered 4xx
                self._settle()
            elif kind == "websocket.close":
                self._deny(403, [], b"")
                self._settle()
            elif kind == "websocket.http.response.start":
                self._start_denial(message)
                self._settle()
            elif kind == "websocket.http.response.body" and self.response_started:
                self._denial_body(message)
            else:
                raise RuntimeError(
                    f"Expected 'websocket.accept', 'websocket.close' or "
                    f"'websocket.http.response.start', got {kind!r}"
                )
        elif self.denied:
            raise RuntimeError(f"Unexpected ASGI message {kind!r}: the WebSocket was denied")
        elif kind == "websocket.send":
            text, data = message.get("text"), message.get("bytes")
            if self.closed or ws.closed:
                raise WebSocketClosed(ws.close_code or 1006, ws.close_reason)
            await ws.send(text if text is not None else (data or b""))
        elif kind == "websocket.close":
            if not self.closed:
                self.closed = True
                await ws.close(int(message.get("code") or 1000), message.get("reason") or "")
        else:
            raise RuntimeError(f"Expected 'websocket.send' or 'websocket.close', got {kind!r}")

    def _deny(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.denied = True
        head = self._head(status, headers) + b"content-length: %d\r\n\r\n" % len(body)
        self.conn.write_head(head + body)
        self.conn.finish_response(self.request, status, False, len(body))

    def _head(self, status: int, headers: list[tuple[bytes, bytes]]) -> bytes:
        head = bytearray(status_line(status))
        head += self.conn.clock.prefix
        for name, value in headers:
            if not valid_name(name) or not valid_value(value):
                raise RuntimeError(f"Invalid ASGI response header {name!r}: {value!r}")
            if name.lower() not in (b"content-length", b"transfer-encoding", b"connection"):
                head += name + b": " + value + b"\r\n"
        return bytes(head) + b"connection: close\r\n"

    def _start_denial(self, message: Message) -> None:
        headers = [(bytes(n), bytes(v)) for n, v in message.get("headers", ())]
        self.response_started = True
        self.response_status = int(message["status"])
        self.conn.write_head(self._head(self.response_status, headers) + b"\r\n")

    def _denial_body(self, message: Message) -> None:
        body = bytes(message.get("body", b""))
        if body:
            self.conn.write(body)  # close-delimited: the connection closes after it
            self.response_sent += len(body)
        if not message.get("more_body", False):
            self.denied = True
            self.conn.finish_response(self.request, self.response_status, False, self.response_sent)
