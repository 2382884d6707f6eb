"""hurtle-http: a fast, correct HTTP/1.1 server core on httptools and uvloop.

Build an ``HttpApp``, register handlers, then ``app.run()`` it, or ``serve`` it on a socket
you bound yourself inside a running event loop.
"""

from hurtle_http.__about__ import __version__
from hurtle_http._body import BodyStream, ClientDisconnected
from hurtle_http._multipart import File
from hurtle_http._tls import create_context as create_ssl_context
from hurtle_http.app import HttpApp
from hurtle_http.asgi import AsgiApp, asgi_interface
from hurtle_http.config import Config
from hurtle_http.exceptions import (
    BadRequest,
    ConfigError,
    ExpectationFailed,
    Forbidden,
    HeaderFieldsTooLarge,
    HTTPException,
    HTTPVersionNotSupported,
    HurtleHttpError,
    InternalServerError,
    LifespanError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RangeNotSatisfiable,
    RequestTimeout,
    RouteError,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
    UpgradeRequired,
    URITooLong,
)
from hurtle_http.headers import Headers
from hurtle_http.request import Request, RequestParameters
from hurtle_http.response import (
    FileResponse,
    HTTPResponse,
    StreamingResponse,
    empty,
    file,
    html,
    json,
    raw,
    redirect,
    stream,
    text,
)
from hurtle_http.server import HttpServer, RequestStats, bind_socket, serve
from hurtle_http.websocket import WebSocket, WebSocketClosed

Response = HTTPResponse

__all__ = [
    "AsgiApp",
    "BadRequest",
    "BodyStream",
    "ClientDisconnected",
    "Config",
    "ConfigError",
    "ExpectationFailed",
    "File",
    "FileResponse",
    "Forbidden",
    "HTTPException",
    "HTTPResponse",
    "HTTPVersionNotSupported",
    "HeaderFieldsTooLarge",
    "Headers",
    "HttpApp",
    "HttpServer",
    "HurtleHttpError",
    "InternalServerError",
    "LifespanError",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "RangeNotSatisfiable",
    "Request",
    "RequestParameters",
    "RequestStats",
    "RequestTimeout",
    "Response",
    "RouteError",
    "ServerError",
    "ServiceUnavailable",
    "StreamingResponse",
    "URITooLong",
    "Unauthorized",
    "UpgradeRequired",
    "WebSocket",
    "WebSocketClosed",
    "__version__",
    "asgi_interface",
    "bind_socket",
    "create_ssl_context",
    "empty",
    "file",
    "html",
    "json",
    "raw",
    "redirect",
    "serve",
    "stream",
    "text",
]
