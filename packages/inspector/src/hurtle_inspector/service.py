"""The inspector process: its HTTP app and ``serve_inspector``, the managed-process target.

Requests go through three gates in order: authentication (every path but ``/health`` and
``/ready`` when an API key is set), routing (one route per command of the class's table,
so anything else is a 404 and a wrong method a 405), then argument decoding. Every
answer, errors included, is an envelope of ``schema``, except ``/metrics`` (the
Prometheus text format). When the server shuts down, the inspector keeps answering
(``/ready`` with 503) until the server workers have drained, so that probes and
scrapers see the drain instead of a refused connection.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import logging
import socket
import time
from typing import Any

import msgspec

from hurtle_http import (
    Config,
    HttpApp,
    HTTPException,
    HTTPResponse,
    MethodNotAllowed,
    NotFound,
    Request,
    Unauthorized,
    raw,
    serve,
)
from hurtle_inspector.commands import CommandMethod, command_table, decode_arguments
from hurtle_inspector.errors import InspectorRequestError
from hurtle_inspector.inspector import Inspector
from hurtle_inspector.metrics import CONTENT_TYPE, render_metrics
from hurtle_inspector.probes import DRAINING_PHASES, is_ready, not_ready_reason
from hurtle_inspector.schema import MAX_WAIT, Envelope, EnvelopeMeta, ErrorEnvelope
from hurtle_inspector.settings import InspectorSettings, load_inspector_class
from hurtle_worker_manager import CommandError, Multiplexer, get_multiplexer
from hurtle_worker_manager.messages import StatsResult

__all__ = ["InspectorApp", "build_app", "serve_inspector"]

logger = logging.getLogger("hurtle.inspector")

STOP_TIMEOUT = 5.0
"""Seconds the inspector gives its open requests when it is asked to stop."""
LINGER_MAX = 300.0
"""The longest the inspector keeps answering probes while the server workers drain."""
HANDOVER_MAX = 5.0
"""The longest the inspector waits for the main process to see its ack before it serves."""
_SCRAPE_TIMEOUT = 5.0

_encode = msgspec.json.Encoder().encode
_JSON = "application/json"
_OPEN_PATHS = frozenset({"/health", "/ready"})


def envelope(action: str, result: object = None, status: int = 200) -> HTTPResponse:
    """A success response carrying ``result``."""
    return raw(_encode(Envelope(EnvelopeMeta(action), result)), status, content_type=_JSON)


def error_envelope(
    action: str,
    message: str,
    status: int,
    headers: dict[str, str] | None = None,
    available: list[str] | None = None,
) -> HTTPResponse:
    """An error response carrying ``message`` (and, for a 404, the ``available`` commands)."""
    body = _encode(ErrorEnvelope(EnvelopeMeta(action), message, available))
    return raw(body, status, headers, content_type=_JSON)


def _action(request: Request | None) -> str:
    if request is None:
        return ""
    return request.path.strip("/") or "info"


class InspectorApp(HttpApp):
    """The inspector's HTTP app: every error, even a malformed request, is an envelope."""

    commands: list[str] = []  # noqa: RUF012 - set per instance by build_app
    stopping: bool = False
    """Set when the inspector was asked to stop: ``/ready`` answers 503 from then on."""

    def error_response(self, exc: BaseException, request: Request | None = None) -> HTTPResponse:
        """The error envelope for ``exc`` (500 with a generic message if unexpected)."""
        action = _action(request)
        if isinstance(exc, NotFound) and request is not None:
            names = ", ".join(self.commands)
            message = f"Unknown command {request.path!r}; available: {names}"
            return error_envelope(action, message, 404, available=self.commands)
        if isinstance(exc, MethodNotAllowed):
            message = (
                f"{action} takes {' or '.join(exc.allowed)}, not {request.method}"
                if request
                else exc.message
            )
            return error_envelope(action, message, 405, exc.headers)
        if isinstance(exc, HTTPException):
            return error_envelope(action, exc.message, exc.status_code, exc.headers)
        logger.error("Inspector failed on %r", request, exc_info=exc)
        return error_envelope(action, "The inspector failed to handle this request", 500)


