"""The worker manager: the main process that runs, watches and steers every process.

One asyncio loop in the main process does everything, so no two actions race: it
starts processes, reads their channels and exit sentinels, answers their commands,
pushes state snapshots, respawns crashed servers with backoff, kills hung ones, and
handles signals (which only record what to do; the loop acts). Control operations
(restart, scale, manage) hold one lock, so back-to-back requests apply in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from multiprocessing.process import BaseProcess
from typing import Any, ClassVar

from hurtle_worker_manager._runtime import STACK_SIGNAL, ProcessSpec, process_main
from hurtle_worker_manager.channel import frame
from hurtle_worker_manager.errors import (
    CommandError,
    CrashLoopError,
    StartupError,
    WorkerManagerError,
)
from hurtle_worker_manager.messages import (
    Ack,
    ChildMessage,
    Command,
    CommandReply,
    Failure,
    Heartbeat,
    ManageCommand,
    Report,
    Request,
    RestartCommand,
    RestartResult,
    ScaleCommand,
    ScaleResult,
    SetServing,
    StateUpdate,
    StatsCommand,
    StatsResult,
    StopNotice,
    TerminateCommand,
    encode,
)
from hurtle_worker_manager.process import ChannelProtocol, ProcessInstance, describe_exit
from hurtle_worker_manager.shared_ctx import SharedContext
from hurtle_worker_manager.state import ProcessState
from hurtle_worker_manager.table import ProcessTable
from hurtle_worker_manager.target import import_path
from hurtle_worker_manager.worker import Slot, Worker

__all__ = ["WorkerManager"]

logger = logging.getLogger("hurtle.manager")

_STABLE_AFTER = 10.0  # seconds a respawned process must live before backoff resets
_BROADCAST_DELAY = 0.01


class WorkerManager:
    """Runs ``workers`` server processes of ``server`` plus managed custom processes.

    ``server`` is a module-level callable (or its import path) that each server worker
    runs with ``server_kwargs``; it calls ``get_multiplexer().ack()`` once ready.
    ``sockets`` are bound once here and handed to every server generation. ``run()``
    blocks until shutdown; it raises ``StartupError`` (after stopping everything) when
    a process fails to start, and ``CrashLoopError`` when one keeps dying at start.
    """

    THRESHOLD: ClassVar[int] = 300
    """How long every server may take to acknowledge its start, in units of 0.1 s."""

    def __init__(
        self,
        server: Callable[..., Any] | str,
        *,
        workers: int = 1,
        server_kwargs: dict[str, Any] | None = None,
        sockets: Sequence[socket.socket] = (),
        start_method: str = "spawn",
        shared_ctx: SharedContext | None = None,
        max_workers: int | None = None,
        graceful_timeout: float = 15.0,
        heartbeat_interval: float = 1.0,
        heartbeat_timeout: float = 30.0,
        respawn_backoff: float = 0.1,
        respawn_backoff_max: float = 10.0,
        crash_loop_limit: int = 5,
        loop_factory: str | None = None,
        prefix: str = "Hurtle",
    ) -> None:
        if not _is_int(workers) or workers < 1:
            raise ValueError(f"Cannot serve with {workers!r} workers: at least 1 is needed")
        self.max_workers = max_workers if max_workers is not None else max(64, workers)
        if workers > self.max_workers:
            raise ValueError(f"workers={workers} exceeds max_workers={self.max_workers}")
        context = multiprocessing.get_context(start_method)
        self._new_process: Callable[..., BaseProcess] = context.Process  # type: ignore[attr-defined]
        self.start_method = start_method
        self.prefix = prefix
        self.shared_ctx = shared_ctx if shared_ctx is not None else SharedContext()
        self.sockets = tuple(sockets)
        self.graceful_timeout = graceful_timeout
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.respawn_backoff = respawn_backoff
        self.respawn_backoff_max = respawn_backoff_max
        self.crash_loop_limit = crash_loop_limit
        self.loop_factory = loop_factory
        self._server_target = import_path(server)
        self._server_kwargs = dict(server_kwargs or {})
        self._table = ProcessTable(prefix)
        self._table.max_workers = self.max_workers
        for _ in range(workers):
            self._table.add_server(self._server_target, self._server_kwargs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._control: asyncio.Lock | None = None
        self._stop: asyncio.Event | None = None
        self._fatal: WorkerManagerError | None = None
        self._shutting_down = False
        self._broadcast_pending = False
        self._stack_dir = ""
        self._signals_seen = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- registration ---

    def manage(
        self,
        name: str,
        func: Callable[..., Any] | str,
        kwargs: dict[str, Any] | None = None,
        *,
        transient: bool = False,
        restartable: bool | None = None,
        tracked: bool = True,
        auto_start: bool = True,
        workers: int = 1,
    ) -> Worker:
        """Register a custom process ``Hurtle-<name>-<i>`` for i in 0..workers-1.

        ``transient`` processes are restarted with the servers (and respawned when they
        crash); ``restartable`` allows a restart by name (default: ``transient``);
        untracked workers are forgotten once none of their processes runs;
        ``auto_start=False`` registers without starting. Called while running, the new
        processes start at once.
        """
        if not name or "#" in name:
            raise ValueError(f"Invalid worker name {name!r}")
        if restartable is None:
            restartable = transient
        if transient and not restartable:
            raise ValueError("Cannot create a transient worker that is not restartable")
        if not _is_int(workers) or workers < 1:
            raise ValueError(f"A worker needs at least 1 process, got {workers!r}")
        worker = Worker(
            name=name,
            target=import_path(func),
            kwargs=dict(kwargs or {}),
            transient=transient,
            restartable=restartable,
            tracked=tracked,
            auto_start=auto_start,
        )
        self._table.register(worker, workers)
        if self._loop is not None and auto_start and not self._shutting_down:
            for slot in worker.slots:
                self._spawn(slot)
        return worker

    # --- reading state ---

    @property
    def main_name(self) -> str:
        """The main process's name in the state table (``Hurtle-Main``)."""
        return self._table.main_name

    def state_update(self) -> StateUpdate:
        """The typed snapshot of every process, as processes receive it."""
        return self._table.snapshot()

    @property
    def workers(self) -> dict[str, dict[str, Any]]:
        """Every process's state entry by name, as plain dicts, plus the main's pid."""
        return self._table.as_dicts()

    def server_names(self) -> list[str]:
        """Names of the server processes, oldest first."""
        return self._table.server_names()

    @property
    def running(self) -> bool:
        """Whether ``run()``/``serve()`` is in progress."""
        return self._loop is not None

    # --- running ---

    def run(self) -> None:
        """Start everything and block until shutdown (Ctrl-C, SIGTERM or ``terminate``)."""
        asyncio.run(self.serve())

    async def serve(self) -> None:
        """``run()`` as a coroutine, for callers that own the event loop."""
        if self._loop is not None:
            raise WorkerManagerError("This WorkerManager is already running")
        self._loop = asyncio.get_running_loop()
        self._control = asyncio.Lock()
        self._stop = asyncio.Event()
        self._shutting_down = False
        self.shared_ctx.lock()
        self._stack_dir = tempfile.mkdtemp(prefix="hurtle-")
        restore_signals = self._install_signals()
        watchdog = self._spawn_task(self._watch_heartbeats())
        try:
            logger.info(
                "%s [pid %d] starting %d server worker(s)",
                self.main_name,
                os.getpid(),
                len(self._table.servers()),
            )
            for worker in self._start_order():
                if worker.auto_start:
                    for slot in worker.slots:
                        self._spawn(slot)
            await self._wait_for_startup()
            if self._fatal is None and not self._stop.is_set():
                logger.info("%s ready: %s", self.main_name, ", ".join(self.server_names()))
                await self._stop.wait()
        finally:
            watchdog.cancel()
            await self._shutdown()
            restore_signals()
            for task in list(self._tasks):
                task.cancel()
            shutil.rmtree(self._stack_dir, ignore_errors=True)
            self._loop = None
        if self._fatal is not None:
            raise self._fatal

    def terminate(self) -> None:
        """Ask for a graceful shutdown; safe from any thread. A no-op when not running."""
        loop, stop = self._loop, self._stop
        if loop is None or stop is None:
            return
        if _running_in(loop):
            stop.set()
        else:
            loop.call_soon_threadsafe(stop.set)

    def _start_order(self) -> list[Worker]:
        workers = list(self._table.workers.values())
        return [w for w in workers if w.server] + [w for w in workers if not w.server]

    async def _wait_for_startup(self) -> None:
        """Wait until every server acked; a failure or a stop request ends the wait."""
        assert self._stop is not None
        servers = [slot.current for slot in self._server_slots() if slot.current is not None]
        waiting = asyncio.ensure_future(
            asyncio.gather(*(self._await_ready(instance) for instance in servers))
        )
        stopped = self._spawn_task(self._stop.wait())
        done, _ = await asyncio.wait({waiting, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if waiting in done:
            try:
                waiting.result()
            except StartupError as exc:
                logger.error("%s", exc)
                self._fatal = exc
        else:
            waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError, StartupError):
                await waiting

    async def _await_ready(self, instance: ProcessInstance) -> None:
        """Wait for ``instance``'s ack (``THRESHOLD``); raises ``StartupError``."""
        timeout = self.THRESHOLD / 10
        try:
            await asyncio.wait_for(asyncio.shield(instance.ready), timeout)
        except asyncio.TimeoutError:
            raise StartupError(
                f"{instance.name} did not acknowledge its start within {timeout:g} s "
                f"(WorkerManager.THRESHOLD = {self.THRESHOLD}, in units of 0.1 s). If it "
                "legitimately needs longer, raise WorkerManager.THRESHOLD before run().",
                instance.name,
            ) from None

    async def _enforce_ack(self, instance: ProcessInstance) -> None:
        """Kill a server that does not ack in time; its exit is then handled like a crash."""
        try:
            await self._await_ready(instance)
        except StartupError as exc:
            if instance.alive:
                instance.failure = Failure(error=str(exc))
                instance.signal(signal.SIGKILL)

    # --- starting, stopping and reaping processes ---

    def _spawn(self, slot: Slot, *, reloaded_files: tuple[str, ...] = ()) -> ProcessInstance:
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
            heartbeat_interval=self.heartbeat_interval,
            stack_path=stack_path,
            log_level=logging.getLogger().getEffectiveLevel(),
            loop_factory=self.loop_factory,
            reloaded_files=reloaded_files,
            inherited_peer_fd=ours.fileno() if self.start_method == "fork" else -1,
        )
        sockets = self.sockets if worker.server else ()
        process = self._new_process(
            target=process_main,
            name=slot.name,
            args=(spec, theirs, dict(worker.kwargs), self.shared_ctx, sockets),
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

    def _stop_instance(self, instance: ProcessInstance, timeout: float | None = None) -> None:
        """Ask ``instance`` to stop (SIGTERM); kill it if it outlives the graceful timeout."""
        if not instance.alive or instance.state is ProcessState.TERMINATED:
            return
        instance.set_state(ProcessState.TERMINATED)
        transport = instance.transport  # the reason first, so it is there when the signal is
        if transport is not None and not transport.is_closing():
            reason = "shutdown" if self._shutting_down else "restart"
            transport.write(frame(encode(StopNotice(reason=reason))))
        instance.signal(signal.SIGTERM)
        assert self._loop is not None
        instance.kill_timer = self._loop.call_later(
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

    def _retire(self, slot: Slot) -> None:
        """Take the slot's current instance out of service and stop it gracefully."""
        old, slot.current = slot.current, None
        if old is not None and old.alive:
            slot.retiring.append(old)
            self._stop_instance(old)

    def _reap(self, instance: ProcessInstance) -> None:
        """The exit sentinel fired: stop watching it and collect the exit status."""
        assert self._loop is not None
        self._loop.remove_reader(instance.process.sentinel)
        self._collect(instance)

    def _collect(self, instance: ProcessInstance) -> None:
        assert self._loop is not None
        process = instance.process
        process.join(0)
        if process.exitcode is None:  # the sentinel closed a moment before the exit completed
            self._loop.call_later(0.005, self._collect, instance)
            return
        code = process.exitcode
        process.close()
        self._spawn_task(self._finish_exit(instance, code))

    async def _finish_exit(self, instance: ProcessInstance, code: int) -> None:
        """Record an exit after the channel delivered the process's last messages."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(instance.channel_closed), 0.5)
        if instance.transport is not None:
            instance.transport.close()
        instance.record_exit(code)
        self._table.instances.discard(instance)
        self._after_exit(instance)
        self._changed()

    def _after_exit(self, instance: ProcessInstance) -> None:
        """Decide what an exit means: expected, a failed replacement, or a crash to repair."""
        slot = instance.slot
        how = describe_exit(instance.exit_code)
        if instance in slot.retiring:
            slot.retiring.remove(instance)
            logger.info("%s stopped (%s)", instance.label, how)
        elif instance in slot.incoming:
            slot.incoming.remove(instance)
            logger.error("%s failed while starting: %s", instance.label, instance.failure_text())
        elif instance is not slot.current:
            pass
        elif self._shutting_down:
            log = logger.info if instance.state is ProcessState.COMPLETED else logger.warning
            log("%s stopped (%s)", instance.label, how)
        elif instance.state is ProcessState.COMPLETED and not slot.worker.server:
            logger.info("%s completed", instance.label)
            self._forget_if_untracked(slot.worker)
        else:
            logger.error("%s died unexpectedly: %s", instance.label, instance.failure_text())
            if slot.worker.respawns and self._table.workers.get(slot.worker.name) is slot.worker:
                self._schedule_respawn(slot, instance)
            else:
                self._forget_if_untracked(slot.worker)

    def _schedule_respawn(self, slot: Slot, dead: ProcessInstance) -> None:
        """Respawn after an exponential backoff; stop everything on a crash loop."""
        stable = dead.uptime() > _STABLE_AFTER
        if dead.acked or stable or not slot.worker.server:
            slot.start_failures = 0
        elif not dead.hung:
            slot.start_failures += 1
        if self.crash_loop_limit and slot.start_failures >= self.crash_loop_limit:
            self._fatal = CrashLoopError(
                f"{slot.name} died {slot.start_failures} times in a row before it was ready; "
                f"stopping the server. Last error: {dead.failure_text()}"
            )
            logger.critical("%s", self._fatal)
            assert self._stop is not None
            self._stop.set()
            return
        if stable:
            slot.crash_streak = 0
        delay = min(self.respawn_backoff * 2**slot.crash_streak, self.respawn_backoff_max)
        slot.crash_streak += 1
        slot.current = None
        logger.warning("Respawning %s in %.2f s", slot.name, delay)
        assert self._loop is not None
        slot.respawn_timer = self._loop.call_later(delay, self._respawn, slot)

    def _respawn(self, slot: Slot) -> None:
        slot.respawn_timer = None
        registered = self._table.workers.get(slot.worker.name) is slot.worker
        if not self._shutting_down and slot.current is None and registered:
            self._spawn(slot)

    def _forget_if_untracked(self, worker: Worker) -> None:
        if worker.tracked or any(slot.live() for slot in worker.slots):
            return
        if self._table.workers.get(worker.name) is worker:
            del self._table.workers[worker.name]
            logger.info("Removed worker %s", worker.name)

    async def _shutdown(self) -> None:
        """Stop every process gracefully, kill what outlives the timeout, reap them all."""
        self._shutting_down = True
        for slot in self._table.slots():
            slot.cancel_respawn()
        live = self._table.live()
        if live:
            logger.info("Stopping %d process(es)", len(live))
        for instance in live:
            self._stop_instance(instance)
        waits = [instance.exited for instance in self._table.instances]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=self.graceful_timeout + 5)
            for instance in self._table.live():
                instance.signal(signal.SIGKILL)
            if pending:
                await asyncio.wait(pending, timeout=5)
        self._broadcast()

    # --- messages from processes ---

    def _on_message(self, instance: ProcessInstance, message: ChildMessage) -> None:
        if isinstance(message, Heartbeat):
            instance.last_beat = time.monotonic()
        elif isinstance(message, Report):
            instance.reports[message.key] = message.payload
            self._changed()
        elif isinstance(message, Ack):
            if instance.mark_acked():
                logger.info("%s is ready", instance.label)
                self._changed()
        elif isinstance(message, SetServing):
            instance.serving = message.serving
            self._changed()
        elif isinstance(message, Failure):
            instance.failure = message
        elif isinstance(message, Request):
            self._spawn_task(self._answer(instance, message))

    async def _answer(self, instance: ProcessInstance, request: Request) -> None:
        try:
            result = await self.execute(request.command, origin=instance.label)
            reply = CommandReply(id=request.id, result=result)
        except (WorkerManagerError, ValueError, TypeError) as exc:
            reply = CommandReply(id=request.id, error=str(exc))
        except Exception as exc:
            logger.exception("Command %r from %s failed", request.command, instance.label)
            reply = CommandReply(id=request.id, error=f"internal error: {exc}")
        if instance.transport is not None and not instance.transport.is_closing():
            instance.transport.write(frame(encode(reply)))

    async def execute(
        self, command: Command, *, origin: str = ""
    ) -> RestartResult | ScaleResult | StatsResult | None:
        """Carry out one command, from a process or from code in the main process."""
        if origin:
            logger.info("%s asks: %r", origin, command)
        if isinstance(command, RestartCommand):
            return await self.restart(
                command.names,
                all_workers=command.all_workers,
                zero_downtime=command.zero_downtime,
                wait=command.wait,
                reloaded_files=command.reloaded_files,
            )
        if isinstance(command, ScaleCommand):
            return await self.scale(command.replicas, wait=command.wait)
        if isinstance(command, TerminateCommand):
            self.terminate()
            return None
        if isinstance(command, ManageCommand):
            self.manage(
                command.name,
                command.target,
                command.kwargs,
                transient=command.transient,
                restartable=command.restartable,
                tracked=command.tracked,
                auto_start=command.auto_start,
                workers=command.workers,
            )
            return None
        if isinstance(command, StatsCommand):
            return self._table.stats()
        raise CommandError(f"Unknown command {command!r}")

    # --- restarts ---

    async def restart(
        self,
        names: Sequence[str] = (),
        *,
        all_workers: bool = False,
        zero_downtime: bool = False,
        wait: bool = False,
        reloaded_files: Sequence[str] = (),
    ) -> RestartResult:
        """Restart named processes (process or worker names), or every transient one.

        Shutdown-first by default. ``zero_downtime`` starts each replacement and stops
        the old process only once the new one acknowledged; if the new one fails, the
        old one keeps serving. ``wait`` returns only when the replacements are ready
        (and raises ``CommandError`` if one failed). Restarts are serialised.
        """
        self._require_running()
        slots = self._table.select_for_restart(tuple(names), all_workers)
        accepted: asyncio.Future[RestartResult] = asyncio.get_running_loop().create_future()
        operation = self._spawn_task(
            self._restart(slots, zero_downtime, tuple(reloaded_files), accepted)
        )
        return await (operation if wait else _first(accepted, operation))  # type: ignore[no-any-return]

    async def _restart(
        self,
        slots: list[Slot],
        zero_downtime: bool,
        reloaded_files: tuple[str, ...],
        accepted: asyncio.Future[RestartResult],
    ) -> RestartResult:
        assert self._control is not None
        async with self._control:
            if self._shutting_down:
                raise CommandError("The server is shutting down")
            slots = [s for s in slots if self._table.workers.get(s.worker.name) is s.worker]
            result = RestartResult(restarted=[slot.name for slot in slots])
            if not zero_downtime:
                for slot in slots:
                    self._retire(slot)
            fresh = [self._spawn(slot, reloaded_files=reloaded_files) for slot in slots]
            _resolve(accepted, result)
            outcomes = await asyncio.gather(
                *(self._await_ready(new) for new in fresh), return_exceptions=True
            )
            errors = []
            for slot, new, outcome in zip(slots, fresh, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    errors.append(str(outcome))
                    if new in slot.incoming:  # zero downtime: drop the failed newcomer
                        slot.incoming.remove(new)
                        slot.retiring.append(new)
                        self._stop_instance(new, timeout=1.0)
                elif new in slot.incoming:  # zero downtime: the newcomer takes over
                    slot.incoming.remove(new)
                    self._retire(slot)
                    slot.current = new
                    self._changed()
            if errors:
                kept = " (the old process keeps serving)" if zero_downtime else ""
                raise CommandError("Restart failed" + kept + ": " + "; ".join(errors))
            return result

    # --- scaling ---

    async def scale(self, replicas: int, *, wait: bool = False) -> ScaleResult:
        """Run exactly ``replicas`` server workers (1 to ``max_workers``).

        Removed workers stop gracefully and finish their in-flight work. ``wait``
        returns once new workers are ready and removed ones have exited.
        """
        self._require_running()
        if not _is_int(replicas):
            raise CommandError(f"The number of workers must be an integer, got {replicas!r}")
        if not 1 <= replicas <= self.max_workers:
            raise CommandError(
                f"Cannot scale to {replicas} workers: choose 1 to {self.max_workers}"
            )
        accepted: asyncio.Future[ScaleResult] = asyncio.get_running_loop().create_future()
        operation = self._spawn_task(self._scale(lambda _: replicas, accepted))
        return await (operation if wait else _first(accepted, operation))  # type: ignore[no-any-return]

    async def scale_by(self, delta: int) -> ScaleResult:
        """Add (or remove, if negative) ``delta`` server workers, within 1 to ``max_workers``.

        The count is taken when the operation runs, so queued requests add up.
        """
        self._require_running()
        accepted: asyncio.Future[ScaleResult] = asyncio.get_running_loop().create_future()

        def target(current: int) -> int:
            return max(1, min(self.max_workers, current + delta))

        return await self._spawn_task(self._scale(target, accepted))  # type: ignore[no-any-return]

    async def _scale(
        self, target: Callable[[int], int], accepted: asyncio.Future[ScaleResult]
    ) -> ScaleResult:
        assert self._control is not None
        async with self._control:
            if self._shutting_down:
                raise CommandError("The server is shutting down")
            servers = self._table.servers()
            replicas = target(len(servers))
            if replicas == len(servers):
                logger.info("No change needed: there are already %d workers", replicas)
            else:
                logger.info("Scaling from %d to %d workers", len(servers), replicas)
            started = []
            for _ in range(replicas - len(servers)):
                worker = self._table.add_server(self._server_target, self._server_kwargs)
                started.append(self._spawn(worker.slots[0]))
            stopping = []
            for worker in reversed(servers[replicas:]):  # the newest go first
                del self._table.workers[worker.name]
                for slot in worker.slots:
                    slot.cancel_respawn()
                    self._retire(slot)
                    stopping.extend(slot.retiring)
            self._changed()
            _resolve(accepted, ScaleResult(replicas=replicas, workers=self.server_names()))
            outcomes = await asyncio.gather(
                *(self._await_ready(new) for new in started), return_exceptions=True
            )
            if stopping:
                await asyncio.wait([i.exited for i in stopping], timeout=self.graceful_timeout + 5)
            errors = [str(outcome) for outcome in outcomes if isinstance(outcome, BaseException)]
            if errors:
                raise CommandError("Scaling started workers that failed: " + "; ".join(errors))
            return ScaleResult(replicas=replicas, workers=self.server_names())

    def stats(self) -> StatsResult:
        """RSS, CPU time and uptime of every live process."""
        return self._table.stats()

    # --- heartbeats ---

    async def _watch_heartbeats(self) -> None:
        """Kill and replace processes whose main loop stopped sending heartbeats."""
        while True:
            await asyncio.sleep(min(self.heartbeat_interval, self.heartbeat_timeout / 2))
            now = time.monotonic()
            for instance in self._table.live():
                if instance.last_beat is None or instance.hung:
                    continue
                silent = now - instance.last_beat
                if silent > self.heartbeat_timeout:
                    instance.hung = True
                    self._spawn_task(self._replace_hung(instance, silent))

    async def _replace_hung(self, instance: ProcessInstance, silent: float) -> None:
        logger.error(
            "%s sent no heartbeat for %.1f s: its main loop is stuck. Dumping its stack, "
            "then replacing it.",
            instance.label,
            silent,
        )
        instance.signal(STACK_SIGNAL)
        stack = await _read_when_written(instance.stack_path, deadline=1.0)
        logger.error("Stack of %s:\n%s", instance.label, stack or "(no stack could be read)")
        instance.failure = Failure(error=f"hung: no heartbeat for {silent:.1f} s")
        instance.signal(signal.SIGKILL)

    # --- state broadcast ---

    def _changed(self) -> None:
        """Push a new snapshot to every process soon (changes are coalesced)."""
        if self._broadcast_pending or self._loop is None:
            return
        self._broadcast_pending = True
        self._loop.call_later(_BROADCAST_DELAY, self._broadcast)

    def _broadcast(self) -> None:
        self._broadcast_pending = False
        data = frame(encode(self._table.snapshot()))
        for instance in self._table.instances:
            transport = instance.transport
            if transport is not None and not transport.is_closing():
                transport.write(data)

    # --- signals ---

    def _install_signals(self) -> Callable[[], None]:
        """SIGINT/SIGTERM stop, SIGHUP reloads with zero downtime, SIGTTIN/SIGTTOU scale ±1."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        loop = self._loop
        assert loop is not None
        handlers: dict[int, Callable[[], None]] = {
            signal.SIGINT: self._on_stop_signal,
            signal.SIGTERM: self._on_stop_signal,
            signal.SIGHUP: self._on_reload_signal,
            signal.SIGTTIN: lambda: self._on_scale_signal(+1),
            signal.SIGTTOU: lambda: self._on_scale_signal(-1),
        }
        for sig, handler in handlers.items():
            loop.add_signal_handler(sig, handler)

        def restore() -> None:
            for sig in handlers:
                loop.remove_signal_handler(sig)

        return restore

    def _on_stop_signal(self) -> None:
        assert self._stop is not None
        self._signals_seen += 1
        if self._signals_seen == 1:
            logger.info("Shutting down gracefully (send the signal again to force)")
            self._stop.set()
        else:
            logger.warning("Second stop signal: killing every process now")
            for instance in self._table.live():
                instance.signal(signal.SIGKILL)

    def _on_reload_signal(self) -> None:
        logger.info("SIGHUP: zero-downtime restart of every transient process")
        self._spawn_task(_log_errors(self.restart(all_workers=True, zero_downtime=True)))

    def _on_scale_signal(self, delta: int) -> None:
        self._spawn_task(_log_errors(self.scale_by(delta)))

    # --- helpers ---

    def _require_running(self) -> None:
        if self._loop is None or not _running_in(self._loop):
            raise WorkerManagerError(
                "The manager is not running here: call this from its event loop while it runs"
            )

    def _server_slots(self) -> list[Slot]:
        return [slot for worker in self._table.servers() for slot in worker.slots]

    def _spawn_task(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _is_int(value: object) -> bool:
    """Whether ``value`` is an int and not a bool."""
    return isinstance(value, int) and not isinstance(value, bool)


async def _log_errors(coro: Any) -> None:
    try:
        await coro
    except WorkerManagerError as exc:
        logger.error("%s", exc)


async def _first(accepted: asyncio.Future[Any], operation: asyncio.Task[Any]) -> Any:
    """The accepted result, or the operation's error if it failed before accepting."""
    await asyncio.wait({accepted, operation}, return_when=asyncio.FIRST_COMPLETED)
    if accepted.done():
        operation.add_done_callback(_log_operation_error)
        return accepted.result()
    return operation.result()


def _log_operation_error(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("%s", task.exception())


def _resolve(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _running_in(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


async def _read_when_written(path: str, deadline: float) -> str:
    """Wait up to ``deadline`` seconds for a file to be written and stop growing."""
    end = time.monotonic() + deadline
    last_size = -1
    while time.monotonic() < end:
        size = _file_size(path)
        if size and size == last_size:
            break
        last_size = size
        await asyncio.sleep(0.05)
    return _read_small_file(path)


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _read_small_file(path: str) -> str:
    try:
        with open(path) as file:
            return file.read()
    except OSError:
        return ""
