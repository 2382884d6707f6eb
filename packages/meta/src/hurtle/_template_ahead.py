"""The forkserver's template, started as the main process begins to import Hurtle.

Under the ``forkserver`` start method (the default) every process is forked from a
template that imported Hurtle once. Started when ``app.run()`` is called, the template
would import Hurtle only after the main process has: the cold start would pay for the
imports twice in a row. ``hurtle/__init__`` calls ``start_ahead()`` first thing instead,
so that the template imports on the other CPU while the main process imports Hurtle and
the app. ``run()`` then claims it (or stops it, if the app runs with another start method
or in one process); unclaimed, it exits by itself after ``IDLE_TIMEOUT`` seconds (a
program that imported Hurtle and never served).

Only a main process starts one: not a managed process (spawned or forked, or a program
one of them runs), not the template itself as it preloads Hurtle.
"""

from __future__ import annotations

import os
import sys

__all__ = ["DEFAULT_START_METHOD", "IDLE_TIMEOUT", "PRELOAD", "preload", "start_ahead"]

DEFAULT_START_METHOD = os.environ.get("HURTLE_START_METHOD") or (
    "spawn" if sys.platform == "win32" else "forkserver"
)
"""``Hurtle.start_method`` unless the app sets another: ``forkserver`` (``spawn`` on Windows,
which has no other), or the environment's ``HURTLE_START_METHOD`` (to run an app, or a
whole test suite, under another one)."""

PRELOAD = ("hurtle", "hurtle.server_process", "hurtle.reloader", "hurtle_http.server")
"""The modules the forkserver's template imports (uvloop and the inspector's when used)."""

IDLE_TIMEOUT = 10.0
"""Seconds a template started ahead waits to be claimed by ``run()`` before it exits."""


def preload(inspector: bool) -> list[str]:
    """What the template imports once for every process: Hurtle, never the app.

    uvloop is named whether or not it is installed: the template skips a module it cannot
    import (looking for it here would import ``importlib.util`` before the template starts).
    """
    modules = [*PRELOAD, "uvloop"]
    if inspector:
        modules.append("hurtle_inspector")
    return modules


def start_ahead() -> None:
    """Start the template now if this is a main process that would use it."""
    if DEFAULT_START_METHOD != "forkserver" or not _main_process():
        return
    from hurtle_worker_manager.template import start_template_ahead

    try:
        start_template_ahead(preload(inspector=False), IDLE_TIMEOUT)
    except OSError:  # no process could be started now: run() tries again, and says why
        pass


def _main_process() -> bool:
    if os.environ.get("HURTLE_WORKER_NAME") or "--multiprocessing-fork" in sys.argv:
        return False  # a managed process, or a program one of them started
    if not sys.platform.startswith("linux"):
        return False  # the template's tie to the main process needs Linux
    template = sys.modules.get("hurtle_worker_manager._template")
    if getattr(template, "TEMPLATE_PID", None) is not None:
        return False  # the template (preloading Hurtle) or a process it forked
    process = sys.modules.get("multiprocessing.process")
    if process is not None:
        current = process.current_process()
        if getattr(current, "_inheriting", False) or process.parent_process() is not None:
            return False  # a multiprocessing child importing its main module
    return True
