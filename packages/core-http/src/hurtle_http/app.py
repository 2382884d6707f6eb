"""The application: routes, middleware, exception handlers, listeners, config and ``run``."""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import traceback
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from hurtle_http import _tasks
from hurtle_http import log as _log
from hurtle_http._body import BUFFER, DISCARD, STREAM
from hurtle_http._decorators import ShorthandDecorators
from hurtle_http._framework import FrameworkMixin
from hurtle_http._mypyc import mypyc_attr
from hurtle_http._respond import Responder, uses_respond
from hurtle_http._serving import ServingMixin
from hurtle_http.blueprints import Blueprint
from hurtle_http.config import Config
from hurtle_http.exceptions import (
    HTTPException,
    HurtleHttpError,
    UpgradeRequired,
)
from hurtle_http.listeners import SERVER_EVENTS, Listener, call_listeners
from hurtle_http.request import ConnInfo, Request
from hurtle_http.response import HTTPResponse, json, text
from hurtle_http.router import HTTP_METHODS, Handler, Route, Router
from hurtle_http.signals import SERVER_SIGNALS, SignalRegistry
from hurtle_http.websocket import WebSocket, WebSocketClosed

if TYPE_CHECKING:
    from hurtle_http.protocol import HttpProtocol

logger = logging.getLogger("hurtle.error")
server_logger = logging.getLogger("hurtle.server")

F = TypeVar("F", bound=Callable[..., Any])
HeadHook = Callable[[Request], None]
RequestMiddleware = Callable[[Request], "Awaitable[HTTPResponse | None] | HTTPResponse | None"]
ResponseMiddleware = Callable[
    [Request, HTTPResponse], "Awaitable[HTTPResponse | None] | HTTPResponse | None"
]
ErrorHandler = Callable[[Request, Exception], "Awaitable[HTTPResponse] | HTTPResponse"]


async def _run_responding(route: Route, request: Request, params: dict[str, Any]) -> Any:
    """Run a handler that may call ``request.respond()`` (see ``hurtle_http._respond``)."""
    responder = request._responder = Responder()

    async def call() -> Any:
        result: Any = route.handler(request, **params)  # whatever the app returns
        if inspect.isawaitable(result):
            result = await result
        return result

    return await responder.run(call)


def _is_async(func: Callable[..., Any]) -> bool:
    while isinstance(func, functools.partial):
        func = func.func
    return inspect.iscoroutinefunction(inspect.unwrap(func))


