"""The main process's handle on its template (the ``forkserver`` start method).

Runs in: the main process.

One template per main process, started on demand (or ahead of time with
``start_template``, so that its imports overlap the main process's own start) and
started again if it died. See ``_template`` for what the template does and its protocol.
Modules to preload add up: a module asked for after the start is imported by the running
template as soon as no fork request waits. ``TemplatePopen`` (in ``_popen``) asks it for
processes. This module imports next to nothing before the template starts (not the rest
of the package, not multiprocessing, not even ``socket``, ``subprocess`` or ``threading``:
12 ms together), so that a template can be started first thing while the main process
imports the rest.
"""

from __future__ import annotations

import _socket
import _thread
import atexit
import os
import sys

TYPE_CHECKING = False  # not typing's: this module must import next to nothing
if TYPE_CHECKING:
    from collections.abc import Iterable

MAX_FDS = 256
"""The most descriptors one fork request carries (its own pipes and stdio included)."""

TEMPLATE_MODULE = "hurtle_worker_manager._template"
"""What the template runs (not imported here: it imports ctypes, and this module is
imported before anything else when a template is started ahead of need)."""

__all__ = [
    "Template",
    "add_preload",
    "current_template",
    "dead_template",
    "drop_template_ahead",
    "ensure_template",
    "start_template",
    "start_template_ahead",
    "stop_template",
    "template_pid",
]


class Template:
    """A running template process and the main process's end of its control socket."""

    def __init__(self, preload: Iterable[str], idle_timeout: float | None = None) -> None:
        ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
        self._lock = _thread.allocate_lock()
        self.preloaded = list(dict.fromkeys(preload))
        command = (
            f"import sys; sys.path[:0] = {_extra_path()!r}; "
            f"from {TEMPLATE_MODULE} import main; "
            f"main({theirs.fileno()}, {os.getpid()}, {self.preloaded!r}, {idle_timeout!r})"
        )
        # What multiprocessing's spawn runs (its interpreter and flags), started with
        # posix_spawn: the template's end of the socket is the one descriptor it inherits.
        executable = _executable()
        args = [executable, *_interpreter_flags(), "-c", command]
        try:
            os.set_inheritable(theirs.fileno(), True)
            self.pid: int = os.posix_spawn(executable, args, _environ())
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self._control = ours
        self._exit_status: int | None = None
        self._claimed = idle_timeout is None

    @property
    def claimed(self) -> bool:
        """Whether it is in use (or was started for use, not ahead of need)."""
        return self._claimed

    def claim(self) -> None:
        """Tell a template started ahead of need that it is needed (it stays)."""
        if not self._claimed:
            with self._lock:
                self._control.sendmsg([b"K"])
            self._claimed = True

    def preload(self, modules: Iterable[str]) -> None:
        """Have the template import ``modules`` (those it has not) once no fork request waits."""
        missing = [name for name in dict.fromkeys(modules) if name not in self.preloaded]
        if missing:
            with self._lock:
                self._control.sendmsg([b"P" + "\n".join(missing).encode()])
                self.preloaded.extend(missing)

    def fork(self, fds: list[int], tracker: int | None) -> tuple[int, int]:
        """Ask for a new process inheriting ``fds``; returns (status read end, data write end).

        The caller writes the pickled preparation data and process object to the data
        pipe, then reads the pid (and later the exit code) from the status pipe.
        """
        data_r, data_w = os.pipe()
        status_r, status_w = os.pipe()
        stdio = [1, 2] if _open(1) and _open(2) else []
        sent = [data_r, status_w, *stdio, *([] if tracker is None else [tracker]), *fds]
        if len(sent) > MAX_FDS:
            for fd in (data_r, data_w, status_r, status_w):
                os.close(fd)
            raise ValueError(
                f"a process cannot inherit {len(fds)} descriptors (at most {MAX_FDS - 5})"
            )
        flags = (b"1" if tracker is not None else b"0") + (b"1" if stdio else b"0")
        import socket  # loaded long since in a process that forks (not at the template's start)

        try:
            with self._lock:
                socket.send_fds(self._control, [b"F" + flags], sent)  # type: ignore[arg-type]
        except BaseException:
            os.close(data_w)
            os.close(status_r)
            raise
        finally:
            os.close(data_r)
            os.close(status_w)
        return status_r, data_w

    def alive(self) -> bool:
        """Whether the template still runs (a dead one is reaped here)."""
        if self._exit_status is not None:
            return False
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:  # reaped by someone else (a PID 1 reaper): gone
            self._exit_status = -1
            return False
        if pid:
            self._exit_status = status
            return False
        return True

    def close(self) -> None:
        """Close the control socket: the template exits at once, and is not waited for."""
        self._control.close()

    def stop(self) -> None:
        """Close the control socket (the template exits at once) and reap it."""
        self.close()
        if self._exit_status is None:
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            self._exit_status = -1


