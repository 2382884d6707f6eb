"""``request.respond()``: the reference's streaming API, for handlers that write as they go.

::

    @app.get("/feed")
    async def feed(request):
        response = await request.respond(content_type="text/csv")
        for row in rows:
            await response.send(row)
        await response.eof()

A route whose handler mentions ``respond`` runs its handler in a task: the moment the
handler calls ``request.respond()`` the head is sent, and each ``send`` is written (with
backpressure) while the handler goes on. Other routes pay nothing for this.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from hurtle_http.exceptions import HurtleHttpError
from hurtle_http.headers import HeaderSource
from hurtle_http.response import TEXT_TYPE, HTTPResponse, StreamingResponse

if TYPE_CHECKING:
    pass

logger = logging.getLogger("hurtle.error")

_EOF = b""


class ResponseStream(StreamingResponse):
    """A streamed response a handler writes to with ``send`` and ends with ``eof``."""

    __slots__ = ("_ended", "_failure", "_queue")

    def __init__(
        self,
        status: int = 200,
        headers: HeaderSource | None = None,
        content_type: str | None = TEXT_TYPE,
    ) -> None:
        super().__init__(self._pump, status, headers, content_type)
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=4)
        self._ended = False
        self._failure: BaseException | None = None

    async def send(self, data: bytes | str = b"", end_stream: bool | None = None) -> None:
        """Send ``data`` to the client (waits while the client reads slowly)."""
        if self._ended:
            raise HurtleHttpError("This response has ended: send() after eof()")
        if isinstance(data, str):
            data = data.encode()
        if data:
            await self._queue.put(data)
        if end_stream:
            await self.eof()

    async def eof(self) -> None:
        """End the response (also done when the handler returns)."""
        if not self._ended:
            self._ended = True
            await self._queue.put(_EOF)

    async def fail(self, error: BaseException) -> None:
        """The handler failed after ``respond``: the connection is aborted, not ended."""
        self._failure = error
        await self.eof()

    async def _pump(self, response: StreamingResponse) -> None:
        while True:
            data = await self._queue.get()
            if data is _EOF or not data:
                if self._failure is not None:
                    raise HurtleHttpError(
                        "The handler failed after request.respond(): the response is cut short"
                    ) from self._failure
                return
            await self.write(data)


class Responder:
    """Runs one handler that may call ``request.respond()`` (see the module doc)."""

    __slots__ = ("_chosen", "_handler_task", "_stream")

    def __init__(self) -> None:
        self._chosen: asyncio.Future[HTTPResponse] = asyncio.get_running_loop().create_future()
        self._stream: ResponseStream | None = None
        self._handler_task: asyncio.Task[Any] | None = None

    async def respond(
        self,
        response: HTTPResponse | None = None,
        *,
        status: int = 200,
        headers: HeaderSource | None = None,
        content_type: str | None = None,
    ) -> HTTPResponse:
        if self._chosen.done():
            raise HurtleHttpError("request.respond() was already called for this request")
        if response is None:
            response = self._stream = ResponseStream(status, headers, content_type or TEXT_TYPE)
        self._chosen.set_result(response)
        await asyncio.sleep(0)  # let the server send the head
        return response

    async def run(self, call: Callable[[], Awaitable[Any]]) -> Any:
        """The handler's own response, or the one it chose with ``respond``."""
        task = self._handler_task = asyncio.ensure_future(self._finish(call))
        await asyncio.wait({task, self._chosen}, return_when=asyncio.FIRST_COMPLETED)
        if self._chosen.done():
            task.add_done_callback(_log_failure)
            return self._chosen.result()
        self._chosen.cancel()
        return task.result()

    async def _finish(self, call: Callable[[], Awaitable[Any]]) -> Any:
        try:
            result = await call()
        except BaseException as exc:
            if self._stream is not None:
                await self._stream.fail(exc)  # the server aborts the connection and logs it
                return None
            raise
        if self._stream is not None:
            await self._stream.eof()
        return result


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("Handler failed after request.respond()", exc_info=task.exception())


def uses_respond(handler: Callable[..., Any]) -> bool:
    """Whether ``handler`` (or, for a class-based view, one of its methods) calls ``respond``."""
    funcs: list[Any] = [handler]
    view_class = getattr(handler, "view_class", None)
    if view_class is not None:
        funcs += [getattr(view_class, m.lower(), None) for m in view_class.methods()]
    for func in funcs:
        while func is not None and hasattr(func, "__wrapped__"):
            func = func.__wrapped__
        code = getattr(func, "__code__", None)
        if code is not None and "respond" in code.co_names:
            return True
    return False
