"""The main process: listeners, sockets, the worker manager and its built-in processes.

Order of events (the reference's): ``main_process_start`` (the only place to set
``shared_ctx``) → bind the listening sockets → create the ``WorkerManager`` and register
the reloader and the inspector → ``main_process_ready`` (``app.manager.manage(...)``) →
workers start and acknowledge → ... → every process stopped → ``main_process_stop``.
A failed start is one logged message and exit status 1; ``main_process_stop`` still runs
and no process is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import pickle
import platform
import socket
import ssl as _ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hurtle import reloader
from hurtle._template_ahead import DEFAULT_START_METHOD, preload
from hurtle.errors import HurtleError
from hurtle.errors import StartupError as AppStartupError
from hurtle.server_process import STATS_KEY
from hurtle_http import HurtleHttpError, create_ssl_context
from hurtle_http import __version__ as http_version
from hurtle_worker_manager import (
    AddressInUseError,
    CrashLoopError,
    StartupError,
    WorkerManager,
    WorkerManagerError,
    bind_tcp,
    bind_unix,
)
from hurtle_worker_manager.activation import inherited_sockets
from hurtle_worker_manager.recycling import RecyclePolicy
from hurtle_worker_manager.sockets import address_in_use
from hurtle_worker_manager.start_method import START_METHODS, start_template
from hurtle_worker_manager.template import drop_template_ahead

if TYPE_CHECKING:
    from hurtle.app import Hurtle
    from hurtle.options import RunOptions

__all__ = ["run_app"]

logger = logging.getLogger("hurtle.main")

LOG_FORMAT = "[%(asctime)s] [%(processName)s] [%(levelname)s] %(name)s: %(message)s"
WORKER_TARGET = "hurtle.server_process:serve_worker"
INSPECTOR_TARGET = "hurtle_inspector:serve_inspector"
LOOP_FACTORY = "hurtle_http.server:new_event_loop"


def run_app(app: Hurtle, options: RunOptions) -> None:
    """Serve ``app`` as ``options`` say; exit with status 1 when it cannot start."""
    _configure_logging()
    try:
        if options.single_process:
            drop_template_ahead()
            if options.inspector:
                logger.warning("The inspector does not run in single-process mode")
            app._serve_single(options)
        else:
            asyncio.run(_serve_managed(app, options))
    except (HurtleError, HurtleHttpError) as exc:
        logger.error("%s could not start: %s", app.name, exc)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        logger.info("%s interrupted while starting", app.name)


async def _serve_managed(app: Hurtle, options: RunOptions) -> None:
    if options.debug is not None:
        app.config.DEBUG = options.debug
    if options.access_log is not None:
        app.config.ACCESS_LOG = options.access_log
    start_method = _start_method(app)
    if options.auto_reload and start_method == "fork":
        logger.info("Auto-reload starts workers with spawn, so that they import the new code")
        start_method = "spawn"
    _use_start_method(start_method)
    if start_method == "forkserver":  # its imports overlap with the start phase below
        start_template(preload(options.inspector))
    else:
        drop_template_ahead()
    sockets: list[socket.socket] = []
    standby: Any = None
    created_unix = ""
    try:
        app.binding.open_shared_context()
        await _dispatch(app, "main_process_start")
        app.shared_ctx.lock()
        tls = _tls_for_workers(options.ssl, start_method)
        activated = _activated_sockets()
        sockets.extend(activated.values())
        sock = activated.get("server")
        if sock is None and options.unix:
            sock = _bind_unix(options.unix, options.backlog, app)
            created_unix = options.unix
        elif sock is None:
            sock = _bind(
                options.host, options.port, options.backlog, app, start_method, "The server"
            )
        if sock not in sockets:
            sockets.append(sock)
        manager = WorkerManager(
            WORKER_TARGET,
            workers=options.workers,
            server_kwargs={
                "app": app._app_ref(options.factory),
                "config": _config_snapshot(app),
                "tls": tls,
            },
            sockets=[sock],
            start_method=start_method,
            preload=preload(options.inspector) if start_method == "forkserver" else (),
            shared_ctx=app.shared_ctx,
            graceful_timeout=float(app.config.GRACEFUL_SHUTDOWN_TIMEOUT) + 5.0,
            heartbeat_timeout=float(app.config.HEARTBEAT_TIMEOUT),
            crash_loop_limit=0 if options.auto_reload else 5,
            loop_factory=LOOP_FACTORY,
            recycling=_recycling(app),
            pre_stop_delay=_number(app, "PRE_STOP_DELAY"),
        )
        app.binding.attach_manager(manager)
        if options.auto_reload:
            _register_reloader(app, manager, options)
        if options.inspector:
            inspector_socks, standby = _register_inspector(
                app, manager, options, start_method, activated
            )
            sockets.extend(s for s in inspector_socks if s not in sockets)
        await _dispatch(app, "main_process_ready")
        logger.info(
            "%s serving on %s with %d worker(s)",
            app.name,
            _url(sock, tls is not None),
            options.workers,
        )
        try:
            await manager.serve()
        except (StartupError, CrashLoopError) as exc:
            raise AppStartupError(str(exc)) from exc
    finally:
        if standby is not None:  # the port is answered (409, 503) until it is closed
            await standby.take_over()
        try:
            await app.dispatch("main_process_stop")
        except Exception:
            logger.exception("A main_process_stop listener failed")
        app.binding.attach_manager(None)
        if standby is not None:
            await standby.close()
        for sock in sockets:
            sock.close()
        if created_unix:  # the socket file this process made (never an inherited one)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(created_unix)


def _start_method(app: Hurtle) -> str:
    method = app.start_method
    if method not in START_METHODS or method not in multiprocessing.get_all_start_methods():
        available = [m for m in START_METHODS if m in multiprocessing.get_all_start_methods()]
        origin = " (from HURTLE_START_METHOD)" if method == DEFAULT_START_METHOD else ""
        raise AppStartupError(
            f"Hurtle.start_method = {method!r}{origin} is not a start method here: choose "
            f"one of {', '.join(map(repr, available))}"
        )
    return method


def _use_start_method(method: str) -> None:
    """Make ``method`` multiprocessing's default, so shared_ctx objects match the workers."""
    current: str | None = multiprocessing.get_start_method(allow_none=True)
    if current is None:
        multiprocessing.set_start_method(method)
    elif current != method:
        raise AppStartupError(
            f"multiprocessing's start method is already {current!r} but the workers start "
            f"with {method!r}: objects in shared_ctx would not work across them. Set "
            f"Hurtle.start_method = {current!r}, or do not call set_start_method yourself"
        )


