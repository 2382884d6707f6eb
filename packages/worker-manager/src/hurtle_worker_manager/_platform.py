"""Small OS facilities: parent-death signal, process names, resource usage (Linux).

Runs in: both sides.
"""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import sys

__all__ = [
    "cpu_seconds",
    "current_umask",
    "libc",
    "proc_stat",
    "rss_bytes",
    "set_parent_death_signal",
    "set_thread_name",
]

_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15


@functools.cache
def libc() -> ctypes.CDLL | None:
    """The C library on Linux (for ``prctl``), else None.

    It is already loaded into the interpreter, so its symbols are looked up in the process
    itself: ``ctypes.util.find_library`` would run ``ldconfig -p`` in a subprocess (2 to
    30 ms in every process that starts, and ``ctypes.util`` imports ``subprocess``).
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        found = ctypes.CDLL(None, use_errno=True)
        found.prctl  # noqa: B018 - a libc without prctl is no use here
    except (OSError, AttributeError):
        return None
    return found


def set_parent_death_signal(sig: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent dies (Linux only)."""
    found = libc()
    return found is not None and found.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) == 0


def set_thread_name(name: str) -> None:
    """Show ``name`` (cut to 15 bytes) as the process name in ps/top (Linux only)."""
    found = libc()
    if found is not None:
        found.prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)


def current_umask() -> int | None:
    """This process's umask, read without changing it (Linux 4.7+), else None."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def rss_bytes(pid: int) -> int | None:
    """Resident memory of ``pid`` in bytes, or None where /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError):
        return None


def proc_stat(pid: int | str) -> list[bytes] | None:
    """The fields of ``/proc/<pid>/stat`` after the command name (state first), or None
    where /proc cannot tell (no such process, not Linux)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat_file:
            # The command name, in parentheses, may itself hold spaces and parentheses.
            return stat_file.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of ``pid`` in seconds, or None where /proc cannot tell."""
    fields = proc_stat(pid)
    try:
        return None if fields is None else (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    except (ValueError, IndexError):
        return None
