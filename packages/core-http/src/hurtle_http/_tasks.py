"""Background tasks of an app (``app.add_task``): started with the server, cancelled at stop."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from hurtle_http.exceptions import HurtleHttpError

logger = logging.getLogger("hurtle.error")

TaskSource = Coroutine[Any, Any, Any] | Callable[..., Any] | asyncio.Future[Any]


class TaskRegistry:
    """Named tasks of one app; those added before the loop runs start after the server starts."""

    def __init__(self, app: object) -> None:
        self._app = app
        self._pending: list[tuple[TaskSource, str | None]] = []
        self._tasks: dict[str, asyncio.Future[Any]] = {}
        self._count = 0

    def add(self, task: TaskSource, name: str | None = None) -> asyncio.Future[Any] | None:
        """Run ``task`` now in the running loop, or once the server has started."""
        if name is not None and name in self._tasks and not self._tasks[name].done():
            raise HurtleHttpError(f"A task named {name!r} is already running: pick another name")
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._pending.append((task, name))
            return None
        return self._start(task, name)

    def _start(self, task: TaskSource, name: str | None) -> asyncio.Future[Any]:
        if callable(task) and not isinstance(task, asyncio.Future):
            try:
                params = inspect.signature(task).parameters
            except (TypeError, ValueError):
                params = {}  # type: ignore[assignment]
            task = task(self._app) if params else task()
        if not inspect.isawaitable(task):
            raise HurtleHttpError(
                f"add_task() takes a coroutine, a coroutine function or a future, not {task!r}"
            )
        future = asyncio.ensure_future(task)
        self._count += 1
        key = name or f"task-{self._count}"
        self._tasks[key] = future
        future.add_done_callback(self._report)
        return future

    @staticmethod
    def _report(future: asyncio.Future[Any]) -> None:
        if not future.cancelled() and future.exception() is not None:
            logger.error("Background task failed", exc_info=future.exception())

    def start_pending(self) -> None:
        """Start the tasks added before the loop ran (called once the server accepts)."""
        pending, self._pending = self._pending, []
        for task, name in pending:
            self._start(task, name)

    def get(self, name: str) -> asyncio.Future[Any] | None:
        """The task named ``name`` (None when there is none)."""
        return self._tasks.get(name)

    def cancel(self, name: str) -> None:
        """Cancel the task named ``name`` (KeyError-free when it is already done)."""
        task = self._tasks.get(name)
        if task is None:
            raise HurtleHttpError(f"No task named {name!r}")
        task.cancel()

    def purge(self) -> None:
        """Forget the tasks that are done."""
        self._tasks = {k: t for k, t in self._tasks.items() if not t.done()}

    @property
    def names(self) -> list[str]:
        """The names of the tasks not yet done."""
        return [k for k, t in self._tasks.items() if not t.done()]

    async def cancel_all(self, timeout: float = 1.0) -> None:
        """Cancel every running task and wait (bounded) for them to finish."""
        running = [t for t in self._tasks.values() if not t.done()]
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=timeout)
        for source, _ in self._pending:
            if inspect.iscoroutine(source):
                source.close()  # never started: no "never awaited" warning
        self._pending = []
