"""Auto-reload: the ``Hurtle-Reloader-0`` process restarts the workers when code changes.

It polls the modification time and size of the app's own source files (the modules the
main process loaded from outside the standard library and site-packages) and of every
file under the extra reload directories. All the changes seen in one pass become one
zero-downtime restart of the server workers, which import the new code: if it fails to
import, the error is logged, the running workers keep serving, and the next save tries
again.
"""

from __future__ import annotations

import logging
import os
import sys
import sysconfig
import threading
from collections.abc import Iterable, Iterator

from hurtle_worker_manager import CommandError, get_multiplexer
from hurtle_worker_manager.messages import RestartCommand

__all__ = ["scan", "source_files", "watch"]

logger = logging.getLogger("hurtle.reloader")

_OWN_PACKAGES = frozenset(
    {"hurtle", "hurtle_http", "hurtle_worker_manager", "hurtle_inspector", "hurtle_cli"}
)
_SKIPPED_DIRS = frozenset({"__pycache__", ".git", ".hg", ".svn", ".venv", "node_modules"})

Snapshot = dict[str, tuple[int, int]]


def source_files() -> list[str]:
    """The Python files of the modules loaded in this process that belong to the app.

    Modules of the standard library, of site-packages and of Hurtle itself are left out.
    """
    paths = sysconfig.get_paths()
    library = tuple(
        os.path.realpath(paths[key]) + os.sep
        for key in ("stdlib", "platstdlib", "purelib", "platlib")
        if key in paths
    )
    found: set[str] = set()
    for name, module in list(sys.modules.items()):
        if name.partition(".")[0] in _OWN_PACKAGES:
            continue
        file = getattr(module, "__file__", None)
        if not file:
            continue
        if file.endswith(".pyc"):
            file = file[:-1]
        if not file.endswith(".py"):
            continue
        real = os.path.realpath(file)
        if not real.startswith(library) and os.path.isfile(real):
            found.add(real)
    return sorted(found)


def _walk(directory: str) -> Iterator[str]:
    for root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if d not in _SKIPPED_DIRS and not d.startswith(".")]
        for file in files:
            yield os.path.join(root, file)


def scan(files: Iterable[str], dirs: Iterable[str]) -> Snapshot:
    """The (mtime in ns, size) of every watched file that exists now."""
    snapshot: Snapshot = {}
    for path in (*files, *(p for d in dirs for p in _walk(d))):
        try:
            stat = os.stat(path)
        except OSError:
            continue
        snapshot[path] = (stat.st_mtime_ns, stat.st_size)
    return snapshot


def changes(before: Snapshot, after: Snapshot) -> list[str]:
    """The paths added, removed or modified between two snapshots."""
    return sorted(
        path for path in before.keys() | after.keys() if before.get(path) != after.get(path)
    )


def watch(files: list[str], dirs: list[str], interval: float, baseline: Snapshot) -> None:
    """Poll ``files`` and ``dirs`` every ``interval`` seconds until the manager stops us.

    ``baseline`` is the scan the main process made when it started, so that an edit made
    while the processes start is not missed.
    """
    multiplexer = get_multiplexer()
    stopping = threading.Event()
    multiplexer.on_stop(stopping.set)
    before = baseline
    logger.info(
        "Watching %d file(s)%s for changes",
        len(files),
        f" and {', '.join(dirs)}" if dirs else "",
    )
    while not stopping.wait(interval):
        multiplexer.heartbeat()
        after = scan(files, dirs)
        changed = changes(before, after)
        if not changed:
            continue
        before = after
        logger.info("Reloading the workers: %s changed", ", ".join(changed))
        reply = multiplexer.send_command(
            RestartCommand(all_workers=True, zero_downtime=True, reloaded_files=tuple(changed))
        )
        try:
            reply.result(timeout=max(interval, 5.0))
        except CommandError as exc:
            logger.error("The reload was refused: %s", exc)
        except TimeoutError:
            logger.warning("The manager has not answered the reload request yet")
