"""The template process of the ``forkserver`` start method: import once, fork many.

Runs in: the template process (started by ``template`` in the main process), and, for
the few lines after each ``fork()``, in the new process before multiprocessing's
``spawn._main`` takes over. Nothing else imports it for its code; the processes forked
from the template read ``TEMPLATE_PID`` and ``inherited_fds()``.

The template is a clean interpreter: it never ran the main script, holds no thread, lock
or connection of the main process, and imports only what it is told to preload (the
libraries, never the application). It talks to the main process over one
``SOCK_SEQPACKET`` socket, message by message:

- ``K``: keep running (a template started ahead of need exits after ``idle_timeout``
  seconds unless it gets a message: it was not needed after all);
- ``P`` + module names, one per line: import these as soon as no fork request waits (more
  libraries for the next forks; a process forked before imports what it needs itself);
- ``F`` + two flags (``1`` or ``0``), with file descriptors attached: fork a process. The
  descriptors are the read end of the pipe that carries its pickled preparation data and
  process object, the write end of its status pipe, the main process's stdout and stderr
  as they are now (second flag: they were open), multiprocessing's resource tracker when
  the main process runs one (first flag: only then), then the descriptors the process
  inherits.

On the status pipe the template writes the new process's pid, and once it is reaped its
exit code (multiprocessing's forkserver protocol, which ``_popen.TemplatePopen`` reads).
An end of file on the socket (the main process closed it or died) ends the template.

Its ties to the main process: the Linux parent-death signal (it never outlives the main
process); SIGTERM, SIGHUP and SIGINT ignored (a stop signal sent to the whole process
group must reach the main process and the workers, which drain, and not kill the
template, whose death would kill the workers at once; each forked process gets the
default actions back at once); ``gc.freeze()`` after each preload, so that the collector
of the forked processes never writes to the preloaded objects' pages: they stay shared.
"""

from __future__ import annotations

import gc
import os
import selectors
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Sequence

from hurtle_worker_manager._platform import set_parent_death_signal, set_thread_name
from hurtle_worker_manager.template import MAX_FDS

__all__ = ["TEMPLATE_PID", "inherited_fds", "main", "read_signed", "write_signed"]

TEMPLATE_PID: int | None = None
"""The template's pid, set in the template and inherited by the processes it forks."""

SIGNED = struct.Struct("q")
_IGNORED = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
_inherited: list[int] = []


def inherited_fds() -> list[int]:
    """The descriptors this forked process received, in the order the main process sent them."""
    return _inherited


def write_signed(fd: int, value: int) -> None:
    """Write one signed 64-bit number to ``fd`` (a pid or an exit code).

    The status pipe's format is multiprocessing.forkserver's (``read_signed`` and
    ``write_signed`` there); not imported from it, which costs the template ~1 ms at start.
    """
    data = SIGNED.pack(value)
    while data:
        data = data[os.write(fd, data) :]


def read_signed(fd: int) -> int:
    """Read one number ``write_signed`` wrote (in the main process: the pid, the exit code)."""
    data = b""
    while len(data) < SIGNED.size:
        chunk = os.read(fd, SIGNED.size - len(data))
        if not chunk:
            raise EOFError("the template closed the status pipe")
        data += chunk
    value: int = SIGNED.unpack(data)[0]
    return value


def main(
    control_fd: int, main_pid: int, preload: Sequence[str], idle_timeout: float | None = None
) -> None:
    """Run the template: tie it to the main process, preload, then fork on request.

    With ``idle_timeout``, it exits if no message came that many seconds after its start.
    """
    global TEMPLATE_PID
    TEMPLATE_PID = os.getpid()
    if set_parent_death_signal() and os.getppid() != main_pid:
        os._exit(1)  # the main process died before we could arrange to die with it
    set_thread_name("Hurtle-Template")
    for sig in _IGNORED:
        signal.signal(sig, signal.SIG_IGN)
    _close_stdin()
    deadline = None if idle_timeout is None else time.monotonic() + idle_timeout
    _preload([*_EVERY_PROCESS, *preload])
    _Template(socket.socket(fileno=control_fd)).serve(deadline)


def _close_stdin() -> None:
    """Like multiprocessing's processes: stdin is /dev/null (the main process owns the tty)."""
    try:
        sys.stdin.close()
        sys.stdin = open(os.devnull)  # noqa: SIM115 - replaces stdin for the process's life
    except (OSError, ValueError):
        pass


_EVERY_PROCESS = ("multiprocessing.spawn", "multiprocessing.resource_tracker", "pkgutil")
"""What every forked process uses before its target: multiprocessing's way in, and what
``runpy`` imports to run the main script again (``pkgutil``, some milliseconds a process)."""