def build_app(inspector: Inspector, *, metrics_only: bool = False) -> InspectorApp:
    """The HTTP app serving ``inspector``'s commands, ``/health``, ``/ready`` and ``/metrics``.

    ``metrics_only`` builds the app of the separate metrics address (``/metrics`` alone).
    """
    config = Config(
        {
            "ACCESS_LOG": False,
            "SERVER_NAME": "hurtle-inspector",
            "REQUEST_MAX_SIZE": 1024 * 1024,
            "REQUEST_TIMEOUT": 10.0,
            "RESPONSE_TIMEOUT": MAX_WAIT + 30.0,
        },
        env_prefix=None,  # the app's HURTLE_* settings are not the inspector's
    )
    app = InspectorApp("Inspector", config=config)
    app.commands = [] if metrics_only else sorted(command_table(type(inspector)))
    api_key = inspector.settings.api_key
    min_ready = inspector.settings.min_ready
    multiplexer = inspector.multiplexer

    if api_key is not None:
        expected = api_key.encode()

        # On the head: an unauthenticated request is refused before its body is read.
        @app.on_request_head
        def authenticate(request: Request) -> None:
            if request.path in _OPEN_PATHS:
                return
            token = request.token
            given = token.encode("utf-8", "surrogateescape") if token is not None else b""
            if not hmac.compare_digest(given, expected):
                raise Unauthorized(
                    "Missing or wrong API key: send Authorization: Bearer <key>",
                    scheme='Bearer realm="hurtle-inspector"',
                )

    def health(request: Request) -> HTTPResponse:
        return envelope("health", "ok")

    def ready(request: Request) -> HTTPResponse:
        # Probes need no API key, so the answer names nothing: a failed slot (a run-time
        # crash loop) is counted, and `GET /` (authenticated) says which it is.
        entries = multiplexer.entries
        failed = sum(1 for entry in entries.values() if entry.failed is not None)
        reason = not_ready_reason(
            entries, phase=multiplexer.phase, min_ready=min_ready, stopping=app.stopping
        )
        crash_loop = f"{failed} server slot(s) failed (crash loop)"
        if not reason:
            if failed:  # still serving: stay in the pool, but say something is wrong
                return envelope("ready", f"degraded: {crash_loop}")
            return envelope("ready", "ready")
        if failed and not app.stopping and multiplexer.phase not in DRAINING_PHASES:
            reason += f"; {crash_loop}"
        return error_envelope("ready", reason, 503)

    async def metrics(request: Request) -> HTTPResponse:
        try:
            result = await asyncio.wait_for(
                asyncio.ensure_future(multiplexer.stats()), _SCRAPE_TIMEOUT
            )
        except (asyncio.TimeoutError, CommandError) as exc:
            logger.warning("Metrics: the manager did not answer: %s", exc or "timeout")
            return raw(b"# the manager did not answer\n", 503, content_type=CONTENT_TYPE)
        assert isinstance(result, StatsResult), result
        body = render_metrics(
            result,
            multiplexer.entries,
            totals=multiplexer.totals,
            phase=multiplexer.phase,
            ready=_ready(multiplexer, min_ready, app.stopping),
            main=(f"{multiplexer.name.split('-', 1)[0]}-Main", multiplexer.main_pid),
        )
        return raw(body, content_type=CONTENT_TYPE)

    app.add_route(metrics, "/metrics", ("GET",))
    if metrics_only:
        return app
    app.add_route(health, "/health", ("GET",))
    app.add_route(ready, "/ready", ("GET",))
    for command in command_table(type(inspector)).values():
        app.add_route(_handler(inspector, command), command.path, (command.method,))
    return app


def _ready(multiplexer: Multiplexer, min_ready: int, stopping: bool) -> bool:
    return is_ready(
        multiplexer.entries, phase=multiplexer.phase, min_ready=min_ready, stopping=stopping
    )


