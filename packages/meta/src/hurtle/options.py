"""The arguments of ``Hurtle.run``, checked and settled once, before anything starts."""

from __future__ import annotations

import os
import ssl as _ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hurtle.errors import HurtleError
from hurtle_http import ConfigError
from hurtle_http.log import AccessLog

if TYPE_CHECKING:
    from hurtle.app import Hurtle

__all__ = ["RunOptions", "resolve_options"]


@dataclass(frozen=True)
class RunOptions:
    """What ``app.run()`` will do; ``debug``/``access_log`` None keep the config's value."""

    host: str
    port: int
    workers: int
    single_process: bool
    auto_reload: bool
    reload_dirs: tuple[str, ...]
    debug: bool | None
    access_log: bool | None
    ssl: _ssl.SSLContext | Mapping[str, str] | None
    inspector: bool
    factory: str
    backlog: int | None
    unix: str | None = None


def resolve_options(
    app: Hurtle,
    *,
    host: str,
    port: int,
    workers: int,
    fast: bool,
    single_process: bool,
    auto_reload: bool | None,
    dev: bool,
    reload_dirs: str | Sequence[str] | None,
    access_log: bool | None,
    debug: bool | None,
    ssl: _ssl.SSLContext | Mapping[str, str] | None,
    inspector: bool | None,
    factory: str | None,
    backlog: int | None,
    unix: str | None = None,
) -> RunOptions:
    """Check the arguments of ``app.run()``; raise ``HurtleError`` saying what to change."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise HurtleError(f"workers={workers!r}: run at least 1 worker (an int)")
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise HurtleError(f"port={port!r}: a port is an int from 0 to 65535")
    if fast:
        if workers != 1:
            raise HurtleError("fast=True picks the number of workers: do not also pass workers")
        workers = len(os.sched_getaffinity(0))
    dirs = (reload_dirs,) if isinstance(reload_dirs, str) else tuple(reload_dirs or ())
    for directory in dirs:
        if not os.path.isdir(directory):
            raise HurtleError(f"reload directory {directory!r} does not exist")
    if dev:
        debug = True if debug is None else debug
        auto_reload = True if auto_reload is None else auto_reload
    if auto_reload is None:
        auto_reload = bool(dirs) or bool(app.config.AUTO_RELOAD)
    if single_process:
        conflicts = [
            what for what, on in (("workers > 1", workers > 1 and not fast), ("fast", fast)) if on
        ]
        if auto_reload:
            conflicts.append("auto-reload (dev)")
        if conflicts:
            raise HurtleError(
                f"single_process=True cannot be combined with {' and '.join(conflicts)}: "
                "those need the worker manager; drop single_process or those options"
            )
    try:
        AccessLog(app.config.ACCESS_LOG_FORMAT)  # checked here, not in every worker
    except ConfigError as exc:
        raise HurtleError(str(exc)) from None
    if ssl is not None and not isinstance(ssl, (_ssl.SSLContext, Mapping)):
        raise HurtleError("ssl must be {'cert': path, 'key': path} or an ssl.SSLContext")
    if isinstance(ssl, Mapping) and not ({"cert", "key"} <= set(ssl)):
        raise HurtleError("ssl needs both paths: {'cert': 'cert.pem', 'key': 'key.pem'}")
    return RunOptions(
        host=host,
        port=port,
        workers=workers,
        single_process=single_process,
        auto_reload=bool(auto_reload),
        reload_dirs=dirs,
        debug=debug,
        access_log=access_log,
        ssl=ssl,
        inspector=bool(app.config.INSPECTOR) if inspector is None else inspector,
        factory=factory or "",
        backlog=backlog,
        unix=unix or None,
    )
