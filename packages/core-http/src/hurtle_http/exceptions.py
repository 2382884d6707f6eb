"""The exceptions of hurtle-http.

`HurtleHttpError` is the base of everything this package raises. `HTTPException` and its
subclasses are raised by handlers (or by the server) to answer with an HTTP error status;
the other subclasses signal misuse of the API or a failure to start.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from http import HTTPStatus


class HurtleHttpError(Exception):
    """Base class of every exception raised by hurtle-http."""


class ConfigError(HurtleHttpError, ValueError):
    """A configuration value (often from a ``HURTLE_*`` variable) has the wrong type."""


class RouteError(HurtleHttpError, ValueError):
    """A route is malformed or registered twice."""


class ServerError(HurtleHttpError):
    """The server could not start (for example, the address is already in use)."""


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
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if status_code is not None:
            self.status_code = status_code
        if message is None:
            message = HTTPStatus(self.status_code).phrase
        super().__init__(message)
        self.message = message
        self.headers: dict[str, str] = dict(headers) if headers else {}


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
    ) -> None:
        super().__init__(message, status_code, headers=headers)
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
    ) -> None:
        super().__init__(message, status_code, headers=headers)
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


class InternalServerError(HTTPException):
    """500: the server failed while handling the request."""

    status_code = 500
    quiet = False


class ServiceUnavailable(HTTPException):
    """503: the server cannot answer now (for example, the response timed out)."""

    status_code = 503


class UpgradeRequired(HTTPException):
    """426: the route speaks WebSocket only (the request did not ask for the upgrade)."""

    status_code = 426


class HTTPVersionNotSupported(HTTPException):
    """505: the request uses an HTTP version other than 1.0 or 1.1."""

    status_code = 505
