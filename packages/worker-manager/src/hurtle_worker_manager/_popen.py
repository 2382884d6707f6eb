"""How multiprocessing's ``Process.start()`` launches a process under spawn and forkserver.

Runs in: the main process (launching), and in the new process (``_InheritedFd.detach``).

Multiprocessing's own launchers start its resource tracker (a process of ~12 MiB) for
every spawn or forkserver process, whether anything needs it or not. These launchers
hand a process the main process's tracker only when one already runs, that is when
something registered a named resource with it (a ``Lock``, ``Queue``, ``Value`` or
``SharedMemory`` made for ``shared_ctx``); a process that makes such an object itself
gets a tracker of its own then, as multiprocessing does. Named semaphores are still
unlinked by a tracker whenever they exist.

- ``SpawnProcess``: multiprocessing's spawn, but no tracker started for it.
- ``TemplateProcess``: forked from this main process's template (``template``), with
  multiprocessing's forkserver protocol: the pickled preparation data and process object
  on a pipe, the pid and then the exit code on another, descriptors sent with the
  request (sockets and multiprocessing objects reach it as under the forkserver).
"""

from __future__ import annotations

import io
import os
from multiprocessing import context, popen_forkserver, popen_spawn_posix, reduction, spawn, util
from multiprocessing.process import BaseProcess
from typing import Any

from hurtle_worker_manager._template import inherited_fds, read_signed
from hurtle_worker_manager.template import ensure_template

__all__ = ["SpawnProcess", "TemplateProcess", "running_tracker_fd"]


def running_tracker_fd() -> int | None:
    """The resource tracker's descriptor if this process runs one (never starts one)."""
    from multiprocessing import resource_tracker

    if resource_tracker._resource_tracker._fd is None:  # type: ignore[attr-defined]
        return None
    fd: int | None = resource_tracker.getfd()  # checks that it lives, restarts it if it died
    return fd


def _pickled(
    popen: popen_spawn_posix.Popen | popen_forkserver.Popen, process_obj: BaseProcess
) -> io.BytesIO:
    """What a new process reads first: multiprocessing's preparation data, then itself."""
    buffer = io.BytesIO()
    context.set_spawning_popen(popen)
    try:
        reduction.dump(spawn.get_preparation_data(process_obj.name), buffer)
        reduction.dump(process_obj, buffer)
    finally:
        context.set_spawning_popen(None)
    return buffer


class SpawnPopen(popen_spawn_posix.Popen):
    """multiprocessing's spawn launcher, handing over a tracker only when one runs."""

    _fds: list[int]

    def _launch(self, process_obj: BaseProcess) -> None:
        tracker_fd = running_tracker_fd()
        if tracker_fd is not None:
            self._fds.append(tracker_fd)
        buffer = _pickled(self, process_obj)
        parent_r = child_w = child_r = parent_w = None
        try:
            parent_r, child_w = os.pipe()
            child_r, parent_w = os.pipe()
            command = spawn.get_command_line(tracker_fd=tracker_fd, pipe_handle=child_r)
            self._fds.extend([child_r, child_w])
            self.pid = util.spawnv_passfds(spawn.get_executable(), command, self._fds)  # type: ignore[arg-type]
            self.sentinel = parent_r
            with open(parent_w, "wb", closefd=False) as pipe:
                pipe.write(buffer.getbuffer())
        finally:
            to_close = [fd for fd in (parent_r, parent_w) if fd is not None]
            self.finalizer = util.Finalize(self, util.close_fds, to_close)  # type: ignore[attr-defined]
            for fd in (child_r, child_w):
                if fd is not None:
                    os.close(fd)


class _InheritedFd:
    """A descriptor sent along with a template fork request (pickled with the process)."""

    def __init__(self, index: int) -> None:
        self.index = index

    def detach(self) -> int:
        return inherited_fds()[self.index]


class TemplatePopen(popen_forkserver.Popen):
    """A process forked by our template, seen from the main process.

    Only the launch differs from multiprocessing's forkserver: the template and the
    descriptors' way back (``_InheritedFd``); the pid and exit code arrive as there.
    """

    DupFd = _InheritedFd  # type: ignore[assignment]
    _fds: list[int]

    def _launch(self, process_obj: BaseProcess) -> None:
        buffer = _pickled(self, process_obj)
        try:
            self.sentinel, data_w = ensure_template().fork(self._fds, running_tracker_fd())
        except OSError:  # the template died a moment ago: once more, from a new one
            self.sentinel, data_w = ensure_template().fork(self._fds, running_tracker_fd())
        parent_w = os.dup(data_w)  # the process sees its parent alive while this is open
        self.finalizer = util.Finalize(self, util.close_fds, (parent_w, self.sentinel))  # type: ignore[attr-defined]
        with open(data_w, "wb", closefd=True) as pipe:
            pipe.write(buffer.getbuffer())
        self.pid = read_signed(self.sentinel)


class SpawnProcess(context.SpawnProcess):
    """A spawned process that starts no resource tracker of its own accord."""

    @staticmethod
    def _Popen(process_obj: Any) -> SpawnPopen:
        return SpawnPopen(process_obj)


class TemplateProcess(context.ForkServerProcess):
    """A process forked from this main process's template."""

    @staticmethod
    def _Popen(process_obj: Any) -> TemplatePopen:
        return TemplatePopen(process_obj)
