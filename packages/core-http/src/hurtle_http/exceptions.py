"""The exceptions of hurtle-http.

`HurtleHttpError` is the base of everything this package raises. `HTTPException` and its
subclasses are raised by handlers (or by the server) to answer with an HTTP error status;
the other subclasses signal misuse of the API or a failure to start.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any


class HurtleHttpError(Exception):
    """Base class of every exception raised by hurtle-http."""


class ConfigError(HurtleHttpError, ValueError):
    """A configuration value (often from a ``HURTLE_*`` variable) has the wrong type."""


class RouteError(HurtleHttpError, ValueError):
    """A route is malformed or registered twice."""


class LifespanError(HurtleHttpError):
    """An ASGI app's lifespan startup failed (the message carries the app's reason)."""


class HTTPException(HurtleHttpError):
    """An error answered to the client with ``status_code`` and ``message``.

    Raise it (or a subclass) from a handler or middleware. ``headers`` are added to the
    error response. Subclasses set ``status_code``; the default message is the status phrase.
    """

    status_code: int = 500
    quiet: bool = True

    def __init__(
        self,
        message: str | None = None,
        status_code: int | None = None,
        *,
        quiet: bool | None = None,
        context: Mapping[str, object] | None = None,
        extra: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if status_code is not None:
            self.status_code = status_code
        if quiet is not None:
            self.quiet = quiet
        if message is None:
            message = getattr(self, "message", None) or _phrase(self.status_code)
        super().__init__(message)
        self.message = message
        self.context: dict[str, object] = dict(context) if context else {}
        """Public details, shown in a JSON error body (``{"context": ...}``)."""
        self.extra: dict[str, object] = dict(extra) if extra else {}
        """Private details, shown only when ``DEBUG`` is on."""
        self.headers: dict[str, str] = dict(headers) if headers else {}


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class BadRequest(HTTPException):
    """400: the request is malformed."""

    status_code = 400


class Unauthorized(HTTPException):
    """401: authentication is required; ``scheme`` fills ``WWW-Authenticate``."""

    status_code = 401

    def __init__(
        self,
        message: str | None = None,
        status_code: int | None = None,
        *,
        scheme: str | None = None,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, status_code, headers=headers, **kwargs)
        if scheme:
            self.headers.setdefault("WWW-Authenticate", scheme)


class Forbidden(HTTPException):
    """403: the client may not access this resource."""

    status_code = 403


class NotFound(HTTPException):
    """404: no route or resource matches."""

    status_code = 404


class MethodNotAllowed(HTTPException):
    """405: the path exists but not for this method; ``allowed`` fills the ``Allow`` header."""

    status_code = 405

    def __init__(
        self,
        message: str | None = None,
        status_code: int | None = None,
        *,
        allowed: Iterable[str] = (),
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, status_code, headers=headers, **kwargs)
        self.allowed = tuple(sorted(allowed))
        if self.allowed:
            self.headers.setdefault("Allow", ", ".join(self.allowed))


class RequestTimeout(HTTPException):
    """408: the client took too long to send its request."""

    status_code = 408


class PayloadTooLarge(HTTPException):
    """413: the request body exceeds ``REQUEST_MAX_SIZE``."""

    status_code = 413


class URITooLong(HTTPException):
    """414: the request target exceeds ``REQUEST_MAX_URL``."""

    status_code = 414


class RangeNotSatisfiable(HTTPException):
    """416: the requested byte range lies outside the file."""

    status_code = 416


class ExpectationFailed(HTTPException):
    """417: the ``Expect`` header holds something other than ``100-continue``."""

    status_code = 417


class HeaderFieldsTooLarge(HTTPException):
    """431: the request headers exceed ``REQUEST_MAX_HEADER_SIZE`` or ``REQUEST_MAX_HEADERS``."""

    status_code = 431


class ServerError(HTTPException):
    """500: the server failed (also raised when the server cannot start, e.g. address in use)."""

    status_code = 500
    quiet = False


class InternalServerError(ServerError):
    """500: the server failed while handling the request."""


class URLBuildError(ServerError):
    """``url_for`` cannot build a URL: unknown route name, missing or mistyped parameter."""


class HeaderNotFound(BadRequest):
    """400: a header the handler needs is missing."""


class InvalidHeader(BadRequest):
    """400: a header the handler needs is malformed."""


class FileNotFound(NotFound):
    """404: a static file does not exist (``path`` and ``relative_url`` say which)."""

    def __init__(
        self, message: str | None = None, path: str = "", relative_url: str = "", **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.path = path
        self.relative_url = relative_url


class ServiceUnavailable(HTTPException):
    """503: the server cannot answer now (for example, the response timed out)."""

    status_code = 503


class UpgradeRequired(HTTPException):
    """426: the route speaks WebSocket only (the request did not ask for the upgrade)."""

    status_code = 426


class HTTPVersionNotSupported(HTTPException):
    """505: the request uses an HTTP version other than 1.0 or 1.1."""

    status_code = 505