_current: Template | None = None
_preload: list[str] = []
_lock = _thread.allocate_lock()


@atexit.register
def _close_at_exit() -> None:
    """The template exits once its socket closes (it would at our exit anyway)."""
    if _current is not None:
        _current.close()


_MAIN_PROCESS_ONLY = (
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
)
"""What systemd tells the main process alone (``notify``, ``activation``): a template
started before the main process read them must not hand them to its processes."""


def _open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _environ() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key not in _MAIN_PROCESS_ONLY}


def _executable() -> str:
    """The interpreter multiprocessing would spawn (``set_executable`` is honoured)."""
    spawn = sys.modules.get("multiprocessing.spawn")
    executable = spawn.get_executable() if spawn is not None else None
    return os.fsdecode(executable) if executable else sys.executable


def _interpreter_flags() -> list[str]:
    """The options this interpreter was started with, for the template (as spawn passes).

    An interpreter started without options (the usual case) needs none: its settings come
    from the environment, which the template inherits. Only then is ``subprocess`` (10 ms
    to import) spared.
    """
    first = sys.orig_argv[1] if len(sys.orig_argv) > 1 else ""
    if not first.startswith("-") or first in ("-c", "-m"):
        return []
    import subprocess

    return list(subprocess._args_from_interpreter_flags())  # type: ignore[attr-defined]


def _extra_path() -> list[str]:
    """The main process's import path, so that the template imports the same modules."""
    return [entry for entry in sys.path if entry]


def add_preload(modules: Iterable[str]) -> None:
    """Modules every template of this process preloads (they add up; order is kept)."""
    with _lock:
        for name in modules:
            if name not in _preload:
                _preload.append(name)


def ensure_template() -> Template:
    """The running template, started (again) with the preload if there is none."""
    global _current
    with _lock:
        if _current is not None and _current.alive():
            try:
                _current.claim()
                _current.preload(_preload)
                return _current
            except OSError:  # it exited a moment ago (an unused template ahead of need)
                pass
        if _current is not None:
            _current.stop()
        _current = Template(_preload)
        return _current


def start_template_ahead(preload: Iterable[str], idle_timeout: float) -> None:
    """Start a template before anyone asks for it, so that it imports in parallel.

    It exits after ``idle_timeout`` seconds unless a process start (or ``start_template``)
    claims it, and at once with ``stop_template``. Does nothing if one runs already.
    """
    global _current
    add_preload(preload)
    with _lock:
        if _current is None:
            _current = Template(_preload, idle_timeout)


def start_template(preload: Iterable[str] = ()) -> None:
    """Start the template now with ``preload``: it imports while the main process goes on.

    Optional: the first process started with the forkserver starts it otherwise, and waits
    for its imports. A main process with work to do before its first start (binding,
    listeners) overlaps the template's imports with that work.
    """
    add_preload(preload)
    ensure_template()


def drop_template_ahead() -> None:
    """Stop a template started ahead of need that nothing claimed (it is not needed)."""
    global _current
    with _lock:
        if _current is not None and not _current.claimed:
            _current.stop()
            _current = None


def stop_template() -> None:
    """Stop this process's template, if it runs (it exits at once; its processes with it)."""
    global _current
    with _lock:
        if _current is not None:
            _current.stop()
            _current = None


def current_template() -> Template | None:
    """This process's template, if it started one."""
    return _current


def template_pid() -> int | None:
    """The pid of this process's template, if it started one (else None)."""
    return None if _current is None else _current.pid


def dead_template(pid: int | None = None) -> int | None:
    """The pid of this process's template (or of ``pid``) if it has died, else None.

    Read from Linux's ``/proc``: a dead template is a zombie until it is reaped.
    """
    pid = template_pid() if pid is None else pid
    if pid is None or not os.path.isdir("/proc/self"):
        return None
    # Here, not at the top: this module imports next to nothing (_platform imports ctypes).
    from hurtle_worker_manager._platform import proc_stat

    fields = proc_stat(pid)
    return pid if not fields or fields[0] == b"Z" else None
