"""Signals: named events (``"orders.payment.done"``) that handlers subscribe to.

``@app.signal("a.b.c")`` registers an async (or plain) handler called with the dispatch's
``context`` as keyword arguments; ``await app.dispatch("a.b.c", context={...})`` starts
every matching handler in a task (``inline=True`` waits for them). A part written
``<name>`` matches any value and is passed as ``name``. ``condition`` on a handler must
equal the dispatch's ``where`` for it to run. ``await app.event("a.b.c")`` waits for the
next dispatch of that event.

The server events of the reference are accepted as signals: ``server.init.before``,
``server.init.after``, ``server.shutdown.before`` and ``server.shutdown.after`` run with
the listeners of the same moment (``app`` and ``loop`` in the context). Per-request
signals (``http.lifecycle.*``) are not offered: use middleware.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hurtle_http.exceptions import HurtleHttpError, NotFound

logger = logging.getLogger("hurtle.error")

SignalHandler = Callable[..., "Awaitable[Any] | Any"]

# Server signals of the reference -> hurtle listener events.
SERVER_SIGNALS: dict[str, str] = {
    "server.init.before": "before_server_start",
    "server.init.after": "after_server_start",
    "server.shutdown.before": "before_server_stop",
    "server.shutdown.after": "after_server_stop",
}
_RESERVED = ("http.", "server.", "websocket.")


@dataclass(slots=True)
class _Signal:
    parts: tuple[str, ...]
    handlers: list[tuple[SignalHandler, Mapping[str, Any] | None]] = field(default_factory=list)
    waiters: list[asyncio.Future[dict[str, Any]]] = field(default_factory=list)

    def match(self, parts: list[str]) -> dict[str, str] | None:
        if len(parts) != len(self.parts):
            return None
        params: dict[str, str] = {}
        for mine, theirs in zip(self.parts, parts, strict=True):
            if mine.startswith("<") and mine.endswith(">"):
                params[mine[1:-1]] = theirs
            elif mine != theirs:
                return None
        return params


def _split(event: str) -> list[str]:
    parts = event.split(".")
    if len(parts) != 3 or not all(parts):
        raise HurtleHttpError(
            f"Invalid signal {event!r}: a signal has three dot-separated parts, e.g. "
            "'orders.payment.done'"
        )
    return parts


class SignalRegistry:
    """The signals of one app: handlers by event pattern, dispatch and waiting."""

    def __init__(self) -> None:
        self._signals: dict[str, _Signal] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def add(
        self, handler: SignalHandler, event: str, condition: Mapping[str, Any] | None = None
    ) -> None:
        """Subscribe ``handler`` to ``event`` (custom events only; see the module doc)."""
        if event.startswith(_RESERVED) and event not in SERVER_SIGNALS:
            raise HurtleHttpError(
                f"Signal {event!r} is not offered: custom signals may not start with "
                f"{', '.join(_RESERVED)} (use middleware for per-request hooks)"
            )
        self._entry(event).handlers.append((handler, condition))

    def _entry(self, event: str) -> _Signal:
        entry = self._signals.get(event)
        if entry is None:
            entry = self._signals[event] = _Signal(tuple(_split(event)))
        return entry

    async def dispatch(
        self,
        event: str,
        context: Mapping[str, Any] | None = None,
        where: Mapping[str, Any] | None = None,
        *,
        inline: bool = False,
        fail_not_found: bool = True,
    ) -> asyncio.Task[None] | None:
        """Run the handlers of ``event``; returns their task (None with ``inline=True``)."""
        parts = _split(event)
        calls: list[tuple[SignalHandler, dict[str, Any]]] = []
        found = False
        for entry in self._signals.values():
            params = entry.match(parts)
            if params is None:
                continue
            found = True
            kwargs = {**params, **(context or {})}
            for handler, condition in entry.handlers:
                if condition is None or dict(condition) == dict(where or {}):
                    calls.append((handler, kwargs))
            waiters, entry.waiters = entry.waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(kwargs)
        if not found and fail_not_found:
            raise NotFound(f"Could not find signal {event!r}: register it with @app.signal")
        run = self._run(event, calls)
        if inline:
            await run
            return None
        task = asyncio.get_running_loop().create_task(run)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(self, event: str, calls: list[tuple[SignalHandler, dict[str, Any]]]) -> None:
        for handler, kwargs in calls:
            try:
                result = handler(**kwargs)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                logger.exception("Signal handler %r of %r failed", handler, event)

    async def wait(self, event: str, timeout: float | None = None) -> dict[str, Any]:
        """Wait for the next dispatch of ``event``; returns its context."""
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._entry(event).waiters.append(waiter)
        return await asyncio.wait_for(waiter, timeout)

    def handlers(self, event: str) -> list[SignalHandler]:
        """The handlers registered for exactly ``event``."""
        entry = self._signals.get(event)
        return [handler for handler, _ in entry.handlers] if entry else []
