"""A small client for the inspector's HTTP API, on the standard library's ``http.client``.

``Endpoint`` says where the inspector is and how to reach it; ``InspectorClient.call`` sends
one request and returns the decoded envelope, or raises the ``HurtleCliError`` subclass
that says what went wrong (never a bare socket or HTTP exception).
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import msgspec

from hurtle_cli.__about__ import __version__
from hurtle_cli.errors import (
    AuthenticationError,
    CommandFailedError,
    EndpointError,
    InspectorUnreachableError,
    ProtocolError,
    UnknownCommandError,
)
from hurtle_cli.results import Envelope

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "Endpoint",
    "InspectorAnswer",
    "InspectorClient",
    "Reply",
]

DEFAULT_HOST = "localhost"
DEFAULT_PORT = 6457
BUILTIN_NAMES = ("reload", "restart", "scale", "shutdown", "stats")

_encoder = msgspec.json.Encoder()
_envelope = msgspec.json.Decoder(Envelope)


@dataclass(frozen=True)
class Endpoint:
    """Where the inspector listens and how to talk to it."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    secure: bool = False
    api_key: str | None = None
    cafile: str | None = None
    insecure: bool = False

    @classmethod
    def parse(
        cls,
        host: str,
        port: int | None,
        *,
        secure: bool = False,
        api_key: str | None = None,
        cafile: str | None = None,
        insecure: bool = False,
    ) -> Endpoint:
        """Build from ``--host`` (``name``, ``name:port``, ``http(s)://name[:port]``) and the rest.

        A scheme sets TLS on (``https``) or must agree with ``secure``; a port in the host
        must agree with ``port`` when both are given.
        """
        text = host.strip()
        scheme = ""
        if "://" in text:
            scheme, _, text = text.partition("://")
            scheme = scheme.lower()
            if scheme not in ("http", "https"):
                raise EndpointError(f"--host {host!r}: only http:// and https:// are understood")
            if scheme == "http" and (secure or cafile is not None or insecure):
                raise EndpointError(
                    f"--host {host!r} says http:// but --secure, --cafile or --insecure "
                    "asks for TLS"
                )
        text = text.rstrip("/")
        if "/" in text:
            raise EndpointError(f"--host {host!r}: give a host name, not a URL path")
        name, host_port = _split_host(text, host)
        if host_port is not None and port is not None and host_port != port:
            raise EndpointError(f"--host {host!r} names port {host_port} but --port is {port}")
        chosen = host_port if host_port is not None else port
        if chosen is None:
            chosen = DEFAULT_PORT
        if not 0 < chosen < 65536:
            raise EndpointError(f"port {chosen} is out of range (1-65535)")
        if api_key:
            _check_api_key(api_key)
        return cls(
            host=name,
            port=chosen,
            secure=secure or scheme == "https" or cafile is not None or insecure,
            api_key=api_key or None,
            cafile=cafile,
            insecure=insecure,
        )

    @property
    def address(self) -> str:
        """``host:port`` as people write it (IPv6 in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """The base URL, e.g. ``https://localhost:6457``."""
        return f"{'https' if self.secure else 'http'}://{self.address}"

    @property
    def is_loopback(self) -> bool:
        """True when the host is this machine (the API key then never leaves it)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


def _check_api_key(key: str) -> None:
    """Refuse a key no inspector can match: headers carry only visible ASCII."""
    for position, char in enumerate(key, 1):
        if not "!" <= char <= "~":
            kind = "a space or control character" if char.isascii() else "a non-ASCII character"
            raise EndpointError(
                f"--api-key has {kind} at position {position}: the key travels in an HTTP "
                "header (Authorization: Bearer KEY), which carries only visible ASCII, and an "
                "inspector accepts only such keys. Check the key (or HURTLE_INSPECTOR_API_KEY)."
            )


def _split_host(text: str, original: str) -> tuple[str, int | None]:
    if not text:
        raise EndpointError(f"--host {original!r}: the host name is empty")
    if text.count(":") > 1 and not text.startswith("["):
        return text, None  # a bare IPv6 address
    try:
        parts = urlsplit("//" + text)
        port = parts.port
    except ValueError as exc:
        raise EndpointError(f"--host {original!r}: {exc}") from None
    if not parts.hostname:
        raise EndpointError(f"--host {original!r}: the host name is empty")
    return parts.hostname, port


@dataclass(frozen=True)
class InspectorAnswer:
    """A successful answer: the action that ran and its raw JSON result."""

    action: str
    result: msgspec.Raw
    status: int


Reply = InspectorAnswer
"""Former name of ``InspectorAnswer`` (kept for callers)."""


class InspectorClient:
    """Sends commands to one inspector; each call opens its own connection."""

    def __init__(self, endpoint: Endpoint, timeout: float = 10.0) -> None:
        self.endpoint = endpoint
        self.timeout = timeout

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.endpoint.cafile)
        if self.endpoint.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        ep = self.endpoint
        if ep.secure:
            try:
                context = self._ssl_context()
            except (OSError, ssl.SSLError) as exc:
                raise InspectorUnreachableError(
                    f"cannot use --cafile {ep.cafile!r}: {_reason(exc)}"
                ) from None
            return http.client.HTTPSConnection(ep.host, ep.port, timeout=timeout, context=context)
        return http.client.HTTPConnection(ep.host, ep.port, timeout=timeout)

    def call(
        self,
        action: str,
        method: str,
        path: str,
        body: dict[str, object] | None = None,
        timeout: float | None = None,
    ) -> InspectorAnswer:
        """Send one request; return the answer or raise a precise ``HurtleCliError``."""
        limit = self.timeout if timeout is None else timeout
        headers = {
            "Accept": "application/json",
            "User-Agent": f"hurtle-cli/{__version__}",
        }
        if self.endpoint.api_key:
            headers["Authorization"] = f"Bearer {self.endpoint.api_key}"
        payload = None
        if body is not None:
            payload = _encoder.encode(body)
            headers["Content-Type"] = "application/json"
        connection = self._connection(limit)
        try:
            self._connect(connection, limit)
            try:
                connection.request(method, quote(path), body=payload, headers=headers)
                response = connection.getresponse()
                data = response.read()
            except TimeoutError:
                raise InspectorUnreachableError(
                    f"the inspector at {self.endpoint.address} did not answer {action} within "
                    f"{limit:g} s (a slow command may need a larger --timeout)"
                ) from None
            except (http.client.HTTPException, OSError) as exc:
                raise self._unreachable(exc) from None
        finally:
            connection.close()
        return self._reply(action, response, data)

    def _connect(self, connection: http.client.HTTPConnection, limit: float) -> None:
        try:
            connection.connect()
        except TimeoutError:
            raise self._unreachable(None, f"no connection within {limit:g} s") from None
        except (http.client.HTTPException, OSError) as exc:
            raise self._unreachable(exc) from None

    def _unreachable(
        self, exc: BaseException | None, reason: str | None = None
    ) -> InspectorUnreachableError:
        ep = self.endpoint
        hint = ""
        if isinstance(exc, ssl.SSLCertVerificationError):
            reason = f"TLS certificate not trusted ({exc.verify_message})"
            hint = "; pass --cafile with the certificate that signed it (or --insecure)"
        elif isinstance(exc, ssl.SSLError):
            reason = f"TLS failed ({_reason(exc)})"
            hint = "; does the inspector use TLS? try without --secure or with http://"
        elif isinstance(exc, ConnectionRefusedError):
            reason = "connection refused"
            hint = "; is the app running with the inspector enabled on this port?"
        elif isinstance(exc, socket.gaierror):
            reason = f"unknown host ({exc.strerror})"
        elif isinstance(
            exc, (http.client.RemoteDisconnected, http.client.BadStatusLine, ConnectionResetError)
        ):
            reason = "the connection closed without an HTTP answer"
            if not ep.secure:
                hint = "; does the inspector use TLS? try --secure or an https:// host"
        elif exc is not None:
            reason = _reason(exc)
        return InspectorUnreachableError(
            f"cannot reach the inspector at {ep.address}: {reason}{hint}"
        )

    def _reply(
        self, action: str, response: http.client.HTTPResponse, data: bytes
    ) -> InspectorAnswer:
        status = response.status
        if status == 401:
            given = "" if self.endpoint.api_key else " (none was given)"
            raise AuthenticationError(f"authentication failed: check --api-key{given}")
        try:
            envelope = _envelope.decode(data)
        except msgspec.DecodeError:
            kind = response.getheader("Content-Type") or "no content type"
            raise ProtocolError(
                f"the server at {self.endpoint.address} answered HTTP {status} ({kind}), "
                "not like a Hurtle inspector: is this the inspector's port?"
            ) from None
        message = envelope.error
        if status == 404:
            raise UnknownCommandError(_unknown_command(action, envelope))
        if status >= 300 or message is not None:
            text = message or f"HTTP {status} {response.reason}"
            raise CommandFailedError(f"{action} failed (HTTP {status}): {text}")
        return InspectorAnswer(envelope.meta.action or action, envelope.result, status)


def _unknown_command(action: str, envelope: Envelope) -> str:
    available = envelope.available
    if available is None:
        try:
            listed = msgspec.json.decode(envelope.result, type=list[str] | None)
        except msgspec.DecodeError:
            listed = None
        available = listed
    if available:
        return f"unknown command {action} (available: {', '.join(available)})"
    message = envelope.error or ""
    _, found, names = message.partition("available")
    if found:
        names = names.lstrip(" :").rstrip(" .)")
        if names:
            return f"unknown command {action} (available: {names})"
    return (
        f"unknown command {action} (the server did not list its commands; "
        f"the built-in ones are {', '.join(BUILTIN_NAMES)})"
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).lower().replace("_", " ")
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower() if exc.strerror[:1].isupper() else exc.strerror
    return str(exc) or type(exc).__name__
