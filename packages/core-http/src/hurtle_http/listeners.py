"""Lifecycle listeners: functions run at named moments of a server's life.

A listener takes ``(app)`` or ``(app, loop)`` and may be sync or async. Start events run in
registration order; stop events (names containing ``stop``) run in reverse order, so what
was set up first is torn down last.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

Listener = Callable[..., "Awaitable[None] | None"]

SERVER_EVENTS: tuple[str, ...] = (
    "before_server_start",
    "after_server_start",
    "before_server_stop",
    "after_server_stop",
)


def _arity(listener: Listener) -> int:
    try:
        params = inspect.signature(listener).parameters.values()
    except (TypeError, ValueError):
        return 1
    positional = [
        p
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return 2
    return min(len(positional), 2)


async def call_listeners(
    listeners: list[Listener], app: Any, loop: asyncio.AbstractEventLoop, *, reverse: bool
) -> None:
    """Call each listener with ``app`` (and ``loop`` if it takes two arguments), in order."""
    for listener in reversed(listeners) if reverse else listeners:
        result = listener(app, loop) if _arity(listener) >= 2 else listener(app)
        if inspect.isawaitable(result):
            await result
