"""How new processes start: the multiprocessing context of a start method.

Runs in: the main process.

- ``spawn``: a fresh interpreter per process; it imports everything itself. Nothing is
  inherited from the main process but what is passed to it.
- ``fork``: a copy of the main process; fast, but it inherits the main process's threads'
  locks, open connections and any state made before the fork.
- ``forkserver``: a clean template process (multiprocessing's fork server), started
  once from the main process, imports the ``preload`` modules and forks every new process
  from itself. Processes start like ``fork`` (the preloaded modules are already there and
  their memory is shared) and stay as clean as ``spawn`` (nothing of the main process is
  inherited; the main script and the target's module are imported in each process).

The fork server is one per main process (multiprocessing's): the first manager that starts
it sets its preload. It exits with the main process (see ``_template``).
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import multiprocessing.context
import multiprocessing.forkserver
import os
from collections.abc import Sequence

from hurtle_worker_manager._spec import TEMPLATE_MODULE
from hurtle_worker_manager.errors import UsageError

__all__ = ["START_METHODS", "dead_template", "new_context", "start_template", "template_pid"]

START_METHODS = ("spawn", "fork", "forkserver")
"""The start methods a manager accepts (where the platform has them)."""

_CHILD_MODULE = "hurtle_worker_manager._child"
"""What every managed process runs first: preloaded so that no process imports it."""


def new_context(
    start_method: str, preload: Sequence[str] = ()
) -> multiprocessing.context.BaseContext:
    """The multiprocessing context of ``start_method``; raises ``UsageError`` for bad input.

    ``preload`` (forkserver only) names the modules the template imports before it forks
    processes: the libraries every process needs, never the application itself (a reload
    must import the new code).
    """
    if start_method not in START_METHODS:
        raise UsageError(
            f"start_method={start_method!r}: choose one of {', '.join(map(repr, START_METHODS))}"
        )
    if start_method not in multiprocessing.get_all_start_methods():
        raise UsageError(f"start_method={start_method!r} is not available on this platform")
    if isinstance(preload, str):
        raise UsageError(f"preload={preload!r}: give a list of module names, not one string")
    if preload and start_method != "forkserver":
        raise UsageError(
            f"preload only applies to start_method='forkserver' (got {start_method!r}): "
            "drop preload or use the forkserver"
        )
    context = multiprocessing.get_context(start_method)
    if start_method == "forkserver":
        for name in preload:
            _check_importable(name)
        modules = [_CHILD_MODULE, *(name for name in preload if name != _CHILD_MODULE)]
        context.set_forkserver_preload([*modules, TEMPLATE_MODULE])
    return context


def start_template(preload: Sequence[str] = ()) -> None:
    """Start the forkserver's template now, with ``preload``; it imports while we go on.

    Optional: the first process started with the forkserver starts it otherwise, and waits
    for its imports. A main process with work to do before its first start (binding,
    listeners) overlaps the template's imports with that work. Nothing happens when it runs.
    """
    new_context("forkserver", preload)
    multiprocessing.forkserver.ensure_running()


def _check_importable(name: str) -> None:
    if not isinstance(name, str) or not name:
        raise UsageError(f"preload: {name!r} is not a module name")
    try:
        found = importlib.util.find_spec(name)
    except (ImportError, ValueError) as exc:
        raise UsageError(f"preload: cannot find module {name!r} ({exc})") from None
    if found is None:
        raise UsageError(f"preload: no module named {name!r} (is it installed?)")


def dead_template(pid: int | None = None) -> int | None:
    """The pid of this process's fork server (or of ``pid``) if it has died, else None.

    Read from Linux's ``/proc``: a dead template is a zombie until multiprocessing reaps it.
    """
    pid = template_pid() if pid is None else pid
    if pid is None or not os.path.isdir("/proc/self"):
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return pid
    return pid if state == b"Z" else None


def template_pid() -> int | None:
    """The pid of this process's fork server, if it started one (else None)."""
    server = getattr(multiprocessing.forkserver, "_forkserver", None)
    pid = getattr(server, "_forkserver_pid", None)
    return pid if isinstance(pid, int) else None
