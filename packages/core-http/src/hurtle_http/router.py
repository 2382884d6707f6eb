"""URL routing: static paths by dict lookup, typed patterns (``/users/<id:int>``) after.

Parameter types: ``str`` (default, one segment), ``int``, ``float``, ``uuid``, ``slug``,
``alpha`` (letters), ``ymd`` (a ``datetime.date``), ``strorempty`` (a segment that may be
empty), ``path`` (the rest of the path, slashes included), ``ext`` (``<file:ext>`` matches
``name.ext`` and gives both ``file`` and ``ext``; ``<file:ext=jpg|png>`` limits the
extensions, ``<file=int:ext>`` types the name) and regular expressions
(``<code:[a-z]{3}>``). A GET route also answers HEAD unless HEAD is routed explicitly.

A route that is not ``strict_slashes`` also answers its path with (or without) a trailing
slash; a ``host`` route answers only requests for that ``Host``. ``resolve`` raises
``NotFound`` or ``MethodNotAllowed``; ``url_for`` builds a route's path from its name.
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from hurtle_http.exceptions import BadRequest, MethodNotAllowed, NotFound, RouteError, URLBuildError

if TYPE_CHECKING:
    from hurtle_http.request import Request
    from hurtle_http.response import HTTPResponse

Handler = Callable[..., "Awaitable[HTTPResponse] | HTTPResponse"]
Middleware = Callable[..., Any]
ErrorHandlers = Mapping[type[BaseException], Callable[["Request", Exception], Any]]

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

Converter = Callable[[str], Any]

# Parameter type -> (regex, converter); None keeps the matched text as a str.
_PARAM_TYPES: dict[str, tuple[str, Converter | None]] = {
    "str": (r"[^/]+", None),
    "int": (r"-?\d+", int),
    "float": (r"-?\d+(?:\.\d+)?", float),
    "uuid": (r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}", uuid.UUID),
    "slug": (r"[a-z0-9]+(?:-[a-z0-9]+)*", None),
    "alpha": (r"[A-Za-z]+", None),
    "ymd": (r"\d{4}-\d{2}-\d{2}", datetime.date.fromisoformat),
    "strorempty": (r"[^/]*", None),
    "path": (r".+", None),
}
_EXT = r"[A-Za-z0-9]+"
# The parameters of a static route: none (shared; never mutated: a handler gets a copy).
_NO_PARAMS: dict[str, Any] = {}
# <name>, <name:type>, <name:regex>, <file:ext>, <file:ext=a|b>, <file=type:ext>
_PARAM = re.compile(r"<([A-Za-z_][A-Za-z0-9_]*)(?:=([a-z]+))?(?::([^<>]+))?>")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# (regex group, parameter name, converter)
Params = tuple[tuple[str, str, "Converter | None"], ...]


@dataclass(slots=True)
class Route:
    """One registered handler: its path pattern, methods and parameter converters.

    ``request_middleware``, ``response_middleware`` and ``error_handlers`` are those of
    the blueprints (and groups) the route was registered through; the app's own run too.
    """

    path: str
    handler: Handler
    methods: frozenset[str]
    name: str
    is_async: bool
    pattern: re.Pattern[str] | None = None
    params: Params = ()
    stream: bool = False  # the handler reads request.stream; the body is not buffered
    strict_slashes: bool = False
    host: str | None = None
    request_middleware: tuple[tuple[Middleware, bool], ...] = ()
    response_middleware: tuple[tuple[Middleware, bool], ...] = ()
    error_handlers: ErrorHandlers = field(default_factory=dict)
    parts: tuple[tuple[str, str, str], ...] = ()  # (name, regex, kind) for url_for
    responds: bool = False  # the handler may call request.respond(): run it in a task
    websocket: bool = False  # a WebSocket handler: handler(request, ws, **params)
    subprotocols: tuple[str, ...] = ()  # the WebSocket subprotocols it speaks, preferred first


@dataclass(slots=True)
class _Pattern:
    """A compiled dynamic path, the routes registered on it (by method) and its parameters."""

    regex: re.Pattern[str]
    params: Params
    order: int
    table: dict[str, Route] = field(default_factory=dict)


def _compile(
    path: str, strict_slashes: bool = True
) -> tuple[re.Pattern[str] | None, Params, tuple[tuple[str, str, str], ...]]:
    """The regex, parameters and parts of a path with ``<name:type>`` parts (None if static)."""
    params: list[tuple[str, str, Converter | None]] = []
    parts: list[tuple[str, str, str]] = []
    names: set[str] = set()
    regex = ["^"]
    pos = 0
    for index, match in enumerate(_PARAM.finditer(path)):
        name, name_kind, kind = match.group(1), match.group(2), match.group(3) or "str"
        regex.append(re.escape(path[pos : match.start()]))
        pos = match.end()
        group = f"p{index}"
        if kind == "ext" or kind.startswith("ext="):
            base, convert = _PARAM_TYPES.get(name_kind or "str", (None, None))
            if base is None:
                raise RouteError(f"Unknown parameter type {name_kind!r} in {path!r}")
            ext = kind.partition("=")[2]
            ext_regex = "|".join(re.escape(e) for e in ext.split("|")) if ext else _EXT
            if name_kind is None:
                base = r"[^/]+"
            _claim(names, path, name)
            _claim(names, path, "ext")
            regex.append(f"(?P<{group}>{base})\\.(?P<{group}x>{ext_regex})")
            params += [(group, name, convert), (f"{group}x", "ext", None)]
            parts.append((name, f"(?:{base})\\.(?:{ext_regex})", "ext"))
            continue
        if name_kind is not None:
            raise RouteError(f"<{name}={name_kind}:...> is only valid with ext in {path!r}")
        if kind in _PARAM_TYPES:
            part, convert = _PARAM_TYPES[kind]
        elif _WORD.fullmatch(kind):
            known = ", ".join((*_PARAM_TYPES, "ext"))
            raise RouteError(
                f"Unknown parameter type {kind!r} in {path!r}: use one of {known}, "
                "or a regular expression"
            )
        else:
            part, convert = kind.removeprefix("^").removesuffix("$"), None
            try:
                re.compile(part)
            except re.error as exc:
                raise RouteError(
                    f"Invalid regular expression {kind!r} in {path!r}: {exc}"
                ) from None
        _claim(names, path, name)
        regex.append(f"(?P<{group}>{part})")
        params.append((group, name, convert))
        parts.append((name, part, kind))
    if not params:
        if "<" in path or ">" in path:
            raise RouteError(f"Malformed parameter in route {path!r}: write <name> or <name:type>")
        return None, (), ()
    tail = path[pos:]
    if strict_slashes:
        regex.append(re.escape(tail) + "$")
    else:
        regex.append(re.escape(tail.rstrip("/")) + "/?$")
    return re.compile("".join(regex)), tuple(params), tuple(parts)


def _claim(names: set[str], path: str, name: str) -> None:
    if name in names:
        raise RouteError(f"Parameter {name!r} appears twice in route {path!r}")
    names.add(name)


def _first_segment(path: str) -> str:
    """``"users"`` for ``"/users/1"``: the key that narrows the patterns to try."""
    return path[1:].partition("/")[0]


def _other_slash(path: str) -> str | None:
    """``/a/`` for ``/a`` and the reverse (None for ``/``)."""
    if path == "/":
        return None
    return path[:-1] if path.endswith("/") else path + "/"


class Router:
    """Maps ``(method, path)`` (and ``Host``) to a ``Route`` and its converted parameters."""

    def __init__(self) -> None:
        self._static: dict[str, dict[str, Route]] = {}
        # A non-strict static route's other spelling (with/without the trailing slash).
        self._loose: dict[str, dict[str, Route]] = {}
        self._patterns: list[_Pattern] = []
        # Patterns whose first segment is literal, by that segment; the others in _wild.
        self._by_segment: dict[str, list[_Pattern]] = {}
        self._wild: list[_Pattern] = []
        # Routes registered with host=..., one router per host (lower case).
        self._hosts: dict[str, Router] = {}
        # Whether any route is limited to a host (then ``resolve`` needs the ``Host``).
        self.has_hosts = False
        self.routes: list[Route] = []
        self.names: dict[str, Route] = {}
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
        strict_slashes: bool = True,
        host: str | Iterable[str] | None = None,
        request_middleware: tuple[tuple[Middleware, bool], ...] = (),
        response_middleware: tuple[tuple[Middleware, bool], ...] = (),
        error_handlers: ErrorHandlers | None = None,
        responds: bool = False,
        websocket: bool = False,
        subprotocols: tuple[str, ...] = (),
    ) -> Route:
        """Register ``handler`` for ``path`` and ``methods``; return the route."""
        if not path.startswith("/"):
            raise RouteError(f"Route {path!r} must start with '/': write '/{path}'")
        wanted = frozenset(m.upper() for m in methods)
        if not wanted:
            raise RouteError(f"Route {path!r} has no methods")
        pattern, params, parts = _compile(path, strict_slashes)
        hosts = [host] if isinstance(host, str) else list(host or ())
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
            strict_slashes=strict_slashes,
            host=hosts[0] if hosts else None,
            request_middleware=request_middleware,
            response_middleware=response_middleware,
            error_handlers=error_handlers or {},
            parts=parts,
            responds=responds,
            websocket=websocket,
            subprotocols=subprotocols,
        )
        for each in hosts:
            self._hosts.setdefault(each.lower(), Router())._insert(route, path, pattern, wanted)
            self.has_hosts = True
        if not hosts:
            self._insert(route, path, pattern, wanted)
        self.routes.append(route)
        self.names.setdefault(route.name, route)
        return route

    def _insert(
        self, route: Route, path: str, pattern: re.Pattern[str] | None, wanted: frozenset[str]
    ) -> None:
        table = self._table_for(path, pattern, route.params)
        _fill(table, route, path, wanted)
        if pattern is None and not route.strict_slashes:
            other = _other_slash(path)
            if other is not None:
                loose = self._loose.setdefault(other, {})
                for method in (*wanted, "HEAD"):
                    if method != "HEAD" or "GET" in wanted or "HEAD" in wanted:
                        loose.setdefault(method, table[method])

    def _table_for(
        self, path: str, regex: re.Pattern[str] | None, params: Params
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

    def resolve(
        self, method: str, path: str, host: str | None = None
    ) -> tuple[Route, dict[str, Any]]:
        """The route and converted parameters for a request; raises NotFound/MethodNotAllowed.

        ``host`` (the request's ``Host``) selects among routes registered with ``host=``;
        when none of them matches, the routes without a host are tried.
        """
        if host is not None and self._hosts:
            sub = self._hosts.get(host.lower()) or self._hosts.get(host.rpartition(":")[0].lower())
            if sub is not None:
                try:
                    return sub.resolve(method, path)
                except NotFound:
                    pass
        table = self._static.get(path)
        if table is None and "%" in path:
            table = self._static.get(_unquote(path))
        if table is not None:
            route = table.get(method)
            if route is not None:
                return route, _NO_PARAMS
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
            try:
                for group, key, convert in pattern.params:
                    raw = match.group(group)
                    value = _unquote(raw) if "%" in raw else raw
                    params[key] = value if convert is None else convert(value)
            except ValueError:
                continue  # e.g. <day:ymd> with 2024-02-31: not this route
            return route, params
        if allowed:
            raise MethodNotAllowed(allowed=allowed)
        loose = self._loose.get(path)
        if loose is not None:
            route = loose.get(method)
            if route is not None:
                return route, {}
            raise MethodNotAllowed(allowed=loose)
        raise NotFound(f"Requested URL {path} not found")

    def url_for(self, name: str, params: Mapping[str, Any]) -> tuple[Route, str, dict[str, Any]]:
        """The route named ``name``, its path built from ``params``, and the unused params.

        Raises ``URLBuildError`` for an unknown name, a missing parameter or a value that
        does not match its parameter's type.
        """
        route = self.names.get(name)
        if route is None:
            raise URLBuildError(f"No route named {name!r}: the names are {sorted(self.names)}")
        rest = dict(params)
        built: list[str] = []
        pos = 0
        path = route.path
        for match, (key, part, kind) in zip(_PARAM.finditer(path), route.parts, strict=True):
            built.append(path[pos : match.start()])
            pos = match.end()
            if key not in rest:
                raise URLBuildError(f"Route {name!r} needs the parameter {key!r}")
            value = rest.pop(key)
            if kind == "ext":
                if "ext" not in rest:
                    raise URLBuildError(f"Route {name!r} needs the parameter 'ext'")
                value = f"{value}.{rest.pop('ext')}"
            value = value.isoformat() if isinstance(value, datetime.date) else str(value)
            if re.fullmatch(part, value) is None:
                raise URLBuildError(
                    f"Value {value!r} of {key!r} does not match {kind!r} in route {name!r}"
                )
            built.append(quote(value, safe="/" if kind == "path" else ""))
        built.append(path[pos:])
        return route, "".join(built), rest


def _fill(table: dict[str, Route], route: Route, path: str, wanted: frozenset[str]) -> None:
    for method in wanted:
        existing = table.get(method)
        if existing is not None and (method != "HEAD" or "HEAD" in existing.methods):
            raise RouteError(f"Route {method} {path} is already registered")
        table[method] = route
    if "GET" in wanted and "HEAD" not in table:
        table["HEAD"] = route


def _order(pattern: _Pattern) -> int:
    return pattern.order


def _unquote(text: str) -> str:
    try:
        return unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise BadRequest(f"Invalid percent-encoding in {text!r}") from None
