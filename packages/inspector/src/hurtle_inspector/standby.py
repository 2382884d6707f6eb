"""The inspector's stand-in: the main process answers the inspector's port while it is down.

Runs in: the main process (in the worker manager's event loop).

The main process holds the inspector's listening socket for its whole life, so that a
respawned inspector serves on the same port. While no inspector instance serves (it
crashed and waits for its respawn, it is starting, or the server shuts down), connections
would wait in that socket's accept queue until their client gives up. ``Standby`` serves
the socket from the main process instead, and answers every request at once, without
authentication and without acting on anything:

- while the server shuts down: ``409`` for a command (``POST``), as the inspector answers a
  command the manager refuses, and ``503`` for ``GET`` (info, ``/health``, ``/ready``);
- otherwise (the inspector starts or restarts): ``503`` with ``Retry-After: 1``.

Feed it the manager's state (``WorkerManager.on_change``). It serves while no inspector
answers: none runs, or a new one has not acked yet, or the server shuts down. The hand-over
has no overlap: the inspector acks before it accepts, and accepts only once a snapshot
shows it acked (``serve_inspector``); the stand-in stops accepting on that same snapshot,
before it is sent (listeners run first). So the two never take connections side by side,
and a connection made during the hand-over waits one snapshot's delivery in the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable

from hurtle_http import Config, HttpApp, HTTPResponse, HttpServer, Request, serve
from hurtle_inspector.service import error_envelope
from hurtle_worker_manager.messages import StateUpdate

__all__ = ["Standby"]

logger = logging.getLogger("hurtle.inspector")

_STOP_TIMEOUT = 2.0


class _StandbyApp(HttpApp):
    """No routes: every request reaches ``error_response``, which gives the stand-in answer."""

    def __init__(self, stopping: Callable[[], bool]) -> None:
        config = Config(
            {
                "ACCESS_LOG": False,
                "SERVER_NAME": "hurtle-inspector",
                "REQUEST_MAX_SIZE": 1024 * 1024,
                "REQUEST_TIMEOUT": 5.0,
                "KEEP_ALIVE": False,
            },
            env_prefix=None,
        )
        super().__init__("InspectorStandby", config=config)
        self.stopping = stopping
        self.served_once = False  # an inspector has answered: it restarts, not starts

    def error_response(self, exc: BaseException, request: Request | None = None) -> HTTPResponse:
        action = (request.path.strip("/") or "info") if request is not None else ""
        if self.stopping():
            if request is not None and request.method == "POST":
                message = "The manager refused: The server is shutting down"
                return error_envelope(action, message, 409)
            return error_envelope(action, "The server is shutting down", 503)
        what = "restarting" if self.served_once else "starting"
        return error_envelope(
            action, f"The inspector is {what}: retry in a moment", 503, {"Retry-After": "1"}
        )


class Standby:
    """Serves ``sock`` with immediate 503/409 answers while ``process`` (the inspector) is down.

    ``stopping`` tells whether the server shuts down (``WorkerManager.stopping``).
    """

    def __init__(
        self,
        sock: socket.socket,
        *,
        ssl_context: ssl.SSLContext | None = None,
        process: str = "Hurtle-Inspector-0",
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        self._sock = sock
        self._ssl = ssl_context
        self._process = process
        self._app = _StandbyApp(stopping)
        self._wanted = False
        self._closed = False
        self._final = False  # the shutdown's last stand: its stop closes the port
        self._server: HttpServer | None = None
        self._retiring: list[HttpServer] = []  # stopped accepting, still draining
        self._task: asyncio.Task[None] | None = None

    @property
    def serving(self) -> bool:
        """Whether the stand-in is accepting connections now (False as soon as it steps aside)."""
        return self._server is not None

    def update(self, state: StateUpdate) -> None:
        """Serve while no inspector answers (none runs, or a new one has not acked yet).

        During a shutdown's pre-stop delay (phase ``draining``) the inspector alone answers,
        ``/ready`` at 503, so probes never flip between the two; past it, the stand-in
        shares the port, so that a command the stopping inspector no longer takes still
        gets its 409.
        """
        entry = state.processes.get(self._process)
        acked = entry is not None and entry.state == "ACKED"
        self._app.served_once = self._app.served_once or acked
        down = not acked or (self._app.stopping() and state.phase != "draining")
        self._want(down)

    def _want(self, serving: bool) -> None:
        if self._closed:
            return
        self._wanted = serving
        if not serving and self._server is not None:
            # Now, not in the task: the snapshot is on its way to the inspector. A server
            # that stopped accepting is never reused: the task drains it, then starts anew.
            server, self._server = self._server, None
            server.stop_accepting()
            self._retiring.append(server)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._apply())

    async def _apply(self) -> None:
        """Start or stop the stand-in until it matches what is wanted (one change at a time)."""
        while self._retiring or (self._server is not None) != self._wanted:
            if self._retiring:
                await self._retiring.pop(0).stop(_STOP_TIMEOUT)
                if not self._closed and not self._wanted:
                    logger.info("The inspector answers its port again")
            elif self._server is None:
                try:  # at shutdown, its stop answers the queue then refuses (no resets)
                    final = self._final or self._app.stopping()
                    self._server = await serve(
                        self._app, self._sock, ssl=self._ssl, close_listener=final
                    )
                except Exception:
                    logger.exception("The inspector's stand-in could not serve its port")
                    return
                logger.info("The main process answers the inspector's port while it is down")
            else:  # it was asked to stop while it started
                server, self._server = self._server, None
                await server.stop(_STOP_TIMEOUT)

    async def take_over(self) -> None:
        """Answer the port for the rest of the shutdown (the manager has stopped).

        Its final stop answers what is queued, then closes the port: refused from then on,
        never a reset.
        """
        self._final = True
        self._want(True)
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
        if self._server is not None:
            self._server.close_listener = True

    async def close(self) -> None:
        """Stop serving for good (before the socket is closed)."""
        self._closed = True
        self._wanted = False
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
        servers, self._retiring = self._retiring, []
        if self._server is not None:
            servers.append(self._server)
            self._server = None
        for server in servers:
            await server.stop(_STOP_TIMEOUT)
