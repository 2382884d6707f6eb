"""Blueprints: a group of routes, middleware, exception handlers and listeners registered
on an app in one go, under a ``url_prefix`` and an API ``version``.

``Blueprint.group(bp1, bp2, url_prefix="/api", version=1)`` gathers blueprints (and other
groups) so that they share a prefix, a version and the group's middleware. A route's
``version`` wins over its blueprint's, which wins over its group's. A blueprint's
middleware and exception handlers apply to its own routes only; its routes are named
``"<blueprint>.<handler>"`` for ``app.url_for``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, TypeVar

from hurtle_http._decorators import ShorthandDecorators
from hurtle_http.exceptions import HurtleHttpError

if TYPE_CHECKING:
    import os

    from hurtle_http.app import HttpApp

F = TypeVar("F", bound=Callable[..., Any])
Chain = tuple[tuple[Callable[..., Any], bool], ...]


def _is_async(func: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(inspect.unwrap(func))


@dataclass
class _Scope:
    """What the groups around a blueprint contribute when it is registered."""

    url_prefix: str = ""
    version: int | float | str | None = None
    version_prefix: str = "/v"
    strict_slashes: bool | None = None
    request_middleware: Chain = ()
    response_middleware: Chain = ()
    error_handlers: dict[type[BaseException], Callable[..., Any]] = field(default_factory=dict)


def _scope(options: Mapping[str, Any]) -> _Scope:
    scope = options.get("_scope")
    if isinstance(scope, _Scope):
        return scope
    unknown = set(options) - {"url_prefix", "version", "version_prefix", "strict_slashes"}
    if unknown:
        raise HurtleHttpError(f"Unknown blueprint option(s) {sorted(unknown)}")
    return _Scope(
        url_prefix=options.get("url_prefix") or "",
        version=options.get("version"),
        version_prefix=options.get("version_prefix", "/v"),
        strict_slashes=options.get("strict_slashes"),
    )


def _join(prefix: str, uri: str) -> str:
    if not prefix:
        return uri
    prefix = "/" + prefix.strip("/")
    if uri in ("", "/"):
        return prefix + ("/" if uri == "/" and prefix == "/" else "")
    return prefix.rstrip("/") + "/" + uri.lstrip("/")


class _Scoped:
    """Middleware and exception handlers shared by blueprints and groups."""

    def __init__(self) -> None:
        self._request_middleware: list[tuple[Callable[..., Any], bool]] = []
        self._response_middleware: list[tuple[Callable[..., Any], bool]] = []
        self._error_handlers: dict[type[BaseException], Callable[..., Any]] = {}

    def on_request(self, middleware: F) -> F:
        """Decorator: request middleware for these routes only."""
        self._request_middleware.append((middleware, _is_async(middleware)))
        return middleware

    def on_response(self, middleware: F) -> F:
        """Decorator: response middleware for these routes only (reverse order)."""
        self._response_middleware.insert(0, (middleware, _is_async(middleware)))
        return middleware

    def middleware(
        self, kind_or_func: str | Callable[..., Any] = "request", kind: str = "request"
    ) -> Any:
        """``@bp.middleware("request")``, ``@bp.middleware("response")`` or
        ``bp.middleware(func, "response")``."""
        if callable(kind_or_func):
            return self.middleware(kind)(kind_or_func)
        if kind_or_func == "request":
            return self.on_request
        if kind_or_func == "response":
            return self.on_response
        raise HurtleHttpError(
            f"Unknown middleware kind {kind_or_func!r}: use 'request' or 'response'"
        )

    def exception(self, *exceptions: type[BaseException]) -> Callable[[F], F]:
        """Decorator: handle these exceptions raised by these routes (before the app's)."""
        if not exceptions:
            raise HurtleHttpError("exception() needs at least one exception class")

        def register(handler: F) -> F:
            for exc_type in exceptions:
                self._error_handlers[exc_type] = handler
            return handler

        return register

    def _inner(self, outer: _Scope) -> _Scope:
        return _Scope(
            url_prefix=outer.url_prefix,
            version=outer.version,
            version_prefix=outer.version_prefix,
            strict_slashes=outer.strict_slashes,
            request_middleware=(*outer.request_middleware, *self._request_middleware),
            response_middleware=(*self._response_middleware, *outer.response_middleware),
            error_handlers={**outer.error_handlers, **self._error_handlers},
        )


@dataclass
class _FutureRoute:
    handler: Callable[..., Any]
    uri: str
    methods: Iterable[str] | None
    options: dict[str, Any]


class Blueprint(_Scoped, ShorthandDecorators):
    """Routes and hooks registered on an app together with ``app.blueprint(bp)``."""

    def __init__(
        self,
        name: str,
        url_prefix: str | None = None,
        host: str | list[str] | None = None,
        version: int | float | str | None = None,
        strict_slashes: bool | None = None,
        version_prefix: str = "/v",
    ) -> None:
        super().__init__()
        if not name or not name.replace("_", "").replace("-", "").isalnum():
            raise HurtleHttpError(
                f"Invalid blueprint name {name!r}: use letters, digits, '_' and '-' only"
            )
        self.name = name
        self.url_prefix = url_prefix or ""
        self.host = host
        self.version = version
        self.strict_slashes = strict_slashes
        self.version_prefix = version_prefix
        self.ctx = SimpleNamespace()
        self.apps: set[HttpApp] = set()
        self._routes: list[_FutureRoute] = []
        self._listeners: list[tuple[Callable[..., Any], str]] = []
        self._signals: list[tuple[Callable[..., Any], str, Mapping[str, Any] | None]] = []
        self._statics: list[tuple[str, Any, dict[str, Any]]] = []
        self._websockets: list[_FutureRoute] = []

    def __repr__(self) -> str:
        return f"<Blueprint {self.name!r} url_prefix={self.url_prefix!r}>"

    @staticmethod
    def group(
        *blueprints: Blueprint | BlueprintGroup | Iterable[Blueprint | BlueprintGroup],
        url_prefix: str | None = None,
        version: int | float | str | None = None,
        strict_slashes: bool | None = None,
        version_prefix: str = "/v",
    ) -> BlueprintGroup:
        """A ``BlueprintGroup`` of these blueprints (lists are flattened)."""
        members: list[Blueprint | BlueprintGroup] = []
        for item in blueprints:
            if isinstance(item, (Blueprint, BlueprintGroup)):
                members.append(item)
            else:
                members.extend(item)
        return BlueprintGroup(
            url_prefix=url_prefix,
            version=version,
            strict_slashes=strict_slashes,
            version_prefix=version_prefix,
            blueprints=members,
        )

    # Recording ---------------------------------------------------------------------------

    def add_route(
        self,
        handler: Callable[..., Any],
        uri: str,
        methods: Iterable[str] | None = None,
        **options: Any,
    ) -> Callable[..., Any]:
        """Record a route (options as for ``HttpApp.add_route``)."""
        self._routes.append(_FutureRoute(handler, uri, methods, options))
        return handler

    def route(
        self, uri: str, methods: Iterable[str] = ("GET",), **options: Any
    ) -> Callable[[F], F]:
        """Decorator: record a route for ``uri`` and ``methods``."""

        def register(handler: F) -> F:
            self.add_route(handler, uri, methods, **options)
            return handler

        return register

    def websocket(self, uri: str, **options: Any) -> Callable[[F], F]:
        """Decorator: a WebSocket route (options as for ``HttpApp.websocket``, and
        ``version``)."""

        def register(handler: F) -> F:
            self._websockets.append(_FutureRoute(handler, uri, None, options))
            return handler

        return register

    def listener(self, event: str) -> Callable[[F], F]:
        """Decorator: an app listener, registered with the blueprint."""

        def register(func: F) -> F:
            self._listeners.append((func, event))
            return func

        return register

    def signal(self, event: str, *, condition: Mapping[str, Any] | None = None) -> Callable[[F], F]:
        """Decorator: an app signal handler, registered with the blueprint."""

        def register(handler: F) -> F:
            self._signals.append((handler, event, condition))
            return handler

        return register

    def static(self, uri: str, file_or_directory: str | os.PathLike[str], **options: Any) -> None:
        """Serve files under the blueprint's prefix (options as for ``HttpApp.static``)."""
        self._statics.append((uri, file_or_directory, options))

    # Registration ------------------------------------------------------------------------

    def register(self, app: HttpApp, options: Mapping[str, Any]) -> None:
        """Add everything recorded to ``app`` (called by ``app.blueprint``)."""
        existing = app.blueprints.get(self.name)
        if existing is not None and existing is not self:
            raise HurtleHttpError(
                f"Another blueprint named {self.name!r} is already registered on {app!r}: "
                "blueprint names must be unique"
            )
        app.blueprints[self.name] = self
        self.apps.add(app)
        scope = self._inner(_scope(options))
        prefix = _join(scope.url_prefix, self.url_prefix) if self.url_prefix else scope.url_prefix
        for future in self._routes:
            opts = dict(future.options)
            version, version_prefix = self._version(opts, scope)
            strict = opts.pop("strict_slashes", None)
            if strict is None:
                strict = (
                    self.strict_slashes if self.strict_slashes is not None else scope.strict_slashes
                )
            name = opts.pop("name", None) or getattr(future.handler, "__name__", future.uri)
            app._add_route(
                future.handler,
                _join(prefix, future.uri) or "/",
                future.methods,
                name=f"{self.name}.{name}",
                strict_slashes=strict,
                host=opts.pop("host", None) or self.host,
                version=version,
                version_prefix=version_prefix,
                request_middleware=scope.request_middleware,
                response_middleware=scope.response_middleware,
                error_handlers=scope.error_handlers or None,
                **opts,
            )
        for future in self._websockets:
            opts = dict(future.options)
            version, version_prefix = self._version(opts, scope)
            uri = _join(prefix, future.uri) or "/"
            if version is not None:
                uri = f"{version_prefix.rstrip('/')}{version}/{uri.lstrip('/')}".rstrip("/")
            name = opts.pop("name", None) or getattr(future.handler, "__name__", future.uri)
            app.websocket(uri or "/", name=f"{self.name}.{name}", **opts)(future.handler)
        for func, event in self._listeners:
            app.register_listener(func, event)
        for handler, event, condition in self._signals:
            app.signals.add(handler, event, condition)
        for uri, target, static_options in self._statics:
            opts = dict(static_options)
            opts["name"] = f"{self.name}.{opts.get('name', 'static')}"
            app.static(_join(prefix, uri), target, **opts)

    def _version(self, opts: dict[str, Any], scope: _Scope) -> tuple[int | float | str | None, str]:
        """A recorded route's version and prefix (popped from ``opts``): its own, else the
        blueprint's, else the enclosing group's."""
        version = opts.pop("version", None)
        if version is None:
            version = self.version if self.version is not None else scope.version
        version_prefix = opts.pop("version_prefix", None) or (
            self.version_prefix if self.version is not None else scope.version_prefix
        )
        return version, version_prefix


class BlueprintGroup(_Scoped):
    """Blueprints (and groups) sharing a ``url_prefix``, a ``version`` and middleware."""

    def __init__(
        self,
        url_prefix: str | None = None,
        version: int | float | str | None = None,
        strict_slashes: bool | None = None,
        version_prefix: str = "/v",
        blueprints: Iterable[Blueprint | BlueprintGroup] = (),
    ) -> None:
        super().__init__()
        self.url_prefix = url_prefix or ""
        self.version = version
        self.strict_slashes = strict_slashes
        self.version_prefix = version_prefix
        self.blueprints: list[Blueprint | BlueprintGroup] = list(blueprints)

    def __iter__(self) -> Iterator[Blueprint | BlueprintGroup]:
        return iter(self.blueprints)

    def __len__(self) -> int:
        return len(self.blueprints)

    def __getitem__(self, index: int) -> Blueprint | BlueprintGroup:
        return self.blueprints[index]

    def append(self, blueprint: Blueprint | BlueprintGroup) -> None:
        """Add a blueprint (or group) to this group."""
        self.blueprints.append(blueprint)

    def register(self, app: HttpApp, options: Mapping[str, Any]) -> None:
        """Register every member with this group's prefix, version and middleware."""
        outer = _scope(options)
        scope = self._inner(outer)
        scope.url_prefix = (
            _join(outer.url_prefix, self.url_prefix) if self.url_prefix else outer.url_prefix
        )
        if self.version is not None:
            scope.version, scope.version_prefix = self.version, self.version_prefix
        if self.strict_slashes is not None:
            scope.strict_slashes = self.strict_slashes
        for member in self.blueprints:
            member.register(app, {"_scope": scope})


__all__ = ["Blueprint", "BlueprintGroup"]