@mypyc_attr(allow_interpreted_subclasses=True)
class HttpApp(FrameworkMixin, ServingMixin, ShorthandDecorators):
    """An HTTP application: register handlers with decorators, then ``run`` or ``serve`` it.

    Subclasses may extend ``listener_events`` (new lifecycle event names) and
    ``config_class`` (a ``Config`` subclass with more defaults).
    """

    listener_events: ClassVar[tuple[str, ...]] = SERVER_EVENTS
    config_class: ClassVar[type[Config]] = Config

    def __init__(
        self,
        name: str,
        *,
        config: Config | None = None,
        strict_slashes: bool = False,
        log_config: Mapping[str, Any] | None = None,
        configure_logging: bool = False,
    ) -> None:
        """``strict_slashes=False`` (default) lets routes answer with or without a trailing
        slash; ``log_config`` (a ``dictConfig`` mapping, see ``hurtle_http.log``) is applied
        now, as is ``LOGGING_CONFIG_DEFAULTS`` with ``configure_logging=True``."""
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise HurtleHttpError(
                f"Invalid app name {name!r}: use letters, digits, '_' and '-' only"
            )
        self.name = name
        self.config: Config = config if config is not None else self.config_class()
        self.ctx = SimpleNamespace()
        self.router = Router()
        self._head_hooks: list[HeadHook] = []
        self._request_middleware: list[tuple[RequestMiddleware, bool]] = []
        self._response_middleware: list[tuple[ResponseMiddleware, bool]] = []
        self._error_handlers: dict[type[BaseException], ErrorHandler] = {}
        self._listeners: dict[str, list[Listener]] = {e: [] for e in self.listener_events}
        self._stop_requested: asyncio.Event | None = None
        self.strict_slashes = strict_slashes
        self.blueprints: dict[str, Blueprint] = {}
        self.signals = SignalRegistry()
        self._tasks = _tasks.TaskRegistry(self)
        if log_config is not None or configure_logging:
            _log.configure(log_config)
        else:
            _log.configure_from_environ()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    # Routes ---------------------------------------------------------------------------

    def add_route(
        self,
        handler: Handler | type[Any],
        uri: str,
        methods: Iterable[str] | None = None,
        *,
        name: str | None = None,
        stream: bool = False,
        strict_slashes: bool | None = None,
        host: str | Iterable[str] | None = None,
        version: int | float | str | None = None,
        version_prefix: str = "/v",
    ) -> Handler:
        """Register ``handler(request, **params)`` for ``uri`` and ``methods`` (GET by default).

        ``handler`` may be an ``HTTPMethodView`` subclass (or its ``as_view()``): its
        methods are then those the view defines. With ``stream=True`` the handler runs as
        soon as the request's head has arrived and reads the body from ``request.stream``.
        ``strict_slashes=False`` (the app's default) also answers ``uri`` with or without a
        trailing slash; ``host`` limits the route to requests for that ``Host``; ``version=1``
        prefixes the path with ``/v1``.
        """
        return self._add_route(
            handler,
            uri,
            methods,
            name=name,
            stream=stream,
            strict_slashes=strict_slashes,
            host=host,
            version=version,
            version_prefix=version_prefix,
        )

    def _add_route(
        self,
        handler: Handler | type[Any],
        uri: str,
        methods: Iterable[str] | None,
        *,
        name: str | None = None,
        stream: bool = False,
        strict_slashes: bool | None = None,
        host: str | Iterable[str] | None = None,
        version: int | float | str | None = None,
        version_prefix: str = "/v",
        request_middleware: tuple[tuple[Callable[..., Any], bool], ...] = (),
        response_middleware: tuple[tuple[Callable[..., Any], bool], ...] = (),
        error_handlers: dict[type[BaseException], ErrorHandler] | None = None,
    ) -> Handler:
        if isinstance(handler, type):
            handler = cast("Any", handler).as_view()
        view_class = getattr(handler, "view_class", None)
        if methods is None:
            methods = view_class.methods() if view_class is not None else ("GET",)
        methods = [methods.upper()] if isinstance(methods, str) else [m.upper() for m in methods]
        unknown = [m for m in methods if m not in HTTP_METHODS]
        if unknown:
            known = ", ".join(HTTP_METHODS)
            raise HurtleHttpError(f"Unknown HTTP method(s) {unknown}: use {known}")
        if version is not None:
            uri = f"{version_prefix.rstrip('/')}{version}/{uri.lstrip('/')}"
            uri = uri if uri != f"{version_prefix.rstrip('/')}{version}/" else uri.rstrip("/")
        route_handler = cast("Handler", handler)
        self.router.add(
            uri,
            route_handler,
            methods,
            name=name,
            is_async=_is_async(route_handler),
            stream=stream,
            strict_slashes=self.strict_slashes if strict_slashes is None else strict_slashes,
            host=host,
            request_middleware=request_middleware,
            response_middleware=response_middleware,
            error_handlers=error_handlers,
            responds=uses_respond(route_handler),
        )
        return route_handler

    def route(
        self,
        uri: str,
        methods: Iterable[str] = ("GET",),
        *,
        name: str | None = None,
        stream: bool = False,
        strict_slashes: bool | None = None,
        host: str | Iterable[str] | None = None,
        version: int | float | str | None = None,
        version_prefix: str = "/v",
    ) -> Callable[[F], F]:
        """Decorator: register the handler for ``uri`` and ``methods`` (see ``add_route``)."""

        def register(handler: F) -> F:
            self.add_route(
                handler,
                uri,
                methods,
                name=name,
                stream=stream,
                strict_slashes=strict_slashes,
                host=host,
                version=version,
                version_prefix=version_prefix,
            )
            return handler

        return register

    def websocket(
        self, uri: str, *, name: str | None = None, subprotocols: Iterable[str] = ()
    ) -> Callable[[F], F]:
        """Decorator: a WebSocket handler ``async def feed(request, ws, **params)``.

        ``ws`` has ``await ws.send(str | bytes)``, ``await ws.recv()``, ``await
        ws.close(code, reason)``, ``async for message in ws`` and ``ws.subprotocol`` (the
        first of ``subprotocols`` the client offered). The connection closes with 1000 when
        the handler returns, 1011 when it raises. Limits: ``WEBSOCKET_MAX_SIZE``,
        ``WEBSOCKET_PING_INTERVAL``, ``WEBSOCKET_PING_TIMEOUT``. A plain GET gets 426.
        """
        offered = tuple(subprotocols)

        def register(handler: F) -> F:
            if not _is_async(handler):
                raise HurtleHttpError(f"WebSocket handler {handler!r} must be an async def")
            self.router.add(uri, handler, ("GET",), name=name, websocket=True, subprotocols=offered)
            return handler

        return register

    # Middleware and exception handlers --------------------------------------------------

    def on_request(self, middleware: F) -> F:
        """Decorator: run ``middleware(request)`` before routing; a response it returns wins."""
        self._request_middleware.append((middleware, _is_async(middleware)))
        return middleware

    def on_request_head(self, hook: F) -> F:
        """Decorator: run ``hook(request)`` as soon as a request's head has arrived.

        The hook runs before the body is read (``request.body`` is still empty) and must be
        synchronous. Raising an ``HTTPException`` (e.g. ``Unauthorized``) answers it at
        once and closes the connection: the body is never read nor buffered. Use it to
        refuse unauthenticated requests before they cost memory.
        """
        if _is_async(hook):
            raise HurtleHttpError(
                "on_request_head hooks run while the request arrives and must be plain "
                "functions: use on_request for async checks"
            )
        self._head_hooks.append(hook)
        return hook

    # Called by the server, not by users: the app answers ``serve_request`` itself when it
    # has one (ASGI); a native app is handled through ``handle``.
    serve_request = None

    def head_received(self, request: Request, body: bool) -> int:
        """Called by the protocol when ``request``'s head is complete: what to do with its body.

        Runs the ``on_request_head`` hooks (an ``HTTPException`` they raise refuses the
        request) and resolves the route once (when it matters now: ``body`` is true when the
        request has one). Returns ``STREAM`` for a ``stream=True`` route,
        ``DISCARD`` for a body no route will take (when no request middleware could still
        want it), else ``BUFFER``.
        """
        if self._head_hooks:
            for hook in self._head_hooks:
                hook(request)
        elif not body and not self.router.routes_at_head:
            return BUFFER  # nothing to decide now: the route is resolved when handled
        try:
            route = self._resolve(request)
        except HTTPException as exc:
            request._route = exc
            return BUFFER if self._request_middleware else DISCARD
        request._route = route
        return STREAM if route[0].stream else BUFFER

    def accepts_websocket(self, request: Request) -> bool:
        """Whether ``request`` (an upgrade to WebSocket) reached a WebSocket route."""
        resolved = request._route
        return isinstance(resolved, tuple) and resolved[0].websocket

    async def serve_websocket(self, conn: HttpProtocol, request: Request) -> None:
        """Accept the upgrade, run the route's WebSocket handler, close."""
        route, params = cast("tuple[Route, dict[str, Any]]", request._route)
        ws = WebSocket(conn, request, self.config)
        offered = ws.offered_subprotocols
        chosen = next((p for p in route.subprotocols if p in offered), None)
        if not ws.handshake(chosen):
            return
        try:
            await cast("Awaitable[object]", route.handler(request, ws, **params))
        except WebSocketClosed:
            pass
        except Exception as exc:
            logger.error("WebSocket handler %r failed", route.name, exc_info=exc)
            ws.fail(1011, "internal error")
            return
        await ws.close(1000)

    def on_response(self, middleware: F) -> F:
        """Decorator: run ``middleware(request, response)`` after the handler.

        Response middleware runs in reverse registration order; a response it returns
        replaces the current one.
        """
        self._response_middleware.insert(0, (middleware, _is_async(middleware)))
        return middleware

    def middleware(self, kind: str = "request") -> Callable[[F], F]:
        """Decorator: ``@app.middleware("request")`` or ``@app.middleware("response")``."""
        if kind == "request":
            return self.on_request
        if kind == "response":
            return self.on_response
        raise HurtleHttpError(f"Unknown middleware kind {kind!r}: use 'request' or 'response'")

    def exception(self, *exceptions: type[BaseException]) -> Callable[[F], F]:
        """Decorator: handle these exception classes (and subclasses) with ``fn(request, exc)``."""
        if not exceptions:
            raise HurtleHttpError("app.exception() needs at least one exception class")

        def register(handler: F) -> F:
            for exc_type in exceptions:
                self._error_handlers[exc_type] = handler
            return handler

        return register

    # Listeners ---------------------------------------------------------------------------

    def listener(self, event: str) -> Callable[[F], F]:
        """Decorator: run the function at lifecycle ``event`` (see ``listener_events``)."""

        def register(func: F) -> F:
            self.register_listener(func, event)
            return func

        return register

    def register_listener(self, func: Listener, event: str) -> None:
        """Run ``func(app)`` or ``func(app, loop)`` at lifecycle ``event``."""
        if event not in self._listeners:
            known = ", ".join(self.listener_events)
            raise HurtleHttpError(f"Unknown listener event {event!r}: use one of {known}")
        self._listeners[event].append(func)

    def dispatch(
        self,
        event: str,
        loop: asyncio.AbstractEventLoop | None = None,
        *,
        context: Mapping[str, Any] | None = None,
        where: Mapping[str, Any] | None = None,
        condition: Mapping[str, Any] | None = None,
        inline: bool = False,
        fail_not_found: bool = True,
    ) -> Awaitable[Any]:
        """Run the listeners of a lifecycle ``event``, or dispatch the signal ``event``.

        A signal (``"orders.payment.done"``) starts its handlers in a task (awaiting
        ``dispatch`` returns it; ``inline=True`` waits for them); ``context`` is passed as
        keyword arguments. Listeners of stop events run in reverse registration order.
        """
        if event in self._listeners:
            return self._dispatch_listeners(event, loop)
        return self.signals.dispatch(
            event,
            context,
            where if where is not None else condition,
            inline=inline,
            fail_not_found=fail_not_found,
        )

    async def _dispatch_listeners(self, event: str, loop: asyncio.AbstractEventLoop | None) -> None:
        loop = loop or asyncio.get_running_loop()
        stopping = "stop" in event
        if event == "after_server_stop":
            await self._tasks.cancel_all()
        await call_listeners(self._listeners[event], self, loop, reverse=stopping)
        for signal_name, listener_event in SERVER_SIGNALS.items():
            if listener_event == event and self.signals.handlers(signal_name):
                await self.signals.dispatch(
                    signal_name, {"app": self, "loop": loop}, inline=True, fail_not_found=False
                )
        if event == "after_server_start":
            self._tasks.start_pending()

    # Request handling -------------------------------------------------------------------

    async def handle(self, request: Request) -> HTTPResponse:
        """Run middleware, the routed handler and error handling; always return a response.

        The hot path of every native request: the middleware chains run inline (one
        coroutine frame for the whole request when nothing suspends).
        """
        route: Route | None = None
        response: HTTPResponse | None = None
        try:
            for middleware, is_async in self._request_middleware:
                early = middleware(request)
                if is_async:
                    early = await cast("Awaitable[HTTPResponse | None]", early)
                if early is not None:
                    response = cast(HTTPResponse, early)
                    break
            if response is None:
                resolved = request._route
                if resolved is None or self._request_middleware:
                    request._route = found = self._resolve(request)
                    route, params = found
                elif isinstance(resolved, HTTPException):
                    raise resolved
                else:
                    route, params = cast("tuple[Route, dict[str, Any]]", resolved)
                if route.websocket:
                    raise UpgradeRequired(
                        "This resource speaks WebSocket only", headers={"Upgrade": "websocket"}
                    )
                for before, is_async in route.request_middleware:
                    early = before(request)
                    if is_async:
                        early = await early
                    if early is not None:
                        response = cast(HTTPResponse, early)
                        break
                if response is None:
                    if params:
                        request.match_info = params
                    result: Any  # whatever the app returns (checked below)
                    if route.responds:
                        result = await _run_responding(route, request, params)
                    else:
                        if params:
                            result = route.handler(request, **params)
                        else:
                            result = route.handler(request)
                        if route.is_async or inspect.isawaitable(result):
                            result = await result
                    if not isinstance(result, HTTPResponse):
                        raise TypeError(
                            f"Handler {route.name!r} returned {type(result).__name__}, not a "
                            "response: return json(...), text(...) or another response helper"
                        )
                    response = result
        except Exception as exc:
            response = await self._handle_error(request, exc, route)
        if route is not None and route.response_middleware:
            response = await self._run_response_middleware(
                route.response_middleware, request, response, route
            )
        for after, is_async in self._response_middleware:
            try:
                outcome = after(request, response)
                if is_async:
                    outcome = await cast("Awaitable[HTTPResponse | None]", outcome)
                if outcome is not None:
                    response = cast(HTTPResponse, outcome)
            except Exception as exc:
                return await self._handle_error(request, exc, route)
        return response

    def _resolve(self, request: Request) -> tuple[Route, dict[str, Any]]:
        router = self.router
        if router.has_hosts:
            return router.resolve(request.method, request.path, request.host)
        return router.resolve(request.method, request.path)

    async def _run_response_middleware(
        self,
        chain: Iterable[tuple[Callable[..., Any], bool]],
        request: Request,
        response: HTTPResponse,
        route: Route | None,
    ) -> HTTPResponse:
        for middleware, is_async in chain:
            try:
                outcome = middleware(request, response)
                if is_async:
                    outcome = await outcome
                if outcome is not None:
                    response = outcome
            except Exception as exc:
                return await self._handle_error(request, exc, route)
        return response

    async def _handle_error(
        self, request: Request, exc: Exception, route: Route | None = None
    ) -> HTTPResponse:
        scoped = route.error_handlers if route is not None else None
        for klass in type(exc).__mro__:
            handler = scoped.get(klass) if scoped else None
            if handler is None:
                handler = self._error_handlers.get(klass)
            if handler is None:
                continue
            try:
                result = handler(request, exc)
                if inspect.isawaitable(result):
                    result = await result
                if isinstance(result, HTTPResponse):
                    return result
                exc = TypeError(
                    f"Exception handler {handler!r} returned {result!r}, not a response"
                )
            except Exception as inner:
                exc = inner
            break
        exc._hurtle_handled = True  # type: ignore[attr-defined]  # handlers already tried
        return self.error_response(exc, request)

    def _protocol_error_response(
        self, exc: BaseException, request: Request | None
    ) -> HTTPResponse | None:
        """An ``@app.exception`` handler's answer to an error the server raised itself
        (408, 413, 400, ...), when it answers without suspending; else None."""
        handler = None
        for klass in type(exc).__mro__:
            handler = self._error_handlers.get(klass)
            if handler is not None:
                break
        if handler is None:
            return None
        if request is None:
            info = ConnInfo("", 0, "", 0, False)
            request = Request(self, "GET", b"/", [], "1.1", info)  # nothing was received
        try:
            result: Any = handler(request, cast("Exception", exc))
            if inspect.iscoroutine(result):
                try:
                    result.send(None)
                except StopIteration as stop:
                    result = stop.value
                else:
                    result.close()
                    logger.error(
                        "Exception handler %r awaited while answering a %s the server raised: "
                        "such handlers must answer without awaiting",
                        handler,
                        type(exc).__name__,
                    )
                    return None
        except Exception as failure:
            logger.error("Exception handler %r failed", handler, exc_info=failure)
            return None
        return result if isinstance(result, HTTPResponse) else None

    def error_response(self, exc: BaseException, request: Request | None = None) -> HTTPResponse:
        """The response for ``exc`` (500 for anything but an ``HTTPException``).

        For an error the server raised itself (a 408, a 413, a malformed request), the
        ``@app.exception`` handler of its class answers when there is one and it answers
        without awaiting. The traceback is included only when ``config.DEBUG`` is true.
        """
        if not getattr(exc, "_hurtle_handled", False) and self._error_handlers:
            answered = self._protocol_error_response(exc, request)
            if answered is not None:
                return answered
        if isinstance(exc, HTTPException):
            status, message, headers = exc.status_code, exc.message, exc.headers
            if not exc.quiet:
                logger.error("%s while handling %r", exc.message, request, exc_info=exc)
        else:
            status, message, headers = 500, "The server failed to handle this request.", {}
            logger.error("Exception while handling %r", request, exc_info=exc)
        details = None
        if status >= 500 and self.config.get("DEBUG"):
            details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        fmt = self.config.get("FALLBACK_ERROR_FORMAT", "text")
        if fmt == "auto" and request is not None:
            accept = request.headers.get("accept", "")
            fmt = "json" if "json" in accept or "json" in request.content_type else "text"
        if fmt == "json":
            body: dict[str, object] = {"status": status, "message": message}
            if isinstance(exc, HTTPException) and exc.context:
                body["context"] = exc.context
            if details:
                body["traceback"] = details
            return json(body, status, headers)
        rendered = f"{status} — {message}"
        if details:
            rendered += f"\n\n{details}"
        return text(rendered + "\n", status, headers)