async def _dispatch(app: Hurtle, event: str) -> None:
    try:
        await app.dispatch(event)
    except Exception as exc:
        if app.config.DEBUG:
            logger.exception("The %s listener failed", event)
        raise AppStartupError(f"a {event} listener failed: {type(exc).__name__}: {exc}") from exc


def _number(app: Hurtle, key: str) -> float:
    value = app.config[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise AppStartupError(f"{key} must be a number, 0 or more, got {value!r}")
    return float(value)


def _recycling(app: Hurtle) -> RecyclePolicy:
    """The recycling policy of ``MAX_REQUESTS``, ``MAX_LIFETIME``, ``MAX_RSS`` (MiB)..."""
    config = app.config
    try:
        return RecyclePolicy(
            max_requests=config.MAX_REQUESTS,
            max_requests_jitter=config.MAX_REQUESTS_JITTER,
            max_lifetime=_number(app, "MAX_LIFETIME"),
            max_lifetime_jitter=_number(app, "MAX_LIFETIME_JITTER"),
            max_rss=int(_number(app, "MAX_RSS") * 1024 * 1024),
            rss_samples=config.MAX_RSS_SAMPLES,
            requests_report=(STATS_KEY, "served"),
        )
    except ValueError as exc:
        raise AppStartupError(f"recycling: {exc}") from None


def _activated_sockets() -> dict[str, socket.socket]:
    """Sockets passed by a service manager (``LISTEN_FDS``), as ``server``/``inspector``.

    A socket named ``inspector`` (``FileDescriptorName=inspector``) serves the inspector,
    one named ``metrics`` its ``/metrics``; the other one serves the app. Extra sockets
    are refused: say which is which.
    """
    try:
        inherited = inherited_sockets()
    except WorkerManagerError as exc:
        raise AppStartupError(str(exc)) from None
    found: dict[str, socket.socket] = {}
    for item in inherited:
        role = item.name if item.name in ("inspector", "metrics") else "server"
        if role in found:
            for other in inherited:
                other.sock.close()
            raise AppStartupError(
                f"socket activation passed {len(inherited)} sockets "
                f"({', '.join(i.name or '?' for i in inherited)}): Hurtle uses one for the "
                "server and one named 'inspector' (FileDescriptorName=inspector)"
            )
        found[role] = item.sock
        logger.info("Adopted the %s socket passed by the service manager", role)
    return found


def _bind_unix(path: str, backlog: int | None, app: Hurtle) -> socket.socket:
    try:
        return bind_unix(path, backlog=backlog or int(app.config.BACKLOG))
    except AddressInUseError:
        raise AppStartupError(
            address_in_use(f"The server's Unix socket {path}", guard_hint=False)
        ) from None
    except OSError as exc:
        raise AppStartupError(f"The server cannot listen on {path}: {exc}") from None


def _bind(
    host: str, port: int, backlog: int | None, app: Hurtle, start_method: str, what: str
) -> socket.socket:
    try:
        return bind_tcp(host, port, backlog=backlog or int(app.config.BACKLOG))
    except AddressInUseError:
        unguarded = start_method != "fork" and app.module == "__main__"
        message = address_in_use(f"{what}'s address {host}:{port}", guard_hint=unguarded)
        raise AppStartupError(message) from None
    except OSError as exc:
        raise AppStartupError(f"{what} cannot listen on {host}:{port}: {exc}") from None


def _tls_for_workers(
    value: _ssl.SSLContext | Mapping[str, str] | None, start_method: str
) -> _ssl.SSLContext | dict[str, str] | None:
    """Check the TLS setting here, once, and put it in a form the workers can receive."""
    if value is None:
        return None
    if isinstance(value, _ssl.SSLContext):
        if start_method != "fork":
            raise AppStartupError(
                f"an ssl.SSLContext cannot be sent to workers started with {start_method}: "
                "pass ssl={'cert': path, 'key': path}, or set Hurtle.start_method = 'fork'"
            )
        return value
    paths = {key: str(item) for key, item in value.items()}
    create_ssl_context(paths["cert"], paths["key"], paths.get("password"))
    return paths


def _config_snapshot(app: Hurtle) -> dict[str, Any]:
    """The config values as the main process has them, for the workers to apply."""
    snapshot: dict[str, Any] = {}
    for key in app.config:
        value = app.config[key]
        try:
            pickle.dumps(value)
        except Exception:
            logger.debug("config.%s cannot be sent to the workers; they keep their own", key)
            continue
        snapshot[key] = value
    return snapshot


def _register_reloader(app: Hurtle, manager: WorkerManager, options: RunOptions) -> None:
    files = reloader.source_files()
    dirs = [os.path.realpath(directory) for directory in options.reload_dirs]
    manager.manage(
        "Reloader",
        reloader.watch,
        {
            "files": files,
            "dirs": dirs,
            "interval": float(app.config.RELOAD_INTERVAL),
            "baseline": reloader.scan(files, dirs),
        },
        transient=False,
        restartable=False,
    )


def _register_inspector(
    app: Hurtle,
    manager: WorkerManager,
    options: RunOptions,
    start_method: str,
    inherited: Mapping[str, socket.socket],
) -> tuple[list[socket.socket], Any]:
    """Register ``Hurtle-Inspector-0`` (respawned with the servers' backoff when it crashes)
    and its stand-in, which answers the port from this process while the inspector is down.

    Returns the inspector's sockets (its own, and the metrics one if any) and the stand-in.
    """
    try:
        from hurtle_inspector import InspectorConfigError, InspectorSettings, Standby
    except ImportError as exc:
        raise AppStartupError(f"the inspector is enabled but cannot be imported: {exc}") from exc
    try:
        settings = InspectorSettings.from_config(
            app.config,
            app_name=app.name,
            inspector_class=app.inspector_class,
            mode=_mode(app, options),
            server=f"hurtle-http {http_version}, HTTP/1.1, {platform.python_implementation()}",
        )
    except InspectorConfigError as exc:
        raise AppStartupError(f"inspector: {exc}") from exc
    sock = inherited.get("inspector") or _bind(
        settings.host, settings.port, None, app, start_method, "The inspector"
    )
    kwargs: dict[str, Any] = {"sock": sock, "settings": settings}
    metrics = inherited.get("metrics")
    if metrics is None and settings.metrics_port is not None:
        host = settings.metrics_host or "localhost"
        what = "The inspector's metrics address"
        metrics = _bind(host, settings.metrics_port, None, app, start_method, what)
    if metrics is not None:
        kwargs["metrics_sock"] = metrics
    manager.manage(
        "Inspector",
        INSPECTOR_TARGET,
        kwargs,
        transient=False,
        restartable=True,
        respawn=True,
    )
    standby = Standby(
        sock,
        ssl_context=settings.ssl_context(),
        process=f"{manager.prefix}-Inspector-0",
        stopping=lambda: manager.stopping,
    )
    manager.on_change(standby.update)
    return ([sock] if metrics is None else [sock, metrics]), standby


def _mode(app: Hurtle, options: RunOptions) -> str:
    parts = ["debug" if app.config.DEBUG else "production"]
    if options.auto_reload:
        parts.append("auto-reload")
    return ", ".join(parts)  # no worker count: scaling would make it stale


def _url(sock: socket.socket, secure: bool) -> str:
    if sock.family == socket.AF_UNIX:
        return f"{'https' if secure else 'http'}+unix://{sock.getsockname()}"
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if secure else 'http'}://{host}:{port}"


def _configure_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
