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
from typing import Any

from hurtle import reloader
from hurtle.app import Hurtle
from hurtle.errors import HurtleError, StartupFailed
from hurtle.loader import AppRef
from hurtle.options import RunOptions
from hurtle_http import HurtleHttpError, create_ssl_context
from hurtle_http import __version__ as http_version
from hurtle_worker_manager import (
    AddressInUseError,
    CrashLoopError,
    StartupError,
    WorkerManager,
    bind_tcp,
    bind_unix,
)

__all__ = ["run_app"]

logger = logging.getLogger("hurtle.main")

LOG_FORMAT = "[%(asctime)s] [%(processName)s] [%(levelname)s] %(name)s: %(message)s"
WORKER_TARGET = "hurtle.worker:serve_worker"
INSPECTOR_TARGET = "hurtle_inspector:serve_inspector"
LOOP_FACTORY = "hurtle_http.server:new_event_loop"


def run_app(app: Hurtle, options: RunOptions) -> None:
    """Serve ``app`` as ``options`` say; exit with status 1 when it cannot start."""
    _configure_logging()
    try:
        if options.single_process:
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
    start_method = app.start_method
    if options.auto_reload and start_method != "spawn":
        logger.info("Auto-reload starts workers with spawn, so that they import the new code")
        start_method = "spawn"
    _use_start_method(start_method)
    sockets: list[socket.socket] = []
    try:
        app._open_shared_context()
        await _dispatch(app, "main_process_start")
        app.shared_ctx.lock()
        tls = _tls_for_workers(options.ssl, start_method)
        if options.unix:
            sock = _bind_unix(options.unix, options.backlog, app)
        else:
            sock = _bind(
                options.host, options.port, options.backlog, app, start_method, "The server"
            )
        sockets.append(sock)
        manager = WorkerManager(
            WORKER_TARGET,
            workers=options.workers,
            server_kwargs={
                "app": AppRef(name=app.name, module=app.module, factory=options.factory),
                "config": _config_snapshot(app),
                "tls": tls,
            },
            sockets=[sock],
            start_method=start_method,
            shared_ctx=app.shared_ctx,
            graceful_timeout=float(app.config.GRACEFUL_SHUTDOWN_TIMEOUT) + 5.0,
            heartbeat_timeout=float(app.config.HEARTBEAT_TIMEOUT),
            crash_loop_limit=0 if options.auto_reload else 5,
            loop_factory=LOOP_FACTORY,
        )
        app._attach_manager(manager)
        if options.auto_reload:
            _register_reloader(app, manager, options)
        if options.inspector:
            sockets.append(_register_inspector(app, manager, options, start_method))
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
            raise StartupFailed(str(exc)) from exc
    finally:
        try:
            await app.dispatch("main_process_stop")
        except Exception:
            logger.exception("A main_process_stop listener failed")
        app._attach_manager(None)
        for sock in sockets:
            name = sock.getsockname() if sock.family == socket.AF_UNIX else None
            sock.close()
            if isinstance(name, str) and name:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(name)  # the Unix socket file we created


def _use_start_method(method: str) -> None:
    """Make ``method`` multiprocessing's default, so shared_ctx objects match the workers."""
    current: str | None = multiprocessing.get_start_method(allow_none=True)
    if current is None:
        multiprocessing.set_start_method(method)
    elif current != method:
        raise StartupFailed(
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
        raise StartupFailed(f"a {event} listener failed: {type(exc).__name__}: {exc}") from exc


def _bind_unix(path: str, backlog: int | None, app: Hurtle) -> socket.socket:
    try:
        return bind_unix(path, backlog=backlog or int(app.config.BACKLOG))
    except AddressInUseError:
        raise StartupFailed(
            f"The server's Unix socket {path} is already in use: stop the other server "
            "or choose another path"
        ) from None
    except OSError as exc:
        raise StartupFailed(f"The server cannot listen on {path}: {exc}") from None


def _bind(
    host: str, port: int, backlog: int | None, app: Hurtle, start_method: str, what: str
) -> socket.socket:
    try:
        return bind_tcp(host, port, backlog=backlog or int(app.config.BACKLOG))
    except AddressInUseError:
        hint = "stop the other server or choose another port"
        if start_method == "spawn" and app.module == "__main__":
            hint += (
                '; if your script calls app.run() outside `if __name__ == "__main__":`, '
                "every spawned worker runs it again: put it under that guard"
            )
        raise StartupFailed(f"{what}'s address {host}:{port} is already in use: {hint}") from None
    except OSError as exc:
        raise StartupFailed(f"{what} cannot listen on {host}:{port}: {exc}") from None


def _tls_for_workers(
    value: _ssl.SSLContext | Mapping[str, str] | None, start_method: str
) -> _ssl.SSLContext | dict[str, str] | None:
    """Check the TLS setting here, once, and put it in a form the workers can receive."""
    if value is None:
        return None
    if isinstance(value, _ssl.SSLContext):
        if start_method != "fork":
            raise StartupFailed(
                "an ssl.SSLContext cannot be sent to spawned workers: pass "
                "ssl={'cert': path, 'key': path}, or set Hurtle.start_method = 'fork'"
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
    app: Hurtle, manager: WorkerManager, options: RunOptions, start_method: str
) -> socket.socket:
    try:
        from hurtle_inspector import InspectorConfigError, InspectorSettings
    except ImportError as exc:
        raise StartupFailed(f"the inspector is enabled but cannot be imported: {exc}") from exc
    try:
        settings = InspectorSettings.from_config(
            app.config,
            app_name=app.name,
            inspector_class=app.inspector_class,
            mode=_mode(app, options),
            server=f"hurtle-http {http_version}, HTTP/1.1, {platform.python_implementation()}",
        )
    except InspectorConfigError as exc:
        raise StartupFailed(f"inspector: {exc}") from exc
    sock = _bind(settings.host, settings.port, None, app, start_method, "The inspector")
    manager.manage(
        "Inspector",
        INSPECTOR_TARGET,
        {"sock": sock, "settings": settings},
        transient=False,
        restartable=True,
    )
    return sock


def _mode(app: Hurtle, options: RunOptions) -> str:
    parts = ["debug" if app.config.DEBUG else "production"]
    if options.auto_reload:
        parts.append("auto-reload")
    return ", ".join(parts)  # no worker count: scaling would make it stale


def _url(sock: socket.socket, secure: bool) -> str:
    name = sock.getsockname()
    if isinstance(name, str):
        return f"unix:{name}"
    host, port = name[:2]
    if ":" in host:
        host = f"[{host}]"
    return f"{'https' if secure else 'http'}://{host}:{port}"


def _configure_logging() -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
