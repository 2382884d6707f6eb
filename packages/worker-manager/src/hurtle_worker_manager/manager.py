"""The worker manager: the main process that runs, watches and steers every process.

Runs in: the main process.

One asyncio loop in the main process does everything, so no two actions race. This
module holds the policy and reads top down: what runs at start, what an exit means
(expected, a failed replacement, or a crash to respawn with backoff), what the signals
do (they only record; the loop acts), how a shutdown goes, and the public API. The
mechanics live in rooms that get callbacks and never see the manager:

- ``launcher``: spawn, stop, kill and reap processes, and the ack deadline;
- ``operations``: restart and scale, serialised by one lock;
- ``watchdog``: kill and replace processes whose heartbeats stopped;
- ``production``: systemd notifications, the phase, recycling and PID 1 reaping;
- ``table``: the registered workers, their slots and the state snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Sequence
from multiprocessing.process import BaseProcess
from typing import Any, ClassVar

from hurtle_worker_manager.channel import frame
from hurtle_worker_manager.errors import (
    CommandError,
    CrashLoopError,
    StartupError,
    UsageError,
    WorkerManagerError,
)
from hurtle_worker_manager.launcher import Launcher
from hurtle_worker_manager.messages import (
    Ack,
    ChildMessage,
    Command,
    CommandReply,
    ManageCommand,
    Request,
    RestartCommand,
    RestartResult,
    ScaleCommand,
    ScaleResult,
    StateUpdate,
    StatsCommand,
    StatsResult,
    TerminateCommand,
    encode,
)
from hurtle_worker_manager.notify import Notifier
from hurtle_worker_manager.operations import Operations
from hurtle_worker_manager.process import ProcessInstance, describe_exit
from hurtle_worker_manager.production import Production
from hurtle_worker_manager.recycling import RecyclePolicy
from hurtle_worker_manager.shared_ctx import SharedContext
from hurtle_worker_manager.start_method import new_context
from hurtle_worker_manager.state import ProcessState
from hurtle_worker_manager.table import ProcessTable
from hurtle_worker_manager.target import import_path
from hurtle_worker_manager.watchdog import HeartbeatWatchdog
from hurtle_worker_manager.worker import ProcessGroup, Slot

__all__ = ["WorkerManager"]

logger = logging.getLogger("hurtle.manager")

_BROADCAST_DELAY = 0.005
"""Seconds between two state snapshots at least (changes in between are sent together)."""


class WorkerManager:
    """Runs ``workers`` server processes of ``server`` plus managed custom processes.

    ``server`` is a module-level callable (or its import path) that each server worker
    runs with ``server_kwargs``; it calls ``get_multiplexer().ack()`` once ready.
    ``sockets`` are bound once here and handed to every server generation.
    ``start_method`` is ``"spawn"``, ``"fork"`` or ``"forkserver"`` (see ``start_method``);
    ``preload`` names the modules the forkserver's template imports once for every
    process it forks (the libraries, not the application). ``run()``
    blocks until shutdown; it raises ``StartupError`` (after stopping everything) when
    a process fails to start, and ``CrashLoopError`` when one keeps dying at start.

    Production: ``notifier`` talks to systemd (default: from ``$NOTIFY_SOCKET``);
    ``recycling`` replaces server workers that reached a limit; ``pre_stop_delay`` keeps
    serving, not ready, that many seconds before a shutdown drains; ``reap_orphans``
    (default: when PID 1) reaps every child, also ones the manager did not start.
    A crashed server (or a ``transient``/``respawn`` custom process) is respawned after
    ``respawn_backoff`` seconds, doubling up to ``respawn_backoff_max`` while it keeps
    crashing; the delay resets once an instance has served ``respawn_stable_after``
    seconds after its ack. ``crash_loop_limit`` deaths in a row before the ack stop the
    server while it starts; once it serves they mark the slot failed instead (state,
    log), and it is retried at the capped delay while the other workers serve.
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
        preload: Sequence[str] = (),
        shared_ctx: SharedContext | None = None,
        max_workers: int | None = None,
        graceful_timeout: float = 15.0,
        heartbeat_interval: float = 1.0,
        heartbeat_timeout: float = 30.0,
        respawn_backoff: float = 0.1,
        respawn_backoff_max: float = 10.0,
        respawn_stable_after: float = 5.0,
        crash_loop_limit: int = 5,
        loop_factory: str | None = None,
        prefix: str = "Hurtle",
        notifier: Notifier | None = None,
        recycling: RecyclePolicy | None = None,
        pre_stop_delay: float = 0.0,
        reap_orphans: bool | None = None,
    ) -> None:
        if not _is_int(workers) or workers < 1:
            raise UsageError(f"Cannot serve with {workers!r} workers: at least 1 is needed")
        self.max_workers = max_workers if max_workers is not None else max(64, workers)
        if workers > self.max_workers:
            raise UsageError(f"workers={workers} exceeds max_workers={self.max_workers}")
        context = new_context(start_method, preload)
        new_process: Callable[..., BaseProcess] = context.Process  # type: ignore[attr-defined]
        self.start_method = start_method
        self.preload = tuple(preload)
        self.prefix = prefix
        self.shared_ctx = shared_ctx if shared_ctx is not None else SharedContext()
        self.sockets = tuple(sockets)
        self.graceful_timeout = graceful_timeout
        self.heartbeat_interval = heartbeat_interval
        self.heartbeat_timeout = heartbeat_timeout
        self.respawn_backoff = respawn_backoff
        self.respawn_backoff_max = respawn_backoff_max
        self.respawn_stable_after = respawn_stable_after
        self.crash_loop_limit = crash_loop_limit
        self.loop_factory = loop_factory
        self._server_target = import_path(server)
        self._server_kwargs = dict(server_kwargs or {})
        self._table = ProcessTable(prefix)
        self._table.max_workers = self.max_workers
        for _ in range(workers):
            self._table.add_server(self._server_target, self._server_kwargs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._fatal: WorkerManagerError | None = None
        self._shutting_down = False
        self._serving = False  # every server acked at start: crash loops no longer stop it
        self._state_listeners: list[Callable[[StateUpdate], None]] = []
        self._broadcast_pending = False
        self._last_broadcast = float("-inf")
        self._signals_seen = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        # The rooms the manager delegates to; each gets callbacks, none sees the manager.
        self._launcher = Launcher(
            self._table,
            new_process=new_process,
            start_method=start_method,
            shared_ctx=self.shared_ctx,
            sockets=self.sockets,
            graceful_timeout=graceful_timeout,
            heartbeat_interval=heartbeat_interval,
            loop_factory=loop_factory,
            threshold=lambda: self.THRESHOLD,
            stop_reason=lambda: "shutdown" if self._shutting_down else "restart",
            on_message=self._on_message,
            on_exit=self._after_exit,
            changed=self._changed,
            spawn_task=self._spawn_task,
        )
        self._operations = Operations(
            self._table,
            self._launcher,
            server_target=self._server_target,
            server_kwargs=self._server_kwargs,
            graceful_timeout=graceful_timeout,
            shutting_down=lambda: self._shutting_down,
            changed=self._changed,
            spawn_task=self._spawn_task,
        )
        self.pre_stop_delay = pre_stop_delay
        self._production = Production(
            self._table,
            notifier=notifier if notifier is not None else Notifier.from_environ(),
            recycling=recycling if recycling is not None else RecyclePolicy(),
            changed=self._changed,
            recycle=self._recycle,
            reap=reap_orphans,
        )
        self._watchdog = HeartbeatWatchdog(
            self._table,
            interval=heartbeat_interval,
            timeout=heartbeat_timeout,
            spawn_task=self._spawn_task,
        )

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
        restart: str = "",
        respawn: bool = False,
    ) -> ProcessGroup:
        """Register a custom process ``Hurtle-<name>-<i>`` for i in 0..workers-1.

        ``transient`` processes are restarted with the servers (and respawned when they
        crash); ``restartable`` allows a restart by name (default: ``transient``);
        untracked workers are forgotten once none of their processes runs;
        ``auto_start=False`` registers without starting; ``respawn`` repairs a crash
        with the servers' backoff without making the process transient (the inspector).
        ``restart`` is what follows an exit: ``"always"`` a new process (after the
        servers' backoff), ``"on-failure"`` only after a failure, ``"never"`` none (the
        state keeps its exit code); "" keeps the ``transient``/``respawn`` rule. Called
        while running, the new processes start at once.
        """
        if not name or "#" in name:
            raise UsageError(f"Invalid worker name {name!r}: use a non-empty name without '#'")
        if restartable is None:
            restartable = transient
        if transient and not restartable:
            raise UsageError("Cannot create a transient worker that is not restartable")
        if not _is_int(workers) or workers < 1:
            raise UsageError(f"A worker needs at least 1 process, got {workers!r}")
        if restart not in ("", "always", "on-failure", "never"):
            raise UsageError(f"restart must be 'always', 'on-failure' or 'never', got {restart!r}")
        worker = ProcessGroup(
            name=name,
            target=import_path(func),
            kwargs=dict(kwargs or {}),
            transient=transient,
            restartable=restartable,
            tracked=tracked,
            auto_start=auto_start,
            restart=restart,
            respawn=respawn,
        )
        self._table.register(worker, workers)
        if self._loop is not None and auto_start and not self._shutting_down:
            for slot in worker.slots:
                self._launcher.spawn(slot)
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
    def stopping(self) -> bool:
        """Whether the manager is shutting down (commands are refused from now on)."""
        return self._shutting_down

    def on_change(self, callback: Callable[[StateUpdate], None]) -> None:
        """Call ``callback(snapshot)`` in the main process whenever the state changed.

        Calls are coalesced like the snapshots pushed to the processes, and made from
        the manager's loop: the callback must not block. Its errors are logged. It runs
        before the snapshot is sent to the processes, so what it does synchronously is
        done before any process can see that state.
        """
        self._state_listeners.append(callback)

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
        self._stop = asyncio.Event()
        self._shutting_down = False
        self.shared_ctx.lock()
        self._launcher.open()
        self._operations.open()
        restore_signals = self._install_signals()
        watchdog = self._spawn_task(self._watchdog.run())
        self._production.starting()
        for loop in self._production.loops():
            self._spawn_task(loop)
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
                        self._launcher.spawn(slot)
            await self._wait_for_startup()
            if self._fatal is None and not self._stop.is_set():
                self._serving = True
                logger.info("%s ready: %s", self.main_name, ", ".join(self.server_names()))
                self._production.started()
                await self._stop.wait()
        finally:
            watchdog.cancel()
            await self._shutdown()
            restore_signals()
            for task in list(self._tasks):
                task.cancel()
            self._launcher.close()
            self._production.notifier.close()
            self._serving = False
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

    def _start_order(self) -> list[ProcessGroup]:
        workers = list(self._table.workers.values())
        return [w for w in workers if w.server] + [w for w in workers if not w.server]

    async def _wait_for_startup(self) -> None:
        """Wait until every server acked; a failure or a stop request ends the wait."""
        assert self._stop is not None
        servers = [slot.current for slot in self._server_slots() if slot.current is not None]
        waiting = asyncio.ensure_future(
            asyncio.gather(*(self._launcher.await_ready(instance) for instance in servers))
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

    def _after_exit(self, instance: ProcessInstance) -> None:
        """Decide what an exit means: expected, a failed replacement, or a crash to repair."""
        slot = instance.slot
        how = describe_exit(instance.exit_code)
        self._table.absorb(instance)
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
            if slot.worker.respawns_after(failed=False) and self._registered(slot):
                slot.note_restart("exit")
                self._schedule_respawn(slot, instance)
            else:
                self._forget_if_untracked(slot.worker)
        else:
            logger.error("%s died unexpectedly: %s", instance.label, instance.failure_text())
            if slot.worker.respawns_after(failed=True) and self._registered(slot):
                slot.note_restart(instance.exit_reason())
                self._schedule_respawn(slot, instance)
            else:
                self._forget_if_untracked(slot.worker)

    def _registered(self, slot: Slot) -> bool:
        return self._table.workers.get(slot.worker.name) is slot.worker

    def _schedule_respawn(self, slot: Slot, dead: ProcessInstance) -> None:
        """Respawn after an exponential backoff; a crash loop stops the start, or marks the slot.

        While the server starts, ``crash_loop_limit`` deaths in a row before the ack stop
        everything (the code cannot serve). Once it serves, the slot is marked failed and
        retried at the capped delay: its siblings keep serving.
        """
        if dead.acked or not slot.worker.server:
            slot.start_failures = 0
        elif not dead.hung:
            slot.start_failures += 1
        if dead.served_for() >= self.respawn_stable_after:
            slot.crash_streak = 0  # it served for a stable period: not a crash loop
        if self.crash_loop_limit and slot.start_failures >= self.crash_loop_limit:
            if not self._serving:
                self._fatal = CrashLoopError(
                    f"{slot.name} died {slot.start_failures} times in a row before it was "
                    f"ready; stopping the server. Last error: {dead.failure_text()}"
                )
                logger.critical("%s", self._fatal)
                assert self._stop is not None
                self._stop.set()
                return
            self._mark_failed(slot, dead)
        delay = min(self.respawn_backoff * 2**slot.crash_streak, self.respawn_backoff_max)
        slot.crash_streak += 1
        slot.current = None
        logger.warning("Respawning %s in %.2f s", slot.name, delay)
        assert self._loop is not None
        slot.respawn_timer = self._loop.call_later(delay, self._respawn, slot)

    def _mark_failed(self, slot: Slot, dead: ProcessInstance) -> None:
        first = slot.failed is None
        slot.failed = (
            f"crash loop: died {slot.start_failures} times in a row before it was ready; "
            f"last error: {dead.failure_text()}"
        )
        if first:
            logger.error(
                "%s is FAILED: it died %d times in a row before it was ready (last error: %s). "
                "The other workers keep serving; it is retried every %g s at most until one "
                "instance starts.",
                slot.name,
                slot.start_failures,
                dead.failure_text(),
                self.respawn_backoff_max,
            )

    def _respawn(self, slot: Slot) -> None:
        slot.respawn_timer = None
        registered = self._table.workers.get(slot.worker.name) is slot.worker
        if not self._shutting_down and slot.current is None and registered:
            self._launcher.spawn(slot)

    def _forget_if_untracked(self, worker: ProcessGroup) -> None:
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
        self._production.draining()
        if self.pre_stop_delay > 0 and self._fatal is None and self._table.live():
            logger.info("Not ready; serving %g s more before draining", self.pre_stop_delay)
            await asyncio.sleep(self.pre_stop_delay)
        self._production.stopping()
        live = self._table.live()
        if live:
            logger.info("Stopping %d process(es)", len(live))
        for instance in live:
            self._launcher.stop(instance)
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
        if isinstance(message, Request):
            self._spawn_task(self._answer(instance, message))
        elif instance.record(message):
            slot = instance.slot
            if slot.failed is not None and isinstance(message, Ack) and instance.acked:
                slot.failed = None
                logger.info("%s recovered: %s serves again", slot.name, instance.label)
            self._changed()

    async def _answer(self, instance: ProcessInstance, request: Request) -> None:
        try:
            result = await self.execute(request.command, origin=instance.label)
            reply = CommandReply(id=request.id, result=result)
        except WorkerManagerError as exc:
            reply = CommandReply(id=request.id, error=str(exc))
        except Exception as exc:
            logger.exception("Command %r from %s failed", request.command, instance.label)
            reply = CommandReply(id=request.id, error=f"internal error: {exc}")
        instance.send(frame(encode(reply)))

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
                restart=command.restart,
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
        reload = (all_workers or not names) and not self._shutting_down
        if reload:
            self._production.reloading()
        return await self._operations.restart(
            slots,
            zero_downtime=zero_downtime,
            wait=wait,
            reloaded_files=tuple(reloaded_files),
            reason="reload" if reload else "restart",
            on_done=self._production.reloaded if reload else None,
        )

    async def _recycle(self, slot: Slot) -> None:
        """Replace one server worker with zero downtime (a recycling policy said so)."""
        await self._operations.restart(
            [slot], zero_downtime=True, wait=True, reloaded_files=(), reason="recycle"
        )

    # --- scaling ---

    async def scale(self, replicas: int, *, wait: bool = False) -> ScaleResult:
        """Run exactly ``replicas`` server workers (1 to ``max_workers``).

        Removed workers stop gracefully and finish their in-flight work. ``wait``
        returns once new workers are ready and removed ones have exited.
        """
        self._require_running()
        if not _is_int(replicas):
            raise UsageError(f"The number of workers must be an integer, got {replicas!r}")
        if not 1 <= replicas <= self.max_workers:
            raise CommandError(
                f"Cannot scale to {replicas} workers: choose 1 to {self.max_workers}"
            )
        return await self._operations.scale(lambda _: replicas, wait=wait)

    async def scale_by(self, delta: int) -> ScaleResult:
        """Add (or remove, if negative) ``delta`` server workers, within 1 to ``max_workers``.

        The count is taken when the operation runs, so queued requests add up.
        """
        self._require_running()

        def target(current: int) -> int:
            return max(1, min(self.max_workers, current + delta))

        return await self._operations.scale(target, wait=True)

    def stats(self) -> StatsResult:
        """RSS, CPU time and uptime of every live process."""
        return self._table.stats()

    # --- state broadcast ---

    def _changed(self) -> None:
        """Push a new snapshot to every process soon (changes are coalesced).

        The first change after a quiet spell goes out on the loop's next turn (with what
        the same event changed); changes within ``_BROADCAST_DELAY`` of a snapshot wait
        for the end of that spell and go out together.
        """
        if self._broadcast_pending or self._loop is None:
            return
        self._broadcast_pending = True
        wait = self._last_broadcast + _BROADCAST_DELAY - self._loop.time()
        if wait > 0:
            self._loop.call_later(wait, self._broadcast)
        else:
            self._loop.call_soon(self._broadcast)

    def _broadcast(self) -> None:
        self._broadcast_pending = False
        if self._loop is not None:
            self._last_broadcast = self._loop.time()
        snapshot = self._table.snapshot()
        # Listeners first: what one does about a snapshot is done before a process sees it.
        for listener in self._state_listeners:
            try:
                listener(snapshot)
            except Exception:
                logger.exception("A state listener (WorkerManager.on_change) failed")
        data = frame(encode(snapshot))
        for instance in self._table.instances:
            instance.send(data)

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


def _running_in(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
