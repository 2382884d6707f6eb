"""The ceiling: the least work a server on uvloop and httptools can do per request.

An `asyncio.Protocol` that parses with httptools and writes canned responses (the path
parameter is copied from the URL, the echo body is copied from the request). No router, no
request object, no JSON encoder: no Python server built on these two libraries can beat it,
so the other servers are reported as a fraction of it.

Run: `python ceiling.py PORT`.
"""

from __future__ import annotations

import asyncio
import sys
from typing import cast

import httptools
import uvloop

HOST = "127.0.0.1"


def _response(body: bytes, content_type: bytes) -> bytes:
    """A complete HTTP/1.1 200 response with a content type and a length."""
    head = b"HTTP/1.1 200 OK\r\ncontent-type: %s\r\ncontent-length: %d\r\n\r\n"
    return head % (content_type, len(body)) + body


HELLO = _response(b'{"hello":"world"}', b"application/json")
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
USER_PREFIX = b"/user/"


class CeilingProtocol(asyncio.Protocol):
    """One connection: feed bytes to httptools, answer each complete message."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._url = b""
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport to write responses to."""
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        """Parse; a malformed request closes the connection."""
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.close()

    # httptools callbacks

    def on_message_begin(self) -> None:
        """Reset the per-request state."""
        self._url = b""
        self._body = []

    def on_url(self, url: bytes) -> None:
        """Collect the URL (it may arrive in pieces)."""
        self._url += url

    def on_body(self, body: bytes) -> None:
        """Collect the body (it may arrive in pieces)."""
        self._body.append(body)

    def on_message_complete(self) -> None:
        """Write the answer; close unless the client keeps the connection alive."""
        if self._transport is None:
            return
        self._transport.write(self._answer())
        if not self._parser.should_keep_alive():
            self._transport.close()

    def _answer(self) -> bytes:
        """The response bytes for the current request."""
        if self._url == b"/":
            return HELLO
        if self._url.startswith(USER_PREFIX):
            ident = self._url[len(USER_PREFIX) :]
            if ident.isdigit():
                return _response(b'{"id":%s}' % ident, b"application/json")
        if self._url == b"/echo" and self._parser.get_method() == b"POST":
            return _response(b"".join(self._body), b"application/octet-stream")
        return NOT_FOUND


async def serve(port: int) -> None:
    """Serve on HOST:port until the process is stopped."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(CeilingProtocol, HOST, port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(serve(int(sys.argv[1])))
