"""How new processes start: the multiprocessing context of a start method.

Runs in: the main process.

- ``spawn``: a fresh interpreter per process; it imports everything itself. Nothing is
  inherited from the main process but what is passed to it.
- ``fork``: a copy of the main process; fast, but it inherits the main process's threads'
  locks, open connections and any state made before the fork.
- ``forkserver``: a clean template process (``template``), started once from the main
  process, imports the ``preload`` modules and forks every new process from itself.
  Processes start like ``fork`` (the preloaded modules are already there and their memory
  is shared) and stay as clean as ``spawn`` (nothing of the main process is inherited;
  the main script and the target's module are imported in each process).

The template is one per main process: the preloads of every manager add up. It exits with
the main process (see ``_template``). Neither spawn nor forkserver starts multiprocessing's
resource tracker unless something needs it (see ``_popen``).
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import multiprocessing.context
from collections.abc import Sequence

from hurtle_worker_manager._popen import SpawnProcess, TemplateProcess
from hurtle_worker_manager.errors import UsageError
from hurtle_worker_manager.template import (
    add_preload,
    dead_template,
    ensure_template,
    template_pid,
)

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
    if start_method == "spawn":
        return _SpawnContext()
    if start_method == "forkserver":
        for name in preload:
            _check_importable(name)
        add_preload([_CHILD_MODULE, *preload])
        return _TemplateContext()
    return multiprocessing.get_context(start_method)


def start_template(preload: Sequence[str] = ()) -> None:
    """Start the forkserver's template now, with ``preload``; it imports while we go on.

    Optional: the first process started with the forkserver starts it otherwise, and waits
    for its imports. A main process with work to do before its first start (binding,
    listeners) overlaps the template's imports with that work. A running template imports
    what it lacks of ``preload`` as soon as no fork request waits.
    """
    new_context("forkserver", preload)
    ensure_template()


class _SpawnContext(multiprocessing.context.SpawnContext):
    """Spawn, without a resource tracker started for nothing."""

    Process = SpawnProcess


class _TemplateContext(multiprocessing.context.ForkServerContext):
    """The forkserver start method on this main process's own template."""

    Process = TemplateProcess


def _check_importable(name: str) -> None:
    if not isinstance(name, str) or not name:
        raise UsageError(f"preload: {name!r} is not a module name")
    try:
        found = importlib.util.find_spec(name)
    except (ImportError, ValueError) as exc:
        raise UsageError(f"preload: cannot find module {name!r} ({exc})") from None
    if found is None:
        raise UsageError(f"preload: no module named {name!r} (is it installed?)")
