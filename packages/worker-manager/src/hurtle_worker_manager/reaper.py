"""Reaping children the manager did not start, as PID 1 of a container must.

In a PID namespace (a container started without an init such as tini) the main process
is PID 1, and every orphaned process of the namespace becomes its child: a grandchild
whose parent exited (a double fork, a shell's background job) is re-parented to us, and
stays a zombie until we wait for it. The manager reaps its own processes through
multiprocessing; ``reap_orphans`` waits for the others and only them (waiting for a
managed process here would steal its exit status from the manager).

``become_subreaper()`` gives a main process that is not PID 1 the same role for its own
descendants (Linux ``PR_SET_CHILD_SUBREAPER``).
"""

from __future__ import annotations

import logging
import multiprocessing.process
import os
from collections.abc import Collection

from hurtle_worker_manager._platform import libc, proc_stat
from hurtle_worker_manager.start_method import template_pid

__all__ = ["become_subreaper", "is_init", "reap_orphans", "zombie_children"]

logger = logging.getLogger("hurtle.manager")

_PR_SET_CHILD_SUBREAPER = 36


def is_init() -> bool:
    """Whether this process is PID 1 of its PID namespace."""
    return os.getpid() == 1


def become_subreaper(enable: bool = True) -> bool:
    """Adopt our orphaned descendants (Linux); False where the kernel cannot do it.

    ``enable=False`` gives the role up again.
    """
    found = libc()
    if found is None:
        return False
    return bool(found.prctl(_PR_SET_CHILD_SUBREAPER, int(enable), 0, 0, 0) == 0)


def zombie_children(parent: int | None = None) -> list[int]:
    """Pids of the exited, not yet reaped children of ``parent`` (this process), from /proc."""
    parent = os.getpid() if parent is None else parent
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        fields = proc_stat(entry)
        if fields is not None and fields[0] == b"Z" and int(fields[1]) == parent:
            found.append(int(entry))
    return found


def reap_orphans(managed: Collection[int]) -> list[tuple[int, int]]:
    """Wait for every exited child that is not in ``managed``; (pid, status) of each.

    Safe to call often: it never blocks and never touches a managed process, nor one that
    this process started with multiprocessing (whose ``join`` needs the exit status).
    """
    reaped = []
    known = set(managed) | _multiprocessing_children()
    for pid in zombie_children():
        if pid in known:
            continue
        try:
            waited, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue
        if waited:
            reaped.append((pid, status))
            logger.debug("Reaped orphan process %d (status %d)", pid, status)
    return reaped


def _multiprocessing_children() -> set[int]:
    """Processes multiprocessing started and waits for itself (the fork server too)."""
    children = getattr(multiprocessing.process, "_children", ())
    pids = {child._popen.pid for child in children if getattr(child, "_popen", None) is not None}
    template = template_pid()
    if template is not None:
        pids.add(template)
    return pids