def _handler(inspector: Inspector, command: CommandMethod) -> Any:
    async def handle(request: Request) -> HTTPResponse:
        logger.info("Inspector action: %s", command.name)
        try:
            args, kwargs = decode_arguments(command, request.body, request.query_args)
            result = command.function(inspector, *args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
        except InspectorRequestError as exc:
            return error_envelope(command.name, exc.message, exc.status)
        except CommandError as exc:
            return error_envelope(command.name, f"The manager refused: {exc}", 409)
        except (Exception, SystemExit) as exc:
            logger.error("Inspector command %s failed", command.name, exc_info=exc)
            message = str(exc) or type(exc).__name__
            return error_envelope(command.name, f"{command.name} failed: {message}", 500)
        try:
            return raw(_encode(Envelope(EnvelopeMeta(command.name), result)), content_type=_JSON)
        except (TypeError, msgspec.EncodeError) as exc:
            message = f"The result of {command.name} cannot be encoded as JSON: {exc}"
            logger.error("%s", message)
            return error_envelope(command.name, message, 500)

    handle.__name__ = f"inspector_{command.name}"
    return handle


async def serve_inspector(
    sock: socket.socket, settings: InspectorSettings, metrics_sock: socket.socket | None = None
) -> None:
    """Serve the inspector on the listening ``sock`` until the manager asks it to stop.

    The target of the ``Hurtle-Inspector-0`` managed process: it acks once ready, accepts
    once the main process has seen the ack (its stand-in has stepped aside by then), logs
    ``Inspector listening on http(s)://host:port`` and drains on stop. With
    ``metrics_sock``, ``/metrics`` is also served there (same TLS and API key).
    """
    multiplexer = get_multiplexer()
    settings.check()
    inspector = load_inspector_class(settings.inspector_class)(multiplexer, settings)
    apps = [build_app(inspector)]
    stop = asyncio.Event()

    def on_stop() -> None:
        for app in apps:
            app.stopping = True
        stop.set()

    multiplexer.on_stop(on_stop)
    context = settings.ssl_context()
    servers = []
    if metrics_sock is not None:
        apps.append(build_app(inspector, metrics_only=True))
        servers.append(await serve(apps[1], metrics_sock, ssl=context))
    multiplexer.ack()  # ready; it accepts once the main process's stand-in has stepped aside
    await _until_acked(multiplexer, stop)
    if stop.is_set():  # stopped before it served: nothing to hand back, nothing to drain
        await asyncio.gather(*(item.stop(STOP_TIMEOUT) for item in servers))
        return
    server = await serve(apps[0], sock, ssl=context)
    servers.insert(0, server)
    try:
        for warning in settings.exposure_warnings():
            logger.warning("%s", warning)
        where = sock.getsockname() if sock.family == socket.AF_UNIX else settings.url(server.port)
        logger.info("Inspector listening on %s", where)
        if metrics_sock is not None:
            logger.info("Inspector metrics on %s", _where(metrics_sock, settings.secure))
        await stop.wait()
        await _linger(multiplexer)
    finally:
        await asyncio.gather(*(item.stop(STOP_TIMEOUT) for item in servers))


async def _until_acked(multiplexer: Multiplexer, stop: asyncio.Event) -> None:
    """Wait until a state snapshot shows this process acked, before accepting on the port.

    The main process's stand-in (``Standby``) stops accepting on that snapshot before it
    is sent, so the two never answer side by side. Bounded by ``HANDOVER_MAX``; a stop
    ends the wait at once (the snapshot may never show the ack: the process was stopped).
    """
    deadline = time.monotonic() + HANDOVER_MAX
    pid = multiplexer.pid
    while not stop.is_set() and not any(
        entry.pid == pid and entry.state == "ACKED" for entry in multiplexer.entries.values()
    ):
        if time.monotonic() > deadline:
            logger.warning("No state from the main process within %.0f s; serving", HANDOVER_MAX)
            return
        await asyncio.sleep(0.002)


async def _linger(multiplexer: Multiplexer) -> None:
    """While the whole server shuts down, keep answering until no server worker is left."""
    deadline = time.monotonic() + LINGER_MAX
    while time.monotonic() < deadline and multiplexer.phase in DRAINING_PHASES:
        live = [
            entry
            for entry in multiplexer.entries.values()
            if entry.server and entry.state in ("STARTED", "ACKED", "TERMINATED")
        ]
        if not live:
            return
        await asyncio.sleep(0.05)


def _where(sock: socket.socket, secure: bool) -> str:
    name = sock.getsockname()
    if not isinstance(name, tuple):
        return str(name)
    host = f"[{name[0]}]" if ":" in name[0] else name[0]
    return f"{'https' if secure else 'http'}://{host}:{name[1]}"
