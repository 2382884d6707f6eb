"""The launcher: the process mechanics of the worker manager, and no policy.

Runs in: the main process (inside the manager's event loop).

A ``Launcher`` starts a slot's process instance (spawn, fork or forkserver, its channel,
its exit sentinel), stops it (SIGTERM, then SIGKILL after the graceful timeout), reaps it, and
enforces the start acknowledgement deadline. It never decides what an event means: it
is built with callbacks, the way uvicorn's ``Process`` and gunicorn's workers leave the
decisions to their supervisor:

- ``on_message(instance, message)`` for every message a process sends;
- ``on_exit(instance)`` once a process is reaped and its exit recorded;
- ``changed()`` whenever the state table changed and a snapshot is due;
- ``stop_reason()`` what a stop means now (``"restart"`` or ``"shutdown"``), told to the
  process (a ``StopNotice``) just before its SIGTERM;
- ``spawn_task(coro)`` to run a background task the owner tracks and cancels.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import tempfile
from collections.abc import Callable, Coroutine
from datetime import datetime, timezone
from multiprocessing.process import BaseProcess
from typing import Any

from hurtle_worker_manager._child import process_main
from hurtle_worker_manager._platform import current_umask
from hurtle_worker_manager._spec import ProcessSpec
from hurtle_worker_manager.channel import frame
from hurtle_worker_manager.errors import StartupError
from hurtle_worker_manager.messages import ChildMessage, Failure, StopNotice, encode
from hurtle_worker_manager.process import ChannelProtocol, ProcessInstance
from hurtle_worker_manager.shared_ctx import SharedContext
from hurtle_worker_manager.start_method import dead_template, template_pid
from hurtle_worker_manager.state import ProcessState
from hurtle_worker_manager.table import ProcessTable
from hurtle_worker_manager.worker import Slot

__all__ = ["Launcher"]

logger = logging.getLogger("hurtle.manager")

SpawnTask = Callable[[Coroutine[Any, Any, Any]], "asyncio.Task[Any]"]


class Launcher:
    """Starts, stops and reaps the process instances of a ``ProcessTable``."""

    def __init__(
        self,
        table: ProcessTable,
        *,
        new_process: Callable[..., BaseProcess],
        start_method: str,
        shared_ctx: SharedContext,
        sockets: tuple[socket.socket, ...],
        graceful_timeout: float,
        heartbeat_interval: float,
        loop_factory: str | None,
        threshold: Callable[[], int],
        stop_reason: Callable[[], str],
        on_message: Callable[[ProcessInstance, ChildMessage], None],
        on_exit: Callable[[ProcessInstance], None],
        changed: Callable[[], None],
        spawn_task: SpawnTask,
    ) -> None:
        self._table = table
        self._new_process = new_process
        self._start_method = start_method
        self._shared_ctx = shared_ctx
        self._sockets = sockets
        self.graceful_timeout = graceful_timeout
        self._heartbeat_interval = heartbeat_interval
        self._loop_factory = loop_factory
        self._threshold = threshold
        self._stop_reason = stop_reason
        self._on_message = on_message
        self._on_exit = on_exit
        self._changed = changed
        self._spawn_task = spawn_task
        self._stack_dir = ""
        self._dead_template = 0

    # --- lifetime of the launcher itself ---

    def open(self) -> None:
        """Prepare for a run: a private folder for stack dumps of hung processes."""
        self._stack_dir = tempfile.mkdtemp(prefix="hurtle-")

    def close(self) -> None:
        """Remove what ``open()`` made."""
        shutil.rmtree(self._stack_dir, ignore_errors=True)

    # --- acknowledgements ---

    async def await_ready(self, instance: ProcessInstance) -> None:
        """Wait for ``instance``'s ack (``WorkerManager.THRESHOLD``); raises ``StartupError``."""
        threshold = self._threshold()
        timeout = threshold / 10
        try:
            await asyncio.wait_for(asyncio.shield(instance.ready), timeout)
        except asyncio.TimeoutError:
            raise StartupError(
                f"{instance.name} did not acknowledge its start within {timeout:g} s "
                f"(WorkerManager.THRESHOLD = {threshold}, in units of 0.1 s). If it "
                "legitimately needs longer, raise WorkerManager.THRESHOLD before run().",
                instance.name,
            ) from None

    async def _enforce_ack(self, instance: ProcessInstance) -> None:
        """Kill a server that does not ack in time; its exit is then handled like a crash."""
        try:
            await self.await_ready(instance)
        except StartupError as exc:
            if instance.alive:
                instance.failure = Failure(error=str(exc))
                instance.signal(signal.SIGKILL)

    # --- starting ---

    def spawn(self, slot: Slot, *, reloaded_files: tuple[str, ...] = ()) -> ProcessInstance:
        """Start a new instance for ``slot``.

        It becomes the slot's current instance unless a live one holds the slot, in
        which case it starts beside it (the caller swaps them once it is ready).
        """
        slot.cancel_respawn()
        slot.generations += 1
        if slot.generations > 1:
            slot.restart_at = datetime.now(timezone.utc)
        worker = slot.worker
        ours, theirs = socket.socketpair()
        stack_path = os.path.join(self._stack_dir, f"{slot.name}.{slot.generations}.stack")
        spec = ProcessSpec(
            name=slot.name,
            generation=slot.generations,
            target=worker.target,
            server=worker.server,
            parent_pid=os.getpid(),
            heartbeat_interval=self._heartbeat_interval,
            stack_path=stack_path,
            log_level=logging.getLogger().getEffectiveLevel(),
            loop_factory=self._loop_factory,
            reloaded_files=reloaded_files,
            inherited_peer_fd=ours.fileno() if self._start_method == "fork" else -1,
            start_method=self._start_method,
            environ=dict(os.environ) if self._start_method == "forkserver" else None,
            umask=_umask() if self._start_method == "forkserver" else -1,
        )
        sockets = self._sockets if worker.server else ()
        process = self._new_process(
            target=process_main,
            name=slot.name,
            args=(spec, theirs, dict(worker.kwargs), self._shared_ctx, sockets),
        )
        instance = ProcessInstance(slot, slot.generations, process, stack_path)
        if slot.current is not None and slot.current.alive:
            slot.incoming.append(instance)
        else:
            slot.current = instance
        self._table.instances.add(instance)
        try:
            process.start()
        except Exception as exc:
            ours.close()
            instance.failure = Failure(error=f"could not start: {exc}")
            instance.record_exit(None)
            self._table.instances.discard(instance)
            logger.error("Could not start %s: %s", slot.name, exc)
            self._changed()
            return instance
        finally:
            theirs.close()
        instance.mark_started()
        loop = asyncio.get_running_loop()
        self._spawn_task(
            loop.connect_accepted_socket(lambda: ChannelProtocol(instance, self._on_message), ours)
        )
        loop.add_reader(process.sentinel, self._reap, instance)
        if worker.server:
            self._spawn_task(self._enforce_ack(instance))
        logger.info("Started %s", instance.label)
        self._changed()
        return instance

    # --- stopping ---

    def stop(self, instance: ProcessInstance, timeout: float | None = None) -> None:
        """Ask ``instance`` to stop (SIGTERM); kill it if it outlives the graceful timeout."""
        if not instance.alive or instance.state is ProcessState.TERMINATED:
            return
        instance.set_state(ProcessState.TERMINATED)
        transport = instance.transport  # the reason first, so it is there with the signal
        if transport is not None and not transport.is_closing():
            transport.write(frame(encode(StopNotice(reason=self._stop_reason()))))
        instance.signal(signal.SIGTERM)
        instance.kill_timer = asyncio.get_running_loop().call_later(
            self.graceful_timeout if timeout is None else timeout,
            self._kill,
            instance,
            "it did not stop within the graceful timeout",
        )
        self._changed()

    def _kill(self, instance: ProcessInstance, why: str) -> None:
        if instance.alive:
            logger.warning("Killing %s: %s", instance.label, why)
            instance.signal(signal.SIGKILL)

    def retire(self, slot: Slot) -> None:
        """Take the slot's current instance out of service and stop it gracefully."""
        old, slot.current = slot.current, None
        if old is not None and old.alive:
            slot.retiring.append(old)
            self.stop(old)

    # --- reaping ---

    def _reap(self, instance: ProcessInstance) -> None:
        """The exit sentinel fired: stop watching it and collect the exit status."""
        asyncio.get_running_loop().remove_reader(instance.process.sentinel)
        self._collect(instance)

    def _collect(self, instance: ProcessInstance) -> None:
        process = instance.process
        process.join(0)
        if process.exitcode is None:  # the sentinel closed a moment before the exit completed
            asyncio.get_running_loop().call_later(0.005, self._collect, instance)
            return
        code = process.exitcode
        process.close()
        if self._start_method == "forkserver" and code == 255:
            self._explain_template_death()
        self._spawn_task(self._finish_exit(instance, code))

    def _explain_template_death(self, template: int | None = None, tries: int = 50) -> None:
        """Multiprocessing reports 255 for every process of a template that died: say so once.

        The 255 comes when the dying template's pipes close, a moment before the kernel
        shows it as a zombie: look at that template again every 20 ms, ``tries`` times.
        """
        template = template_pid() if template is None else template
        if template is None or template == self._dead_template:
            return
        if dead_template(template) is None:
            if tries > 1:
                loop = asyncio.get_running_loop()
                loop.call_later(0.02, self._explain_template_death, template, tries - 1)
            return
        self._dead_template = template
        logger.error(
            "The forkserver's template (pid %d) died, and every process it forked with "
            "it; they are respawned from a new template",
            template,
        )

    async def _finish_exit(self, instance: ProcessInstance, code: int) -> None:
        """Record an exit after the channel delivered the process's last messages."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(instance.channel_closed), 0.5)
        if instance.transport is not None:
            instance.transport.close()
        instance.record_exit(code)
        self._table.instances.discard(instance)
        self._on_exit(instance)
        self._changed()


def _umask() -> int:
    mask = current_umask()
    return -1 if mask is None else mask
