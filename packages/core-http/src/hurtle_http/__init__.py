"""hurtle-http: a fast, correct HTTP/1.1 server core on httptools and uvloop.

Build an ``HttpApp``, register handlers, then ``app.run()`` it, or ``serve`` it on a socket
you bound yourself inside a running event loop.
"""

from hurtle_http.__about__ import __version__
from hurtle_http._body import BodyStream, ClientDisconnected
from hurtle_http._multipart import File
from hurtle_http._sockets import bind_socket
from hurtle_http._tls import create_context as create_ssl_context
from hurtle_http.app import HttpApp
from hurtle_http.asgi import AsgiApp, asgi_interface
from hurtle_http.blueprints import Blueprint, BlueprintGroup
from hurtle_http.config import Config
from hurtle_http.cookies import CookieJar
from hurtle_http.exceptions import (
    BadRequest,
    ConfigError,
    ExpectationFailed,
    FileNotFound,
    Forbidden,
    HeaderFieldsTooLarge,
    HeaderNotFound,
    HTTPException,
    HTTPVersionNotSupported,
    HurtleHttpError,
    InternalServerError,
    InvalidHeader,
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
    URLBuildError,
)
from hurtle_http.headers import Headers
from hurtle_http.request import CookieParameters, Request, RequestParameters
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
from hurtle_http.server import HttpServer, RequestStats, serve
from hurtle_http.views import HTTPMethodView
from hurtle_http.websocket import WebSocket, WebSocketClosed

Response = HTTPResponse

__all__ = [
    "AsgiApp",
    "BadRequest",
    "Blueprint",
    "BlueprintGroup",
    "BodyStream",
    "ClientDisconnected",
    "Config",
    "ConfigError",
    "CookieJar",
    "CookieParameters",
    "ExpectationFailed",
    "File",
    "FileNotFound",
    "FileResponse",
    "Forbidden",
    "HTTPException",
    "HTTPMethodView",
    "HTTPResponse",
    "HTTPVersionNotSupported",
    "HeaderFieldsTooLarge",
    "HeaderNotFound",
    "Headers",
    "HttpApp",
    "HttpServer",
    "HurtleHttpError",
    "InternalServerError",
    "InvalidHeader",
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
    "URLBuildError",
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
