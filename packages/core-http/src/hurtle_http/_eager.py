"""Running a coroutine eagerly: step it once inline, hand it to a Task only if it suspends.

Most handlers finish without awaiting anything that blocks. The protocol calls
``coro.send(None)`` itself; on ``StopIteration`` the response is ready and no Task was ever
made. Otherwise ``Resume(coro, first_yield)`` is awaited by a new Task: it passes the value
the coroutine already yielded (an asyncio future) to the Task, then relays every later
send/throw, so the coroutine continues exactly as if a Task had run it from the start.
"""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Resume(Generic[T]):
    """Awaitable that continues a coroutine already started with ``send(None)``."""

    __slots__ = ("_coro", "_first")

    def __init__(self, coro: Coroutine[Any, Any, T], first: Any) -> None:
        self._coro, self._first = coro, first

    def __await__(self) -> Generator[Any, Any, T]:
        coro, value = self._coro, self._first
        while True:
            try:
                sent = yield value
            except BaseException as exc:  # cancellation or an error thrown in by the Task
                try:
                    value = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]
            else:
                try:
                    value = coro.send(sent)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]
