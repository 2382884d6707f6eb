"""The request object handed to handlers.

Everything beyond the request line is parsed lazily, on first access: headers stay raw
bytes until ``request.headers`` is read, and query args, cookies, JSON and form data are
decoded only when asked for.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, SimpleNamespace
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

import msgspec

from hurtle_http._multipart import File, parse_multipart, parse_options
from hurtle_http._mypyc import mypyc_attr
from hurtle_http._proxies import proxy_facts, trusts_proxies
from hurtle_http.exceptions import BadRequest, HTTPException, HurtleHttpError
from hurtle_http.headers import Headers

if TYPE_CHECKING:
    from hurtle_http._body import BodyStream
    from hurtle_http._respond import Responder
    from hurtle_http.app import HttpApp
    from hurtle_http.asgi import AsgiApp
    from hurtle_http.headers import HeaderSource
    from hurtle_http.response import HTTPResponse
    from hurtle_http.router import Route

_json_decode = msgspec.json.Decoder().decode


@dataclass(frozen=True, slots=True)
class ConnInfo:
    """Facts about the connection a request came on."""

    client_ip: str
    client_port: int
    server_ip: str
    server_port: int
    ssl: bool
    client: tuple[str, int] = field(init=False, repr=False, compare=False)
    """``(client_ip, client_port)``, made once per connection (an ASGI scope's ``client``)."""
    server: tuple[str, int] = field(init=False, repr=False, compare=False)
    """``(server_ip, server_port)``, made once per connection."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "client", (self.client_ip, self.client_port))
        object.__setattr__(self, "server", (self.server_ip, self.server_port))


@mypyc_attr(allow_interpreted_subclasses=True)
class RequestParameters(dict[str, list[str]]):
    """Multi-valued parameters: ``get`` returns the first value, ``getlist`` all of them."""

    def get(self, name: str, default: Any = None) -> Any:
        values = super().get(name)
        return values[0] if values else default

    def getlist(self, name: str, default: list[str] | None = None) -> list[str]:
        """Every value of ``name`` (``default`` or an empty list when absent)."""
        values = super().get(name)
        if values is None:
            return [] if default is None else default
        return values


@mypyc_attr(allow_interpreted_subclasses=True)
class CookieParameters(dict[str, str]):
    """Request cookies: ``cookies["a"]`` and ``get`` give the first value, ``getlist`` all."""

    def __init__(self) -> None:
        super().__init__()
        self._all: dict[str, list[str]] = {}

    def _add(self, name: str, value: str) -> None:
        self.setdefault(name, value)
        self._all.setdefault(name, []).append(value)

    def get(  # type: ignore[override]
        self,
        name: str,
        default: str | None = None,
        *,
        host_prefix: bool = False,
        secure_prefix: bool = False,
    ) -> str | None:
        """The first value of ``name`` (``host_prefix=True`` reads ``__Host-name``)."""
        return super().get(_prefixed(name, host_prefix, secure_prefix), default)

    def getlist(
        self,
        name: str,
        default: list[str] | None = None,
        *,
        host_prefix: bool = False,
        secure_prefix: bool = False,
    ) -> list[str]:
        """Every value of ``name`` (``default`` or an empty list when absent)."""
        values = self._all.get(_prefixed(name, host_prefix, secure_prefix))
        if values is None:
            return [] if default is None else default
        return list(values)


def _prefixed(name: str, host_prefix: bool, secure_prefix: bool) -> str:
    if host_prefix:
        return "__Host-" + name
    if secure_prefix:
        return "__Secure-" + name
    return name


def _parameters(pairs: list[tuple[str, str]]) -> RequestParameters:
    params = RequestParameters()
    for key, value in pairs:
        params.setdefault(key, []).append(value)
    return params


@mypyc_attr(allow_interpreted_subclasses=True)
class Request:
    """One HTTP request: method, path, query, headers, body and the matched route's params."""

    __slots__ = (
        "_authority",
        "_keep_alive",
        "_lazy",
        "_refusal",
        "_responder",
        "_route",
        "_started",
        "_websocket",
        "app",
        "body",
        "conn_info",
        "match_info",
        "method",
        "path",
        "query_string",
        "raw_headers",
        "raw_trailers",
        "raw_url",
        "stream",
        "version",
    )

    def __init__(
        self,
        app: HttpApp | AsgiApp,
        method: str,
        raw_url: bytes,
        raw_headers: list[tuple[bytes, bytes]],
        version: str,
        conn_info: ConnInfo,
    ) -> None:
        self.app = app
        self.method = method
        self.raw_url = raw_url
        path, _, query = raw_url.partition(b"?")
        self._authority: str | None = None
        if not path.startswith(b"/"):
            path, self._authority = _origin_path(path)
        self.path: str = path.decode("utf-8", "surrogateescape")
        self.query_string: str = query.decode("latin-1") if query else ""
        self.raw_headers = raw_headers
        self.raw_trailers: list[tuple[bytes, bytes]] = _NO_FIELDS
        # What the app resolved for this request when its head arrived (see HttpApp).
        self._route: object = None
        self._refusal: HTTPException | None = None
        self._websocket = False  # a GET asking for an upgrade to WebSocket
        # The body as it arrives, for stream=True routes and ASGI apps (else None).
        self.stream: BodyStream | None = None
        self.version = version
        self.conn_info = conn_info
        self.body: bytes = b""
        self.match_info: Mapping[str, Any] = _NO_PARAMS
        self._keep_alive = True
        self._responder: Responder | None = None
        self._lazy: _Lazy | None = None
        self._started = 0.0  # when the head was parsed, for the access log (if it is on)

    def _cache(self) -> _Lazy:
        lazy = self._lazy
        if lazy is None:
            lazy = self._lazy = _Lazy()
        return lazy

    @property
    def headers(self) -> Headers:
        """Case-insensitive, multi-valued request headers."""
        lazy = self._cache()
        if lazy.headers is None:
            lazy.headers = Headers.from_raw(self.raw_headers)
        return lazy.headers

    @property
    def trailers(self) -> Headers:
        """Trailer fields of a chunked body (empty until the body is complete).

        Trailers are never merged into ``headers`` (RFC 9110 6.5.1): do not use them for
        authentication, routing or framing.
        """
        return Headers.from_raw(self.raw_trailers)

    @property
    def ctx(self) -> SimpleNamespace:
        """A namespace for middleware and handlers to share per-request state."""
        lazy = self._cache()
        if lazy.ctx is None:
            lazy.ctx = SimpleNamespace()
        return lazy.ctx

    @property
    def args(self) -> RequestParameters:
        """The parsed query string (``?a=1&a=2`` gives ``getlist("a") == ["1", "2"]``)."""
        lazy = self._cache()
        if lazy.args is None:
            lazy.args = _parameters(parse_qsl(self.query_string, keep_blank_values=True))
        return lazy.args

    @property
    def query_args(self) -> list[tuple[str, str]]:
        """The query string as ``(name, value)`` pairs, in order."""
        return parse_qsl(self.query_string, keep_blank_values=True)

    @property
    def content_type(self) -> str:
        """The ``Content-Type`` header (empty when absent)."""
        return self.headers.get("content-type", "")

    @property
    def json(self) -> Any:
        """The body decoded as JSON (None for an empty body); invalid JSON raises BadRequest."""
        lazy = self._cache()
        if lazy.json is _UNSET:
            if not self.body:
                lazy.json = None
            else:
                try:
                    lazy.json = _json_decode(self.body)
                except msgspec.DecodeError as exc:
                    raise BadRequest(f"The request body is not valid JSON: {exc}") from None
        return lazy.json

    @property
    def form(self) -> RequestParameters:
        """Fields of a url-encoded or multipart form body (empty for other bodies)."""
        lazy = self._cache()
        if lazy.form is None:
            lazy.form, lazy.files = self._parse_form()
        return lazy.form

    @property
    def files(self) -> dict[str, list[File]]:
        """Files of a multipart form body, by field name."""
        lazy = self._cache()
        if lazy.files is None:
            lazy.form, lazy.files = self._parse_form()
        return lazy.files

    def _parse_form(self) -> tuple[RequestParameters, dict[str, list[File]]]:
        kind, options = parse_options(self.content_type)
        charset = options.get("charset", "utf-8")
        by_name: dict[str, list[File]] = {}
        if kind == "application/x-www-form-urlencoded":
            try:
                text = self.body.decode(charset)
            except (UnicodeDecodeError, LookupError):
                raise BadRequest("The form body is not valid in its charset") from None
            return _parameters(parse_qsl(text, keep_blank_values=True)), by_name
        if kind == "multipart/form-data":
            fields, files = parse_multipart(self.body, options.get("boundary", ""), charset)
            for item in files:
                by_name.setdefault(item.name, []).append(item)
            return _parameters(fields), by_name
        return RequestParameters(), by_name

    @property
    def cookies(self) -> CookieParameters:
        """Cookies sent in ``Cookie`` headers (``getlist`` for a name sent several times)."""
        lazy = self._cache()
        if lazy.cookies is None:
            cookies = CookieParameters()
            for header in self.headers.getall("cookie"):
                for pair in header.split(";"):
                    name, sep, value = pair.strip().partition("=")
                    if sep and name:
                        value = value.strip()
                        if len(value) >= 2 and value[0] == value[-1] == '"':
                            value = value[1:-1]
                        cookies._add(name.strip(), unquote(value))
            lazy.cookies = cookies
        return lazy.cookies

    @property
    def token(self) -> str | None:
        """The credential of an ``Authorization: Bearer <t>`` or ``Token <t>`` header."""
        header = self.headers.get("authorization")
        if header is None:
            return None
        scheme, _, credential = header.strip().partition(" ")
        if scheme.lower() in ("bearer", "token") and credential.strip():
            return credential.strip()
        return None

    @property
    def ip(self) -> str:
        """The client's IP address."""
        return self.conn_info.client_ip

    @property
    def port(self) -> int:
        """The client's port."""
        return self.conn_info.client_port

    @property
    def client(self) -> tuple[str, int]:
        """The client address ``(ip, port)``."""
        return self.conn_info.client

    async def respond(
        self,
        response: HTTPResponse | None = None,
        *,
        status: int = 200,
        headers: HeaderSource | None = None,
        content_type: str | None = None,
    ) -> Any:
        """Start the response now; returns a stream: ``await response.send(data)``, then
        ``await response.eof()`` (see ``hurtle_http._respond``). Given a ``response``,
        send that one. Call it from the route's handler itself."""
        if self._responder is None:
            raise HurtleHttpError(
                "request.respond() works in a route handler that calls it directly: call it "
                "in the handler (not in a helper), or return a response or stream(...) instead"
            )
        return await self._responder.respond(
            response, status=status, headers=headers, content_type=content_type
        )

    @property
    def route(self) -> Route | None:
        """The route this request matched (None before routing or when none matched)."""
        resolved = self._route
        return resolved[0] if isinstance(resolved, tuple) else None

    @property
    def name(self) -> str | None:
        """The matched route's name (``"bp.handler"`` for a blueprint's route)."""
        route = self.route
        return route.name if route is not None else None

    @property
    def endpoint(self) -> str | None:
        """``"<app>.<route name>"``, as the reference names it."""
        route = self.route
        return f"{self.app.name}.{route.name}" if route is not None else None

    @property
    def uri_template(self) -> str | None:
        """The matched route's path, e.g. ``/users/<user_id:int>``."""
        route = self.route
        return route.path if route is not None else None

    @property
    def id(self) -> Any:
        """This request's id: the ``REQUEST_ID_HEADER`` (``X-Request-ID``) the client or a
        proxy sent, else a new ``uuid.UUID`` (the same for the whole request)."""
        lazy = self._cache()
        if lazy.id is None:
            config = getattr(self.app, "config", None)
            name = config.get("REQUEST_ID_HEADER", "X-Request-ID") if config is not None else None
            sent = self.headers.get(name) if name else None
            lazy.id = sent if sent and len(sent) <= 200 else uuid.uuid4()
        return lazy.id

    @property
    def forwarded(self) -> Mapping[str, str]:
        """What a trusted proxy says about the client (``for``, ``proto``, ``host``, ...).

        Empty unless the app trusts proxies: ``FORWARDED_SECRET`` (the ``Forwarded``
        element carrying ``secret=`` or ``by=`` that value), ``REAL_IP_HEADER``, or
        ``PROXIES_COUNT`` (that many proxies append to ``X-Forwarded-For``; -1 trusts all).
        """
        lazy = self._cache()
        if lazy.forwarded is None:
            config = getattr(self.app, "config", None)
            lazy.forwarded = proxy_facts(self.headers, config) if config is not None else {}
        return lazy.forwarded

    @property
    def remote_addr(self) -> str:
        """The client address a trusted proxy reported (empty when there is none)."""
        return self.forwarded.get("for", "")

    @property
    def client_ip(self) -> str:
        """``remote_addr`` when a trusted proxy reported it, else the peer's address."""
        return self.forwarded.get("for") or self.conn_info.client_ip

    @property
    def scheme(self) -> str:
        """``https`` on a TLS connection (or when a trusted proxy says so), else ``http``."""
        if trusts_proxies(getattr(self.app, "config", None)):
            proto = self.forwarded.get("proto")
            if proto in ("http", "https"):
                return proto
        return "https" if self.conn_info.ssl else "http"

    @property
    def host(self) -> str:
        """The host a trusted proxy reported, else the authority of an absolute-form
        target, else the ``Host`` header, else the server address (RFC 9112 3.2)."""
        if trusts_proxies(getattr(self.app, "config", None)):
            forwarded_host = self.forwarded.get("host")
            if forwarded_host and valid_authority(forwarded_host.encode("latin-1")):
                return forwarded_host
        if self._authority is not None:
            return self._authority
        host = self.headers.get("host")
        if host:
            return host
        return f"{self.conn_info.server_ip}:{self.conn_info.server_port}"

    @property
    def url(self) -> str:
        """The full URL the client asked for."""
        query = f"?{self.query_string}" if self.query_string else ""
        return f"{self.scheme}://{self.host}{self.path}{query}"

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.path}>"


