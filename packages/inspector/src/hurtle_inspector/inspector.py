"""The ``Inspector``: built-in commands, and the base class of custom ones.

Every public method defined on this class or on a subclass is a command (see
``commands``): ``info`` answers ``GET /``, every other one ``POST /<name>``. A command
reaches the running server through ``self.multiplexer`` (the inspector process's handle
on the worker manager) and reads its configuration from ``self.settings``.

``Inspector`` names its settings by what it reads from them (``Settings``), not by the
``InspectorSettings`` class: that class checks inspector classes, so it imports this module,
and the arrow goes one way only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import msgspec

from hurtle_http import RequestStats
from hurtle_inspector import _info
from hurtle_inspector.errors import InspectorRequestError, InspectorTimeoutError
from hurtle_inspector.schema import (
    MAX_WAIT,
    AppInfo,
    InfoResult,
    ReloadBody,
    RestartBody,
    RestartOutcome,
    ScaleBody,
    ScaleOutcome,
    ShutdownOutcome,
    StatsOutcome,
    WorkerStats,
)
from hurtle_worker_manager import CommandError, Multiplexer, Reply
from hurtle_worker_manager.messages import (
    RestartCommand,
    RestartResult,
    ScaleResult,
    StatsResult,
    extend_row,
)

__all__ = ["Inspector", "Settings"]

logger = logging.getLogger("hurtle.inspector")

_QUICK = 10.0  # seconds to wait for commands the manager answers at once (stats, shutdown)
MAX_WAITING = 16
"""Control commands that may wait for their turn; one more is answered 429 at once."""
_http_stats = msgspec.msgpack.Decoder(RequestStats)


class Settings(Protocol):
    """What an inspector reads from its settings: ``InspectorSettings`` is the one kind."""

    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def tls_cert(self) -> str | None: ...
    @property
    def tls_key(self) -> str | None: ...
    @property
    def api_key(self) -> str | None: ...
    @property
    def inspector_class(self) -> str: ...
    @property
    def app_name(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def server(self) -> str: ...
    @property
    def extra(self) -> dict[str, object]: ...
    @property
    def min_ready(self) -> int: ...
    @property
    def metrics_host(self) -> str | None: ...
    @property
    def metrics_port(self) -> int | None: ...
    @property
    def secure(self) -> bool: ...
    def url(self, port: int | None = None) -> str: ...


class Inspector:
    """The inspector's commands. Subclass it and add methods to add commands.

    ``multiplexer`` is the inspector process's ``Multiplexer`` (worker state and commands
    to the manager); ``settings`` is the ``InspectorSettings`` it was started with. A
    subclass that defines ``__init__`` must call ``super().__init__(multiplexer, settings)``.
    Control commands (reload, scale, restart) run one at a time; at most ``MAX_WAITING``
    wait for their turn (more get a 429), and a reload asked for while an identical one
    waits joins it: one restart, every caller answered when it is accepted or done.
    """

    def __init__(self, multiplexer: Multiplexer, settings: Settings) -> None:
        self.multiplexer = multiplexer
        self.settings = settings
        self._control = asyncio.Lock()
        self._waiting = 0
        self._queued_reloads: dict[tuple[bool, bool], asyncio.Future[Any]] = {}
        self._shut_down = False  # a shutdown was accepted: control commands get a 409 here
        self._app_info = AppInfo(
            app=settings.app_name,
            mode=settings.mode,
            server=settings.server,
            python=_info.python_version(),
            platform=_info.python_platform(),
            packages=_info.hurtle_packages(),
            extra=dict(settings.extra),
        )

    def info(self) -> InfoResult:
        """The application and the full worker state (``GET /``)."""
        workers = _info.jsonable(self.multiplexer.workers)
        return InfoResult(info=self._app_info, workers=workers)

    async def reload(self, body: ReloadBody) -> RestartOutcome:
        """Restart every server worker (and other transient process)."""
        key = (body.zero_downtime, body.wait)
        queued = self._queued_reloads.get(key)
        if queued is None:
            queued = self._queued_reloads[key] = self._in_turn(
                lambda: self.multiplexer.restart(
                    all_workers=True, zero_downtime=body.zero_downtime, wait=body.wait
                ),
                "reload",
                joinable=key,
            )
        else:
            logger.info("A reload is already waiting for its turn: this one joins it")
        result = await self._outcome(asyncio.shield(queued), body.wait, body.timeout, "reload")
        assert isinstance(result, RestartResult), result
        return RestartOutcome(result.restarted, body.zero_downtime, body.wait)

    async def restart(self, body: RestartBody) -> RestartOutcome:
        """Restart the named processes (names as listed by ``GET /``)."""
        known = sorted(name for name, entry in self.multiplexer.entries.items() if entry.current)
        unknown = [name for name in body.names if name not in known]
        if unknown:
            raise InspectorRequestError(
                f"No process named {', '.join(unknown)} (known: {', '.join(known)})"
            )
        command = RestartCommand(
            names=tuple(dict.fromkeys(body.names)), zero_downtime=body.zero_downtime, wait=body.wait
        )
        turn = self._in_turn(lambda: self.multiplexer.send_command(command), "restart")
        result = await self._outcome(asyncio.shield(turn), body.wait, body.timeout, "restart")
        assert isinstance(result, RestartResult), result
        return RestartOutcome(result.restarted, body.zero_downtime, body.wait)

    async def scale(self, body: ScaleBody) -> ScaleOutcome:
        """Run exactly ``replicas`` server workers (1 to the manager's maximum)."""
        maximum = self.multiplexer.max_workers
        if maximum and body.replicas > maximum:
            raise InspectorRequestError(
                f"Cannot scale to {body.replicas} workers: choose 1 to {maximum}"
            )
        turn = self._in_turn(lambda: self.multiplexer.scale(body.replicas, wait=body.wait), "scale")
        result = await self._outcome(asyncio.shield(turn), body.wait, body.timeout, "scale")
        assert isinstance(result, ScaleResult), result
        return ScaleOutcome(result.replicas, result.workers, body.wait)

    async def shutdown(self) -> ShutdownOutcome:
        """Stop the whole server gracefully (this inspector included)."""
        self._refuse_when_shutting_down()
        await self._outcome(self.multiplexer.terminate(), False, _QUICK, "shutdown")
        self._shut_down = True
        return ShutdownOutcome()

    async def stats(self) -> StatsOutcome:
        """Pid, state, generation, uptime, RSS, CPU time and HTTP counters of every process."""
        result = await self._outcome(self.multiplexer.stats(), False, _QUICK, "stats")
        assert isinstance(result, StatsResult), result
        entries = self.multiplexer.entries
        workers = {}
        for row in result.processes:
            entry = entries.get(row.name)
            workers[row.name] = extend_row(
                row,
                WorkerStats,
                http=_decode_http(row.reports.get("http")),
                failed=entry.failed if entry is not None else None,
            )
        for name, entry in entries.items():  # a failed slot waiting for its next try
            if entry.failed is not None and name not in workers:
                workers[name] = extend_row(
                    entry, WorkerStats, uptime=0.0, rss=None, cpu_seconds=None, http=None
                )
        return StatsOutcome(workers=workers)

    def _refuse_when_shutting_down(self) -> None:
        """The manager's own refusal, given here once a shutdown began: the manager may
        already be past answering, and a caller must get the documented 409, not a hang."""
        if self._shut_down or self.multiplexer.phase in ("draining", "stopping"):
            raise CommandError("The server is shutting down")

    def _in_turn(
        self,
        send: Callable[[], Reply],
        action: str,
        joinable: tuple[bool, bool] | None = None,
    ) -> asyncio.Future[Any]:
        """Send a control command once the previous ones got their answer; its answer.

        Raises a 429 ``InspectorRequestError`` when ``MAX_WAITING`` commands already wait.
        A ``joinable`` reload can be joined until the manager accepted it (until it is sent,
        for a waited one, as the manager answers that only once it is done).
        """
        self._refuse_when_shutting_down()
        if self._waiting >= MAX_WAITING:
            raise InspectorRequestError(
                f"Too many control commands are waiting ({MAX_WAITING}): the {action} is "
                "refused; retry once they complete (GET / shows the workers' state)",
                429,
            )
        self._waiting += 1

        def leave() -> None:
            if joinable is not None and self._queued_reloads.get(joinable) is task:
                del self._queued_reloads[joinable]

        async def run() -> Any:
            try:
                await self._control.acquire()
            finally:
                self._waiting -= 1
                if joinable is not None and joinable[1]:
                    leave()  # a waited reload answers when done: joinable until it is sent
            try:
                return await asyncio.wait_for(_wait(send()), MAX_WAIT + 30)
            finally:
                leave()  # a reload answered on acceptance: joinable until it started
                self._control.release()

        task = asyncio.ensure_future(run())
        task.add_done_callback(_retrieve)
        return task

    async def _outcome(
        self, reply: Awaitable[Any], waiting: bool, timeout: float, action: str
    ) -> Any:
        """The manager's answer to ``reply``; a ``CommandError`` passes through."""
        try:
            return await asyncio.wait_for(asyncio.ensure_future(reply), timeout)
        except asyncio.TimeoutError:
            if waiting:
                message = (
                    f"The {action} was accepted but did not complete within {timeout:g} s; "
                    "it goes on in the background. Check GET / for the workers' state."
                )
            else:
                message = f"The manager did not answer the {action} within {timeout:g} s"
            raise InspectorTimeoutError(message) from None


async def _wait(reply: Reply) -> Any:
    return await reply


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Mark a shared answer's error as seen: every caller may have timed out already."""
    if not task.cancelled():
        task.exception()


def _decode_http(payload: msgspec.Raw | None) -> RequestStats | None:
    if payload is None:
        return None
    try:
        return _http_stats.decode(payload)
    except msgspec.DecodeError:
        return None
