"""The ASGI lifespan protocol: startup before the server is ready, shutdown after its drain.

Modes: ``on`` (the app must support it: a failure is a ``LifespanError``), ``off`` (never
sent), ``auto`` (as uvicorn: an app that raises or returns before answering the startup
event does not support lifespan, and is served without it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Literal

from hurtle_http.exceptions import LifespanError

logger = logging.getLogger("hurtle.error")

LifespanMode = Literal["auto", "on", "off"]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi3 = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[object]]

SHUTDOWN_TIMEOUT = 30.0


class Lifespan:
    """Runs one ASGI app's lifespan task: ``await startup()``, later ``await shutdown()``."""

    def __init__(self, app: Asgi3, mode: LifespanMode) -> None:
        self.app = app
        self.mode = mode
        self.state: dict[str, Any] = {}
        self.supported = mode != "off"
        self._events: asyncio.Queue[Message] | None = None
        self._answer: asyncio.Future[Message] | None = None
        self._task: asyncio.Task[None] | None = None
        self._answered = False
        self._phase = "startup"

    async def startup(self) -> None:
        """Send ``lifespan.startup`` and wait for the app's answer; raise LifespanError."""
        if self.mode == "off":
            return
        loop = asyncio.get_running_loop()
        self._events = asyncio.Queue()
        self._answer = loop.create_future()
        self._events.put_nowait({"type": "lifespan.startup"})
        self._task = loop.create_task(self._main())
        message = await self._answer
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            return
        if kind == "lifespan.startup.failed":
            reason = message.get("message") or "no reason given"
            raise LifespanError(f"The ASGI app's lifespan startup failed: {reason}")
        # The app ended (raised or returned) without answering the startup event.
        error = message.get("error")
        if self.mode == "on":
            cause = f"{type(error).__name__}: {error}" if error else "it returned without answering"
            raise LifespanError(f"The ASGI app does not support lifespan startup: {cause}")
        self.supported = False
        logger.info("The ASGI app does not support the lifespan protocol; serving without it")

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown`` and wait (bounded) for the app to finish it."""
        if not self.supported or self._task is None or self._task.done():
            return
        assert self._events is not None
        self._answer = asyncio.get_running_loop().create_future()
        self._answered = False
        self._phase = "shutdown"
        self._events.put_nowait({"type": "lifespan.shutdown"})
        try:
            message = await asyncio.wait_for(self._answer, SHUTDOWN_TIMEOUT)
        except asyncio.TimeoutError:
            logger.error("The ASGI app's lifespan shutdown took over %.0f s", SHUTDOWN_TIMEOUT)
            self._task.cancel()
            return
        if message["type"] == "lifespan.shutdown.failed":
            logger.error("The ASGI app's lifespan shutdown failed: %s", message.get("message", ""))
        elif message.get("error") is not None:
            logger.error("The ASGI app failed in lifespan shutdown", exc_info=message["error"])

    async def _main(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self.app(scope, self._receive, self._send)
        except BaseException as exc:  # an app error is reported, never raised out of the task
            self._reply({"type": "lifespan.ended", "error": exc})
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
        else:
            self._reply({"type": "lifespan.ended", "error": None})

    async def _receive(self) -> Message:
        assert self._events is not None
        return await self._events.get()

    async def _send(self, message: Message) -> None:
        kind = message.get("type")
        expected = _EXPECTED[self._phase]
        if self._answered or kind not in expected:
            raise RuntimeError(
                f"Unexpected ASGI lifespan message {kind!r} during {self._phase}: "
                f"send one of {expected}, once"
            )
        self._reply(message)

    def _reply(self, message: Message) -> None:
        answer = self._answer
        if answer is not None and not answer.done():
            answer.set_result(message)
        self._answered = True


_EXPECTED = {
    "startup": ("lifespan.startup.complete", "lifespan.startup.failed"),
    "shutdown": ("lifespan.shutdown.complete", "lifespan.shutdown.failed"),
}
