"""``Hurtle``: the hurtle-http application run by the worker manager, with an inspector."""

from __future__ import annotations

import os
import ssl as _ssl
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from hurtle import loader
from hurtle._template_ahead import DEFAULT_START_METHOD
from hurtle.binding import ProcessBinding
from hurtle.config import HurtleConfig
from hurtle.errors import HurtleError
from hurtle.options import RunOptions, resolve_options
from hurtle.runner import run_app
from hurtle_http import AsgiApp, Config, HttpApp
from hurtle_http.listeners import SERVER_EVENTS
from hurtle_worker_manager import Multiplexer, SharedContext, WorkerManager, get_multiplexer
from hurtle_worker_manager.errors import WorkerManagerError

__all__ = ["MAIN_PROCESS_EVENTS", "Hurtle"]

F = TypeVar("F", bound=Callable[..., Any])

MAIN_PROCESS_EVENTS: tuple[str, ...] = (
    "main_process_start",
    "main_process_ready",
    "main_process_stop",
)


class Hurtle(HttpApp):
    """An HTTP application served by N worker processes under a ``WorkerManager``.

    ``inspector=True`` (or ``config.INSPECTOR``) also runs the inspector;
    ``inspector_class`` is an ``Inspector`` subclass (or its import path) with custom
    commands. Create the app at module level: under the ``spawn`` start method every
    worker imports the module that creates it.
    """

    listener_events: ClassVar[tuple[str, ...]] = (*MAIN_PROCESS_EVENTS, *SERVER_EVENTS)
    config_class: ClassVar[type[Config]] = HurtleConfig
    start_method: ClassVar[str] = DEFAULT_START_METHOD
    """How worker processes start: ``"forkserver"`` (default), ``"spawn"`` or ``"fork"``.

    ``"forkserver"`` forks every process from a clean template that imported Hurtle once
    (the app module is still imported in each process, as under ``"spawn"``, which starts
    a fresh interpreter per process); ``"fork"`` copies the main process.
    """

    def __init__(
        self,
        name: str,
        *,
        config: Config | None = None,
        inspector: bool | None = None,
        inspector_class: type[Any] | str = "hurtle_inspector:Inspector",
        strict_slashes: bool = False,
        log_config: Mapping[str, Any] | None = None,
        configure_logging: bool = False,
    ) -> None:
        super().__init__(
            name,
            config=config,
            strict_slashes=strict_slashes,
            log_config=log_config,
            configure_logging=configure_logging,
        )
        if not isinstance(self.config, HurtleConfig):
            self.config.register_defaults(HurtleConfig.DEFAULTS)
        if inspector is not None:
            self.config.INSPECTOR = inspector
        self.inspector_class = inspector_class
        self.binding = ProcessBinding()
        """The manager, multiplexer and shared context of the process this app runs in."""
        self.module = _caller_module()
        """The module that created the app: workers import it to find the app again."""
        loader.register(self)

    @classmethod
    def get_app(cls, name: str | None = None, *, force_create: bool = False) -> Hurtle:
        """The app created under ``name`` in this process (the only one when None).

        ``force_create=True`` creates ``Hurtle(name)`` when there is none. Raises
        ``HurtleError`` naming the registered apps otherwise.
        """
        if name is None:
            known = loader.names()
            if len(known) == 1:
                name = known[0]
            elif not known:
                raise HurtleError("No Hurtle app has been created yet: create one first")
            else:
                raise HurtleError(
                    f"Several Hurtle apps exist ({', '.join(sorted(known))}): "
                    "name one, e.g. Hurtle.get_app('api')"
                )
        found = loader.registered(name)
        if found is None:
            if force_create:
                return cls(name)
            created = ", ".join(sorted(loader.names())) or "none"
            raise HurtleError(f"No Hurtle app named {name!r} (created: {created})")
        return found

    # Listeners of the main process -------------------------------------------------------

    def main_process_start(self, func: F) -> F:
        """Decorator: run ``func(app)`` in the main process before anything starts.

        This is the only place to set ``app.shared_ctx`` objects.
        """
        self.register_listener(func, "main_process_start")
        return func

    def main_process_ready(self, func: F) -> F:
        """Decorator: run ``func(app)`` once the manager exists (``app.manager.manage``)."""
        self.register_listener(func, "main_process_ready")
        return func

    def main_process_stop(self, func: F) -> F:
        """Decorator: run ``func(app)`` in the main process after every worker stopped."""
        self.register_listener(func, "main_process_stop")
        return func

    # Handles on the process system ------------------------------------------------------

    @property
    def shared_ctx(self) -> SharedContext:
        """Objects shared by every process; set them in ``main_process_start``."""
        return self.binding.shared_ctx

    @shared_ctx.setter
    def shared_ctx(self, context: SharedContext) -> None:
        self.binding.shared_ctx = context

    @property
    def multiplexer(self) -> Multiplexer:
        """This process's handle on the manager (in workers and managed processes)."""
        if self.binding.multiplexer is not None:
            return self.binding.multiplexer
        try:
            return get_multiplexer()
        except WorkerManagerError:
            raise HurtleError(
                "app.multiplexer (app.m) exists only in the processes the worker manager "
                "starts (server workers, managed processes); in the main process use "
                "app.manager, and in single-process mode there is neither"
            ) from None

    m = multiplexer

    @property
    def manager(self) -> WorkerManager:
        """The ``WorkerManager`` (main process only, from ``main_process_ready`` on)."""
        manager = self.binding.manager
        if manager is None:
            raise HurtleError(
                "app.manager exists only in the main process, from main_process_ready on "
                "(register custom processes there); in a worker use app.m instead"
            )
        return manager

    # Running ------------------------------------------------------------------------------

    def run(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        *,
        workers: int = 1,
        fast: bool = False,
        single_process: bool = False,
        auto_reload: bool | None = None,
        dev: bool = False,
        reload_dirs: str | Sequence[str] | None = None,
        access_log: bool | None = None,
        debug: bool | None = None,
        ssl: _ssl.SSLContext | Mapping[str, str] | None = None,
        inspector: bool | None = None,
        factory: str | None = None,
        backlog: int | None = None,
        max_requests: int | None = None,
        max_requests_jitter: int | None = None,
        max_lifetime: float | None = None,
        max_lifetime_jitter: float | None = None,
        max_rss: int | None = None,
        pre_stop_delay: float | None = None,
        unix: str | None = None,
        access_log_format: str | None = None,
    ) -> None:
        """Serve the app until SIGINT/SIGTERM (or ``app.m.terminate()``), then drain.

        ``workers`` server processes (``fast``: one per CPU) share one socket bound
        here. ``dev`` means ``debug`` and ``auto_reload``. ``single_process`` serves in
        this process with no manager. ``ssl`` is ``{"cert": path, "key": path}`` (or
        an ``SSLContext`` with the fork start method). ``factory`` is the import path of
        the factory that built this app, for workers started with ``spawn``. ``unix`` is
        a Unix socket path to listen on instead of ``host:port`` (shared by every worker).
        A failed start logs one message and exits with status 1.

        Recycling (each a zero-downtime restart of one worker at a time): ``max_requests``
        (+ ``max_requests_jitter``) responses, ``max_lifetime`` (+ ``max_lifetime_jitter``)
        seconds, ``max_rss`` MiB of resident memory (``MAX_RSS_SAMPLES`` samples in a row).
        ``pre_stop_delay``: seconds a shutdown keeps serving with ``/ready`` at 503 before
        the drain. Each sets the config key of its upper-case name (``HURTLE_*`` too), as
        does ``access_log_format`` (the access log's message: see ``hurtle.log``).
        """
        settings = {
            "MAX_REQUESTS": max_requests,
            "MAX_REQUESTS_JITTER": max_requests_jitter,
            "MAX_LIFETIME": max_lifetime,
            "MAX_LIFETIME_JITTER": max_lifetime_jitter,
            "MAX_RSS": max_rss,
            "PRE_STOP_DELAY": pre_stop_delay,
            "ACCESS_LOG_FORMAT": access_log_format,
        }
        self.config.update({key: value for key, value in settings.items() if value is not None})
        _refuse_nested_run(self)
        options = resolve_options(
            self,
            host=host,
            port=port,
            workers=workers,
            fast=fast,
            single_process=single_process,
            auto_reload=auto_reload,
            dev=dev,
            reload_dirs=reload_dirs,
            access_log=access_log,
            debug=debug,
            ssl=ssl,
            inspector=inspector,
            factory=factory,
            backlog=backlog,
            unix=unix,
        )
        run_app(self, options)

    # What the main process and the workers ask of the app --------------------------------

    def _serve_single(self, options: RunOptions) -> None:
        """Single-process mode: hurtle-http's own ``run`` in this process, no manager."""
        HttpApp.run(
            self,
            options.host,
            options.port,
            ssl=options.ssl,
            debug=options.debug,
            access_log=options.access_log,
            backlog=options.backlog,
            unix=options.unix,
        )

    def _servable(self) -> HttpApp | AsgiApp:
        """What each worker serves: this app (an ``AsgiHost`` serves its ASGI app)."""
        return self

    def _app_ref(self, factory: str) -> loader.AppRef:
        """How a worker finds this app again (``factory``: the import path of its factory)."""
        return loader.AppRef(name=self.name, module=self.module, factory=factory)


def _caller_module() -> str:
    """The ``__name__`` of the module that called ``Hurtle(...)``."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("hurtle."):
        frame = frame.f_back  # type: ignore[assignment]
    return str(frame.f_globals.get("__name__", "__main__")) if frame else "__main__"


def _refuse_nested_run(app: Hurtle) -> None:
    """``app.run()`` reached while a spawned worker re-executes the user's script."""
    frame = sys._getframe(2)
    if frame.f_globals.get("__name__") != "__mp_main__" and not os.environ.get(
        "HURTLE_WORKER_NAME"
    ):
        return
    message = (
        f"app.run() of {app.name!r} was called inside a worker process: under the spawn and "
        "forkserver start methods every worker runs your script again, so the code that "
        'starts the server must be under `if __name__ == "__main__":`'
    )
    print(message, file=sys.stderr, flush=True)
    raise SystemExit(1)
