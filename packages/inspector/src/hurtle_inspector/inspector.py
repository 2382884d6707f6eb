"""The ``Inspector``: built-in commands, and the base class of custom ones.

Every public method defined on this class or on a subclass is a command (see
``commands``): ``info`` answers ``GET /``, every other one ``POST /<name>``. A command
reaches the running server through ``self.multiplexer`` (the inspector process's handle
on the worker manager) and reads its configuration from ``self.settings``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import msgspec

from hurtle_http import RequestStats
from hurtle_inspector import _info
from hurtle_inspector.errors import InspectorRequestError, InspectorTimeoutError
from hurtle_inspector.schema import (
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
from hurtle_worker_manager import Multiplexer, Reply
from hurtle_worker_manager.messages import (
    RestartCommand,
    RestartResult,
    ScaleResult,
    StatsResult,
    extend_row,
)

if TYPE_CHECKING:
    from hurtle_inspector.settings import InspectorSettings

__all__ = ["Inspector"]

logger = logging.getLogger("hurtle.inspector")

_QUICK = 10.0  # seconds to wait for commands the manager answers at once (stats, shutdown)
_http_stats = msgspec.msgpack.Decoder(RequestStats)


class Inspector:
    """The inspector's commands. Subclass it and add methods to add commands.

    ``multiplexer`` is the inspector process's ``Multiplexer`` (worker state and commands
    to the manager); ``settings`` is the ``InspectorSettings`` it was started with. A
    subclass that defines ``__init__`` must call ``super().__init__(multiplexer, settings)``.
    Control commands (reload, scale, restart) run one at a time.
    """

    def __init__(self, multiplexer: Multiplexer, settings: InspectorSettings) -> None:
        self.multiplexer = multiplexer
        self.settings = settings
        self._control = asyncio.Lock()
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
        async with self._control:
            reply = self.multiplexer.restart(
                all_workers=True, zero_downtime=body.zero_downtime, wait=body.wait
            )
            result = await self._outcome(reply, body.wait, body.timeout, "reload")
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
        async with self._control:
            reply = self.multiplexer.send_command(command)
            result = await self._outcome(reply, body.wait, body.timeout, "restart")
        assert isinstance(result, RestartResult), result
        return RestartOutcome(result.restarted, body.zero_downtime, body.wait)

    async def scale(self, body: ScaleBody) -> ScaleOutcome:
        """Run exactly ``replicas`` server workers (1 to the manager's maximum)."""
        maximum = self.multiplexer.max_workers
        if maximum and body.replicas > maximum:
            raise InspectorRequestError(
                f"Cannot scale to {body.replicas} workers: choose 1 to {maximum}"
            )
        async with self._control:
            reply = self.multiplexer.scale(body.replicas, wait=body.wait)
            result = await self._outcome(reply, body.wait, body.timeout, "scale")
        assert isinstance(result, ScaleResult), result
        return ScaleOutcome(result.replicas, result.workers, body.wait)

    async def shutdown(self) -> ShutdownOutcome:
        """Stop the whole server gracefully (this inspector included)."""
        await self._outcome(self.multiplexer.terminate(), False, _QUICK, "shutdown")
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

    async def _outcome(self, reply: Reply, waiting: bool, timeout: float, action: str) -> Any:
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


def _decode_http(payload: msgspec.Raw | None) -> RequestStats | None:
    if payload is None:
        return None
    try:
        return _http_stats.decode(payload)
    except msgspec.DecodeError:
        return None