def _preload(modules: Sequence[str]) -> None:
    for name in modules:
        try:
            __import__(name)
        except ImportError:
            pass  # the main process checked they exist; an optional one may be missing
        except Exception:  # a library that fails on import fails again in the process
            sys.excepthook(*sys.exc_info())
    threads = [thread.name for thread in threading.enumerate()]
    if len(threads) > 1:  # forking a process with threads copies their locks, held or not
        print(
            f"hurtle: a preloaded module started threads in the forkserver's template "
            f"({', '.join(threads[1:])}): processes forked from it may deadlock; preload "
            "only modules that start no thread at import",
            file=sys.stderr,
            flush=True,
        )
    gc.freeze()


class _Template:
    """The fork loop: requests from the control socket, exits from SIGCHLD."""

    def __init__(self, control: socket.socket) -> None:
        self.control = control
        self.status: dict[int, int] = {}  # pid -> write end of its status pipe
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.selector = selectors.DefaultSelector()
        self.pending: list[str] = []  # modules to preload once no fork request waits

    def serve(self, deadline: float | None) -> None:
        """Until the main process closes the socket (or, if never used, until ``deadline``)."""
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, _ignore)  # a handler, so that the wakeup fd gets a byte
        self.selector.register(self.control, selectors.EVENT_READ)
        self.selector.register(self.wake_r, selectors.EVENT_READ)
        while True:
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            events = self.selector.select(0 if self.pending else timeout)
            if not events and self.pending:
                _preload(self.pending)
                self.pending.clear()
                continue
            if not events and deadline is not None and time.monotonic() >= deadline:
                return  # started ahead of need, and not needed
            for key, _ in events:
                if key.fileobj is self.control:
                    deadline = None
                    if not self._request():
                        return  # the main process is gone
                else:
                    self._reap()

    def _request(self) -> bool:
        try:
            message, fds, _, _ = socket.recv_fds(self.control, 65536, MAX_FDS)
        except InterruptedError:
            return True
        if not message:
            for fd in fds:
                os.close(fd)
            return False
        if message[:1] == b"P":
            self.pending.extend(message[1:].decode().split())
        elif message[:1] == b"F" and len(fds) >= 2:
            self._fork(fds, with_tracker=message[1:2] == b"1", with_stdio=message[2:3] == b"1")
        else:
            for fd in fds:
                os.close(fd)
        return True

    def _fork(self, fds: list[int], *, with_tracker: bool, with_stdio: bool) -> None:
        data_r, status_w, *rest = fds
        stdio = [rest.pop(0), rest.pop(0)] if with_stdio and len(rest) >= 2 else []
        tracker = rest.pop(0) if with_tracker and rest else None
        # Blocked across the fork: a stop signal sent to the new process before it has the
        # default actions back stays pending (ignored but blocked signals are kept), rather
        # than being discarded as the template's ignored signals are; it acts once unblocked.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _IGNORED)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                self._become_process(status_w, mask)
                for target, fd in zip((1, 2), stdio, strict=False):
                    os.dup2(fd, target)  # write where the main process writes now, as spawn
                    os.close(fd)
                code = _run_process(data_r, tracker, rest)
            except BaseException:
                sys.excepthook(*sys.exc_info())
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # what came meanwhile is ignored
        try:
            write_signed(status_w, pid)
        except BrokenPipeError:
            pass  # the main process gave up on it; it is reaped all the same
        self.status[pid] = status_w
        os.close(data_r)
        for fd in (*stdio, *([] if tracker is None else [tracker]), *rest):
            os.close(fd)

    def _become_process(self, own_status: int, mask: set[int | signal.Signals]) -> None:
        """In the new process: drop the template's loop, sockets and signal handling."""
        signal.set_wakeup_fd(-1)
        self.selector.close()
        self.control.close()
        for fd in (self.wake_r, self.wake_w, own_status, *self.status.values()):
            os.close(fd)
        self.status.clear()
        for sig in (*_IGNORED, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a pending stop acts now

    def _reap(self) -> None:
        try:
            os.read(self.wake_r, 65536)
        except BlockingIOError:
            pass
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            status_w = self.status.pop(pid, None)
            if status_w is None:
                continue
            try:
                write_signed(status_w, os.waitstatus_to_exitcode(status))
            except BrokenPipeError:
                pass
            os.close(status_w)


def _ignore(signum: int, frame: object) -> None:
    """SIGCHLD's handler: the wakeup fd does the work."""


def _run_process(data_r: int, tracker: int | None, fds: list[int]) -> int:
    """What multiprocessing's fork server does in the new process: unpickle and run it."""
    from multiprocessing import resource_tracker, spawn

    _inherited[:] = fds
    # The main process's tracker, if it runs one; else none until something here needs
    # one (multiprocessing then starts it, for this process).
    resource_tracker._resource_tracker._fd = tracker  # type: ignore[attr-defined]
    parent_sentinel = os.dup(data_r)  # readable once the main process dropped its end
    code: int = spawn._main(data_r, parent_sentinel)
    return code
