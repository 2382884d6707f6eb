"""Hurtle: a fast Python HTTP server with a production-grade worker manager and inspector.

``Hurtle`` is a hurtle-http application that ``run()`` serves with N worker processes
under a ``WorkerManager``, with an optional inspector. The rest of the public API is
re-exported from hurtle-http (requests, responses, exceptions) and from the worker
manager (``WorkerManager`` for ``THRESHOLD``, ``SharedContext``)::

    from hurtle import Hurtle, Request, json

    app = Hurtle("hello")

    @app.get("/")
    async def hello(request: Request):
        return json({"hello": "world"})

    if __name__ == "__main__":
        app.run(workers=2)
"""

# ruff: noqa: E402 - the template starts before the rest of Hurtle is imported
from hurtle._template_ahead import start_ahead

start_ahead()  # first: the forkserver's template imports while this process goes on

from hurtle.__about__ import __version__
from hurtle.app import Hurtle
from hurtle.asgi import AsgiHost
from hurtle.config import HurtleConfig
from hurtle.errors import HurtleError, StartupError, StartupFailed
from hurtle.exceptions import HurtleException
from hurtle_http import (
    BadRequest,
    Blueprint,
    BlueprintGroup,
    Config,
    ConfigError,
    File,
    Forbidden,
    Headers,
    HTTPException,
    HTTPMethodView,
    HTTPResponse,
    HurtleHttpError,
    InternalServerError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Request,
    RequestStats,
    RequestTimeout,
    Response,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
    empty,
    file,
    html,
    json,
    raw,
    redirect,
    stream,
    text,
)
from hurtle_worker_manager import SharedContext, WorkerManager

__all__ = [
    "AsgiHost",
    "BadRequest",
    "Blueprint",
    "BlueprintGroup",
    "Config",
    "ConfigError",
    "File",
    "Forbidden",
    "HTTPException",
    "HTTPMethodView",
    "HTTPResponse",
    "Headers",
    "Hurtle",
    "HurtleConfig",
    "HurtleError",
    "HurtleException",
    "HurtleHttpError",
    "InternalServerError",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "Request",
    "RequestStats",
    "RequestTimeout",
    "Response",
    "ServerError",
    "ServiceUnavailable",
    "SharedContext",
    "StartupError",
    "StartupFailed",
    "Unauthorized",
    "WorkerManager",
    "__version__",
    "empty",
    "file",
    "html",
    "json",
    "raw",
    "redirect",
    "stream",
    "text",
]
