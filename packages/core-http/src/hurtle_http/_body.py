"""A request body streamed to its handler as it arrives, with flow control.

The protocol feeds chunks in; the handler (native ``request.stream`` or ASGI ``receive()``)
takes them out. While more than ``HIGH_WATER`` bytes wait unread, the connection stops
reading from the socket; it reads again once the handler has taken the buffer below
``LOW_WATER``. A slow app and a fast client therefore never grow memory without bound.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Protocol

# What an app wants done with a request's body, decided when the head arrives.
BUFFER = 0  # read it whole into request.body before the handler runs
DISCARD = 1  # nobody will read it: count it against the limits, keep nothing
STREAM = 2  # run the handler now, hand it the body as it arrives (request.stream)

HIGH_WATER = 256 * 1024
LOW_WATER = 64 * 1024


class ClientDisconnected(ConnectionError):
    """The client went away before the whole body arrived."""


class FlowControl(Protocol):
    """The connection side of a body stream."""

    def pause_body(self) -> None: ...

    def resume_body(self) -> None: ...

    def body_wanted(self) -> None: ...


class BodyStream:
    """The body of one request, read with ``await read()``, ``chunk()`` or ``async for``."""

    __slots__ = (
        "_chunks",
        "_conn",
        "_done",
        "_error",
        "_paused",
        "_size",
        "_waiter",
        "_wanted",
        "trailers",
    )

    def __init__(self, conn: FlowControl) -> None:
        self._conn = conn
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._done = False
        self._error: BaseException | None = None
        self._paused = False
        self._wanted = False
        self._waiter: asyncio.Future[None] | None = None
        self.trailers: list[tuple[bytes, bytes]] = []

    # The protocol's side ---------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """A chunk arrived."""
        self._chunks.append(data)
        self._size += len(data)
        if self._size > HIGH_WATER and not self._paused:
            self._paused = True
            self._conn.pause_body()
        self._wake()

    def finish(self) -> None:
        """The whole body has arrived."""
        self._done = True
        self._wake()

    def fail(self, error: BaseException) -> None:
        """The body will never complete (the client went away, or sent garbage)."""
        if not self._done:
            self._error = error
        self._chunks.clear()
        self._size = 0
        self._wake()

    def discard(self) -> None:
        """The handler is done: drop what is buffered and never buffer again."""
        self._chunks.clear()
        self._size = 0
        if self._paused:
            self._paused = False
            self._conn.resume_body()

    @property
    def complete(self) -> bool:
        """True once every byte of the body has arrived."""
        return self._done

    @property
    def exhausted(self) -> bool:
        """True once the whole body has arrived and been read."""
        return self._done and not self._chunks

    @property
    def disconnected(self) -> bool:
        """True when the body ended with a lost connection."""
        return self._error is not None

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # The handler's side -----------------------------------------------------------------

    async def chunk(self) -> bytes | None:
        """The next piece of the body (None at its end).

        Raises ``ClientDisconnected`` when the client went away, or the ``HTTPException`` a
        bad body earned (e.g. ``PayloadTooLarge``).
        """
        self._want()
        while not self._chunks:
            if self._error is not None:
                raise self._error  # ClientDisconnected, or the 4xx the body earned
            if self._done:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._pop()

    def ready(self) -> bool:
        """True when ``chunk()`` would return at once."""
        return bool(self._chunks) or self._done or self._error is not None

    async def wait(self) -> None:
        """Wait until ``ready()`` (a pending 100 Continue is sent first)."""
        self._want()
        while not (self._chunks or self._done or self._error is not None):
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter

    def take(self) -> bytes | None:
        """What ``chunk()`` gives, without a coroutine: call it only when ``ready()``."""
        self._want()
        if not self._chunks:
            if self._error is not None:
                raise self._error
            if not self._done:
                raise RuntimeError("BodyStream.take() before the stream is ready()")
            return None
        return self._pop()

    def _want(self) -> None:
        if not self._wanted:
            self._wanted = True
            self._conn.body_wanted()  # e.g. send a pending 100 Continue

    def _pop(self) -> bytes:
        data = self._chunks.popleft()
        self._size -= len(data)
        if self._paused and self._size <= LOW_WATER:
            self._paused = False
            self._conn.resume_body()
        return data

    async def read(self) -> bytes:
        """The rest of the body, whole."""
        parts = []
        while (data := await self.chunk()) is not None:
            parts.append(data)
        return b"".join(parts)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        while (data := await self.chunk()) is not None:
            yield data
