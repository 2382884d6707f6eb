"""An ASGI 3 server on hurtle-http's connection machine: ``AsgiApp(app)`` is served exactly
like an ``HttpApp`` (``serve(AsgiApp(app), sock)``, ``HttpServer``), with the same limits,
timers, stats and graceful drain.

Each HTTP request is one ``HttpCycle`` (``_asgi_http``): its scope, a ``receive()`` fed by
the request's ``BodyStream`` (flow control: the socket is not read while the app does not
consume), and a ``send()`` that writes through the protocol, chunked when the app gives no
length, and waits for the transport to drain. Lifespan startup runs in ``before_server_start`` (so
before ``ready``), shutdown in ``after_server_stop`` (after the drain).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, MutableMapping
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar
from urllib.parse import unquote

from hurtle_http._asgi_http import HttpCycle, completed
from hurtle_http._body import BUFFER, STREAM
from hurtle_http._lifespan import Lifespan, LifespanMode
from hurtle_http._mypyc import mypyc_attr
from hurtle_http.config import Config
from hurtle_http.exceptions import HTTPException, HurtleHttpError
from hurtle_http.listeners import SERVER_EVENTS, Listener, call_listeners
from hurtle_http.response import HTTPResponse, text

if TYPE_CHECKING:
    from hurtle_http.protocol import HttpProtocol
    from hurtle_http.request import Request

__all__ = ["AsgiApp", "asgi_interface"]

logger = logging.getLogger("hurtle.error")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi3App = Callable[[Scope, Receive, Send], Awaitable[object]]
F = TypeVar("F", bound=Callable[..., Any])

ASGI_VERSION = {"version": "3.0", "spec_version": "2.4"}
_SCHEMES = {
    ("http", False): "http",
    ("http", True): "https",
    ("websocket", False): "ws",
    ("websocket", True): "wss",
}
_EXTENSIONS: dict[str, dict[str, object]] = {"http.response.pathsend": {}}
_TEMPLATES: dict[tuple[str, bool, str], dict[str, Any]] = {}  # see AsgiApp.scope


def asgi_interface(obj: object) -> Literal["asgi3", "asgi2"] | None:
    """``"asgi3"`` or ``"asgi2"`` for an ASGI application, None for anything else.

    ASGI 3 is ``async def app(scope, receive, send)`` (or an object whose ``__call__`` is);
    ASGI 2 is a double callable: ``app(scope)`` returns ``async def (receive, send)``. A
    native ``HttpApp`` (or a ``Hurtle`` app) is not ASGI.
    """
    from hurtle_http.app import HttpApp

    if isinstance(obj, (HttpApp, AsgiApp)) or not callable(obj):
        return None
    candidate: Any = obj
    if inspect.isclass(candidate):
        # A class whose instances are awaitable is ASGI 3 (instantiated per call)...
        if hasattr(candidate, "__await__"):
            return "asgi3"
        call = getattr(candidate, "__call__", None)  # noqa: B004 - instances' __call__
        return "asgi2" if inspect.iscoroutinefunction(call) else None
    plain = inspect.isfunction(candidate) or inspect.ismethod(candidate)
    target = candidate if plain else candidate.__call__
    positional = _positional_count(target)
    if inspect.iscoroutinefunction(target):
        return "asgi3" if positional in (None, 3) else None
    if positional == 1:
        return "asgi2"
    return None


def _positional_count(func: Callable[..., Any]) -> int | None:
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return None
    return sum(
        1
        for p in params
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        and p.default is inspect.Parameter.empty
    )


class _Asgi2:
    """An ASGI 2 double callable presented as ASGI 3."""

    def __init__(self, app: Callable[[Scope], Callable[[Receive, Send], Awaitable[None]]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope)(receive, send)


@mypyc_attr(allow_interpreted_subclasses=True)
class AsgiApp:
    """Any ASGI 3 (or ASGI 2) application, servable exactly like an ``HttpApp``.

    ``config`` gives the limits, timeouts, ``ACCESS_LOG`` and ``GRACEFUL_SHUTDOWN_TIMEOUT``
    (a fresh ``Config()``, which reads ``HURTLE_*`` variables, when omitted). ``root_path``
    is the scope's ``root_path``. ``lifespan``: ``"auto"`` (use it if the app supports it),
    ``"on"`` (a failure is a ``LifespanError`` out of ``serve``), ``"off"``. Listeners can be
    registered as on an ``HttpApp`` (``@asgi_app.listener("after_server_start")``); startup
    runs before the start listeners, shutdown after the stop listeners.
    """

    listener_events: ClassVar[tuple[str, ...]] = SERVER_EVENTS

    def __init__(
        self,
        app: Any,
        *,
        config: Config | None = None,
        root_path: str = "",
        lifespan: LifespanMode = "auto",
    ) -> None:
        kind = asgi_interface(app)
        if kind is None:
            raise HurtleHttpError(
                f"{app!r} is not an ASGI application: pass `async def app(scope, receive, send)`"
                " or a framework's app object (FastAPI, Starlette, ...)"
            )
        if lifespan not in ("auto", "on", "off"):
            raise HurtleHttpError(f"Unknown lifespan mode {lifespan!r}: use 'auto', 'on' or 'off'")
        self.app: Asgi3App = app if kind == "asgi3" else _Asgi2(app)
        self.interface = kind
        self.config: Config = config if config is not None else Config()
        self.root_path = root_path.rstrip("/")
        self.name = type(app).__name__ if not inspect.isfunction(app) else app.__name__
        self.ctx = SimpleNamespace()
        self.lifespan = Lifespan(self.app, lifespan)
        self._state = self.lifespan.state
        self._listeners: dict[str, list[Listener]] = {e: [] for e in self.listener_events}
        self._server_addr: tuple[str, int] | None = None
        self._done: asyncio.Future[None] | None = None  # what send() returns when it is done

    def __repr__(self) -> str:
        return f"<AsgiApp {self.name} ({self.interface})>"

    @property
    def state(self) -> dict[str, Any]:
        """The lifespan state; every request scope gets a shallow copy of it."""
        return self.lifespan.state

    # Listeners (the server's lifecycle) ---------------------------------------------------

    def register_listener(self, func: Listener, event: str) -> None:
        """Run ``func(app)`` or ``func(app, loop)`` at lifecycle ``event``."""
        if event not in self._listeners:
            known = ", ".join(self.listener_events)
            raise HurtleHttpError(f"Unknown listener event {event!r}: use one of {known}")
        self._listeners[event].append(func)

    def listener(self, event: str) -> Callable[[F], F]:
        """Decorator: run the function at lifecycle ``event``."""

        def register(func: F) -> F:
            self.register_listener(func, event)
            return func

        return register

    async def dispatch(self, event: str, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Run ``event``'s listeners; lifespan startup first, shutdown last."""
        if event not in self._listeners:
            raise HurtleHttpError(f"Unknown listener event {event!r}")
        loop = loop or asyncio.get_running_loop()
        if event == "before_server_start":
            await self.lifespan.startup()
        await call_listeners(self._listeners[event], self, loop, reverse="stop" in event)
        if event == "after_server_stop":
            await self.lifespan.shutdown()

    # What the server's protocol calls ---------------------------------------------------

    def head_received(self, request: Request, body: bool) -> int:
        """A request with a body streams it to ``receive()``; one without needs no stream."""
        return STREAM if body else BUFFER

    async def handle(self, request: Request) -> HTTPResponse:
        """Not used: ASGI apps write their responses through ``serve_request``."""
        raise HurtleHttpError("AsgiApp serves requests through serve_request")

    def error_response(self, exc: BaseException, request: Request | None = None) -> HTTPResponse:
        """The plain-text answer for a request refused by the server itself (4xx, 500)."""
        if isinstance(exc, HTTPException):
            return text(f"{exc.message}\n", exc.status_code, exc.headers)
        return text("Internal Server Error\n", 500)

    def accepts_websocket(self, request: Request) -> bool:
        """Every upgrade to WebSocket becomes a ``websocket`` scope."""
        return True

    async def serve_websocket(self, conn: HttpProtocol, request: Request) -> None:
        """Run one WebSocket connection through the ASGI app."""
        from hurtle_http._asgi_ws import WebSocketCycle

        cycle = WebSocketCycle(self, conn, request)
        conn.owner = cycle
        await cycle.run()

    def serve_request(self, conn: HttpProtocol, request: Request) -> Coroutine[Any, Any, None]:
        """Run one HTTP request through the ASGI app (the coroutine the connection awaits)."""
        done = self._done
        loop = conn.loop  # not asyncio.get_running_loop(): on 3.11 that is a getpid() syscall
        if done is None or done.get_loop() is not loop:  # one per loop, for callbacks
            done = self._done = completed(loop)
        return HttpCycle(self, conn, request, done).run()

    def scope(self, request: Request, kind: str = "http") -> Scope:
        """The ASGI scope of ``request``."""
        raw_path, _, query = request.raw_url.partition(b"?")
        path = request.path  # raw_path decoded (the origin's path for an absolute target)
        if not raw_path.startswith(b"/"):
            raw_path = path.encode("utf-8", "surrogateescape")
        if "%" in path:
            path = unquote(path)
        info = request.conn_info
        root = self.root_path
        if root:
            path = root + path
            raw_path = root.encode() + raw_path
        headers = []  # a loop, not a comprehension: no function call on Python 3.11
        for name, value in request.raw_headers:
            headers.append((name.lower(), value))
        # A copy of a template with every key is cheaper than a dict display of 14 keys.
        template = _TEMPLATES.get((kind, info.ssl, root)) or _template(kind, info.ssl, root)
        scope = template.copy()
        if request.version != "1.1":
            scope["http_version"] = request.version
        scope["path"] = path
        scope["raw_path"] = raw_path
        scope["query_string"] = query
        scope["headers"] = headers
        scope["client"] = info.client
        scope["server"] = info.server
        scope["state"] = self._state.copy()
        if kind == "http":
            scope["method"] = request.method
        return scope


def _template(kind: str, ssl: bool, root: str) -> dict[str, Any]:
    """The keys of every scope of this kind, with the values they share."""
    template: dict[str, Any] = {
        "type": kind,
        "asgi": ASGI_VERSION,
        "http_version": "1.1",
        "scheme": _SCHEMES[kind, ssl],
        "path": "",
        "raw_path": b"",
        "query_string": b"",
        "root_path": root,
        "headers": [],
        "client": None,
        "server": None,
        "state": None,
    }
    if kind == "http":
        template["method"] = "GET"
        template["extensions"] = _EXTENSIONS
    if len(_TEMPLATES) < 64:  # a few root paths at most
        _TEMPLATES[kind, ssl, root] = template
    return template


def lower_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """ASGI header pairs: lower-cased names, order and duplicates kept."""
    return [(name.lower(), value) for name, value in headers]
