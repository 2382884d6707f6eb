"""URL routing: static paths by dict lookup, typed patterns (``/users/<id:int>``) after.

Parameter types: ``str`` (default, one segment), ``int``, ``float``, ``uuid``, ``slug``
and ``path`` (the rest of the path, slashes included). A GET route also answers HEAD
unless HEAD is routed explicitly. ``resolve`` raises ``NotFound`` or ``MethodNotAllowed``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from hurtle_http.exceptions import BadRequest, MethodNotAllowed, NotFound, RouteError

if TYPE_CHECKING:
    from hurtle_http.response import HTTPResponse

Handler = Callable[..., "Awaitable[HTTPResponse] | HTTPResponse"]

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

Converter = Callable[[str], Any]

# Parameter type -> (regex, converter); None keeps the matched text as a str.
_PARAM_TYPES: dict[str, tuple[str, Converter | None]] = {
    "str": (r"[^/]+", None),
    "int": (r"-?\d+", int),
    "float": (r"-?\d+(?:\.\d+)?", float),
    "uuid": (r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}", uuid.UUID),
    "slug": (r"[a-z0-9]+(?:-[a-z0-9]+)*", None),
    "path": (r".+", None),
}
_PARAM = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?>")


@dataclass(slots=True)
class Route:
    """One registered handler: its path pattern, methods and parameter converters."""

    path: str
    handler: Handler
    methods: frozenset[str]
    name: str
    is_async: bool
    pattern: re.Pattern[str] | None = None
    params: tuple[tuple[str, Converter | None], ...] = ()
    stream: bool = False  # the handler reads request.stream; the body is not buffered
    websocket: bool = False  # a WebSocket handler: handler(request, ws, **params)
    subprotocols: tuple[str, ...] = ()  # the WebSocket subprotocols it speaks, preferred first


@dataclass(slots=True)
class _Pattern:
    """A compiled dynamic path, the routes registered on it (by method) and its parameters."""

    regex: re.Pattern[str]
    params: tuple[tuple[str, Converter | None], ...]
    order: int
    table: dict[str, Route] = field(default_factory=dict)


def _compile(path: str) -> tuple[re.Pattern[str] | None, tuple[tuple[str, Converter | None], ...]]:
    """The regex and parameters of a path with ``<name:type>`` parts (None when static)."""
    converters: dict[str, Converter | None] = {}
    regex = ["^"]
    pos = 0
    for match in _PARAM.finditer(path):
        name, kind = match.group(1), match.group(2) or "str"
        if kind not in _PARAM_TYPES:
            known = ", ".join(_PARAM_TYPES)
            raise RouteError(f"Unknown parameter type {kind!r} in {path!r}: use one of {known}")
        if name in converters:
            raise RouteError(f"Parameter {name!r} appears twice in route {path!r}")
        regex.append(re.escape(path[pos : match.start()]))
        part, converters[name] = _PARAM_TYPES[kind]
        regex.append(f"(?P<{name}>{part})")
        pos = match.end()
    if not converters:
        if "<" in path or ">" in path:
            raise RouteError(f"Malformed parameter in route {path!r}: write <name> or <name:type>")
        return None, ()
    regex.append(re.escape(path[pos:]) + "$")
    return re.compile("".join(regex)), tuple(converters.items())


def _first_segment(path: str) -> str:
    """``"users"`` for ``"/users/1"``: the key that narrows the patterns to try."""
    return path[1:].partition("/")[0]


class Router:
    """Maps ``(method, path)`` to a ``Route`` and its converted path parameters."""

    def __init__(self) -> None:
        self._static: dict[str, dict[str, Route]] = {}
        self._patterns: list[_Pattern] = []
        # Patterns whose first segment is literal, by that segment; the others in _wild.
        self._by_segment: dict[str, list[_Pattern]] = {}
        self._wild: list[_Pattern] = []
        self.routes: list[Route] = []
        # True once a route must be known when a request's head arrives (stream, WebSocket).
        self.routes_at_head = False

    def add(
        self,
        path: str,
        handler: Handler,
        methods: Iterable[str],
        *,
        name: str | None = None,
        is_async: bool = True,
        stream: bool = False,
        websocket: bool = False,
        subprotocols: tuple[str, ...] = (),
    ) -> Route:
        """Register ``handler`` for ``path`` and ``methods``; return the route."""
        if not path.startswith("/"):
            raise RouteError(f"Route {path!r} must start with '/': write '/{path}'")
        wanted = frozenset(m.upper() for m in methods)
        if not wanted:
            raise RouteError(f"Route {path!r} has no methods")
        pattern, params = _compile(path)
        if stream or websocket:
            self.routes_at_head = True
        route = Route(
            path=path,
            handler=handler,
            methods=wanted,
            name=name or str(getattr(handler, "__name__", path)),
            is_async=is_async,
            pattern=pattern,
            params=params,
            stream=stream,
            websocket=websocket,
            subprotocols=subprotocols,
        )
        table = self._table_for(path, pattern, params)
        for method in wanted:
            existing = table.get(method)
            if existing is not None and (method != "HEAD" or "HEAD" in existing.methods):
                raise RouteError(f"Route {method} {path} is already registered")
            table[method] = route
        if "GET" in wanted and "HEAD" not in table:
            table["HEAD"] = route
        self.routes.append(route)
        return route

    def _table_for(
        self,
        path: str,
        regex: re.Pattern[str] | None,
        params: tuple[tuple[str, Converter | None], ...],
    ) -> dict[str, Route]:
        if regex is None:
            return self._static.setdefault(path, {})
        for existing in self._patterns:
            if existing.regex.pattern == regex.pattern:
                return existing.table
        pattern = _Pattern(regex, params, len(self._patterns))
        self._patterns.append(pattern)
        literal = path[: path.index("<")]
        if "/" in literal[1:]:
            self._by_segment.setdefault(_first_segment(literal), []).append(pattern)
        else:
            self._wild.append(pattern)
        return pattern.table

    def resolve(self, method: str, path: str) -> tuple[Route, dict[str, Any]]:
        """The route and converted parameters for a request; raises NotFound/MethodNotAllowed."""
        table = self._static.get(path)
        if table is None and "%" in path:
            table = self._static.get(_unquote(path))
        if table is not None:
            route = table.get(method)
            if route is not None:
                return route, {}
            raise MethodNotAllowed(allowed=table)
        allowed: set[str] = set()
        candidates: Iterable[_Pattern] = self._by_segment.get(_first_segment(path), ())
        if self._wild:
            candidates = sorted((*candidates, *self._wild), key=_order)
        for pattern in candidates:
            match = pattern.regex.match(path)
            if match is None:
                continue
            route = pattern.table.get(method)
            if route is None:
                allowed.update(pattern.table)
                continue
            params: dict[str, Any] = {}
            for (key, convert), raw in zip(pattern.params, match.groups(), strict=True):
                value = _unquote(raw) if "%" in raw else raw
                params[key] = value if convert is None else convert(value)
            return route, params
        if allowed:
            raise MethodNotAllowed(allowed=allowed)
        raise NotFound(f"Requested URL {path} not found")


def _order(pattern: _Pattern) -> int:
    return pattern.order


def _unquote(text: str) -> str:
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise BadRequest(f"Invalid percent-encoding in {text!r}") from None
