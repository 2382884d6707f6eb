"""The inspector process: its HTTP app and ``serve_inspector``, the managed-process target.

Requests go through three gates in order: authentication (every path but ``/health`` and
``/ready`` when an API key is set), routing (one route per command of the class's table,
so anything else is a 404 and a wrong method a 405), then argument decoding. Every
answer, errors included, is an envelope of ``schema``.
"""

from __future__ import annotations

import asyncio
import hmac
import inspect
import logging
import socket
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
from hurtle_inspector.commands import Command, command_table, decode_arguments
from hurtle_inspector.errors import InspectorRequestError
from hurtle_inspector.inspector import Inspector
from hurtle_inspector.schema import MAX_WAIT, Envelope, EnvelopeMeta, ErrorEnvelope
from hurtle_inspector.settings import InspectorSettings, load_inspector_class
from hurtle_worker_manager import CommandError, get_multiplexer

__all__ = ["InspectorApp", "build_app", "serve_inspector"]

logger = logging.getLogger("hurtle.inspector")

STOP_TIMEOUT = 5.0
"""Seconds the inspector gives its open requests when it is asked to stop."""

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


def build_app(inspector: Inspector) -> InspectorApp:
    """The HTTP app serving ``inspector``'s commands, ``/health`` and ``/ready``."""
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
    app.commands = sorted(command_table(type(inspector)))
    api_key = inspector.settings.api_key
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
        entries = multiplexer.entries.values()
        if any(entry.server and entry.state == "ACKED" for entry in entries):
            return envelope("ready", "ready")
        return error_envelope("ready", "No server worker is ready", 503)

    app.add_route(health, "/health", ("GET",))
    app.add_route(ready, "/ready", ("GET",))
    for command in command_table(type(inspector)).values():
        app.add_route(_handler(inspector, command), command.path, (command.method,))
    return app


def _handler(inspector: Inspector, command: Command) -> Any:
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


async def serve_inspector(sock: socket.socket, settings: InspectorSettings) -> None:
    """Serve the inspector on the listening ``sock`` until the manager asks it to stop.

    The target of the ``Hurtle-Inspector-0`` managed process: it acks once listening,
    logs ``Inspector listening on http(s)://host:port`` and drains on stop.
    """
    multiplexer = get_multiplexer()
    settings.check()
    inspector = load_inspector_class(settings.inspector_class)(multiplexer, settings)
    app = build_app(inspector)
    stop = asyncio.Event()
    multiplexer.on_stop(stop.set)
    server = await serve(app, sock, ssl=settings.ssl_context(), ready=multiplexer.ack)
    try:
        for warning in settings.exposure_warnings():
            logger.warning("%s", warning)
        logger.info("Inspector listening on %s", settings.url(server.port))
        await stop.wait()
    finally:
        await server.stop(STOP_TIMEOUT)
