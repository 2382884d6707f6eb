"""Serving an ASGI application (FastAPI, Starlette, Django, Litestar, Quart...) with Hurtle.

``AsgiHost`` puts any ASGI 3 (or ASGI 2) callable under the same main process, worker
manager, inspector and options as a ``Hurtle`` app: each worker serves it through
hurtle-http's ASGI server (``hurtle_http.AsgiApp``). The host is also the ASGI app's handle
on Hurtle's process features: ``host.m`` (worker state, restart, scale) in the workers,
``host.shared_ctx`` and the main-process listeners.

``hurtle serve module:app`` finds this module through the ``hurtle.serve`` entry point
(``adapt``) when the target has no ``run()`` of its own, so hurtle-cli never imports it.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import re
import signal
import socket
import ssl as _ssl
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, Literal

from hurtle.app import Hurtle
from hurtle.errors import HurtleError
from hurtle.loader import AppRef
from hurtle_http import (
    AsgiApp,
    Config,
    HttpServer,
    asgi_interface,
    bind_socket,
    create_ssl_context,
    serve,
)
from hurtle_http.server import new_event_loop

if TYPE_CHECKING:
    from hurtle.options import RunOptions

__all__ = ["ASGI_DEFAULTS", "AsgiHost", "adapt", "build_from_ref"]

Scope = MutableMapping[str, Any]
AsgiCallable = Callable[..., Awaitable[None]]
Lifespan = Literal["auto", "on", "off"]

ASGI_DEFAULTS: dict[str, object] = {"ASGI_ROOT_PATH": "", "ASGI_LIFESPAN": "auto"}
"""Config keys of an ``AsgiHost`` (``HURTLE_ASGI_ROOT_PATH``, ``HURTLE_ASGI_LIFESPAN``)."""

_LIFESPANS = ("auto", "on", "off")

logger = logging.getLogger("hurtle.main")


class AsgiHost(Hurtle):
    """An ASGI application served by N worker processes under a ``WorkerManager``.

    ``asgi_app`` is an ASGI 3 callable (or an ASGI 2 class/double callable). ``root_path``
    is the ASGI ``root_path`` (the prefix a proxy strips); ``lifespan`` is ``"auto"``
    (run the lifespan protocol when the app supports it), ``"on"`` or ``"off"``. Create
    the host at module level (``host = AsgiHost(api, name="api")``) and serve it with
    ``hurtle serve module:host`` or ``host.run(...)``: under ``forkserver`` (the default)
    and ``spawn`` every worker imports that module and finds the host again. Routes added
    to the host itself are not served: the ASGI app answers every request.
    """

    def __init__(
        self,
        asgi_app: object,
        name: str | None = None,
        *,
        root_path: str | None = None,
        lifespan: Lifespan | None = None,
        config: Config | None = None,
        inspector: bool | None = None,
        inspector_class: type[Any] | str = "hurtle_inspector:Inspector",
        import_path: str = "",
        factory: bool = False,
    ) -> None:
        interface = asgi_interface(asgi_app)
        if interface is None:
            raise HurtleError(
                f"{_describe(asgi_app)} is not an ASGI application: an ASGI 3 app is "
                "`async def app(scope, receive, send)` (or an object with such a __call__)"
            )
        super().__init__(
            name
            or _name_for(import_path or getattr(asgi_app, "__name__", type(asgi_app).__name__)),
            config=config,
            inspector=inspector,
            inspector_class=inspector_class,
        )
        self.config.register_defaults(ASGI_DEFAULTS)
        if root_path is not None:
            self.config.ASGI_ROOT_PATH = root_path
        if lifespan is not None:
            self.config.ASGI_LIFESPAN = lifespan
        self.asgi_app = asgi_app
        """The ASGI callable every worker serves."""
        self.interface = interface
        """``"asgi3"`` or ``"asgi2"``."""
        self.import_path = import_path
        self.factory = factory
        if import_path:
            self.module = import_path.partition(":")[0]

    def run(self, *args: Any, root_path: str | None = None, **kwargs: Any) -> None:
        """``Hurtle.run(...)`` plus ``root_path`` (the ASGI ``root_path`` of every request)."""
        if root_path is not None:
            self.config.ASGI_ROOT_PATH = root_path
        super().run(*args, **kwargs)

    # What the workers serve ------------------------------------------------------------

    def _servable(self) -> AsgiApp:
        lifespan = str(self.config.ASGI_LIFESPAN)
        if lifespan not in _LIFESPANS:
            raise HurtleError(f"ASGI_LIFESPAN={lifespan!r}: use one of {', '.join(_LIFESPANS)}")
        return AsgiApp(
            self.asgi_app,
            config=self.config,
            root_path=str(self.config.ASGI_ROOT_PATH),
            lifespan=lifespan,  # type: ignore[arg-type]
        )

    def _app_ref(self, factory: str) -> AppRef:
        return AppRef(
            name=self.name,
            module=self.module,
            factory=factory,
            asgi=self.import_path,
            asgi_factory=self.factory,
        )

    def _serve_single(self, options: RunOptions) -> None:
        """Single-process mode: serve the ASGI app in this process until SIGINT/SIGTERM."""
        if options.debug is not None:
            self.config.DEBUG = options.debug
        if options.access_log is not None:
            self.config.ACCESS_LOG = options.access_log
        context = options.ssl
        if context is not None and not isinstance(context, _ssl.SSLContext):
            context = create_ssl_context(context["cert"], context["key"], context.get("password"))
        backlog = options.backlog or int(self.config.BACKLOG)
        sock = bind_socket(options.host, options.port, backlog=backlog)
        loop = new_event_loop()
        try:
            loop.run_until_complete(self._serve_until_signal(sock, context))
        finally:
            sock.close()
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    async def _serve_until_signal(
        self, sock: socket.socket, context: _ssl.SSLContext | None
    ) -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        signals = (signal.SIGINT, signal.SIGTERM)
        for sig in signals:
            loop.add_signal_handler(sig, stop.set)
        try:
            server: HttpServer = await serve(self._servable(), sock, ssl=context)
            host, port = sock.getsockname()[:2]
            logger.info(
                "%s serving on %s://%s:%s in a single process",
                self.name,
                "https" if context is not None else "http",
                host,
                port,
            )
            stopped = asyncio.ensure_future(stop.wait())
            ended = asyncio.ensure_future(server.wait_closed())
            await asyncio.wait({stopped, ended}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            ended.cancel()
            await server.stop(float(self.config.GRACEFUL_SHUTDOWN_TIMEOUT))
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)


def adapt(obj: object, *, target: str = "", factory: bool = False) -> AsgiHost | None:
    """The ``hurtle.serve`` entry point: an ``AsgiHost`` for an ASGI callable, else None.

    hurtle-cli calls it with the object ``hurtle serve TARGET`` loaded when that object has
    no ``run()``; ``target`` is its import path (``module:attr``) and ``factory`` says the
    object was returned by calling it, so spawned workers can build it again.
    """
    if asgi_interface(obj) is None:
        return None
    return AsgiHost(obj, import_path=target, factory=factory)


def build_from_ref(ref: AppRef) -> AsgiHost:
    """Build again, in a spawned worker, the host ``adapt`` made in the main process."""
    module_name, _, attr = ref.asgi.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in (attr or "app").split("."):
        obj = getattr(obj, part)
    if ref.asgi_factory:
        obj = obj()
    return AsgiHost(obj, ref.name, import_path=ref.asgi, factory=ref.asgi_factory)


def _name_for(text: str) -> str:
    """An app name (letters, digits, ``_``, ``-``) for an import path or a class name."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "asgi"


def _describe(obj: object) -> str:
    return f"a {type(obj).__name__}" if not isinstance(obj, type) else f"the class {obj.__name__}"