class _Unset:
    __slots__ = ()


_UNSET: Any = _Unset()
_NO_PARAMS: Mapping[str, Any] = MappingProxyType({})


class _Lazy:
    """What a request parses on first access (most requests never need it)."""

    __slots__ = ("args", "cookies", "ctx", "files", "form", "forwarded", "headers", "id", "json")

    def __init__(self) -> None:
        self.headers: Headers | None = None
        self.args: RequestParameters | None = None
        self.cookies: CookieParameters | None = None
        self.forwarded: dict[str, str] | None = None
        self.id: Any = None
        self.form: RequestParameters | None = None
        self.files: dict[str, list[File]] | None = None
        self.json: Any = _UNSET
        self.ctx: SimpleNamespace | None = None


_NO_FIELDS: list[tuple[bytes, bytes]] = []


# RFC 3986 authority without userinfo: an IP literal or a reg-name, then an optional port.
_AUTHORITY = re.compile(rb"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]*)(?::[0-9]*)?")


def valid_authority(value: bytes) -> bool:
    """Whether ``value`` is a valid ``Host`` / target authority (``host[:port]``)."""
    return _AUTHORITY.fullmatch(value) is not None


def _origin_path(target: bytes) -> tuple[bytes, str | None]:
    """The path and authority of an absolute-form (``http://h/p``) or asterisk-form target."""
    if target == b"*":
        return target, None
    scheme, sep, rest = target.partition(b"://")
    if not sep or not scheme.isalpha():
        raise BadRequest("Malformed request target: it must start with '/' or 'http://'")
    slash = rest.find(b"/")
    authority = rest[:slash] if slash >= 0 else rest
    if not authority or not valid_authority(authority):
        raise BadRequest(f"Invalid authority {authority!r} in the request target")
    return (rest[slash:] if slash >= 0 else b"/"), authority.decode("ascii")
