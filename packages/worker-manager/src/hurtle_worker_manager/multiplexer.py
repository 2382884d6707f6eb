"""The multiplexer: a managed process's handle on the manager and on its siblings.

(It multiplexes nothing: the name is the reference's, kept so that ``app.m`` code written
for it works unchanged.)

Runs in: managed processes (the child side; it never imports the main-process side).

Every process the manager starts has one (``get_multiplexer()``). Reads (``workers``,
``state``) come from a local snapshot that the manager pushes on every change, so they
never wait on another process. Commands (``restart``, ``scale``, ...) return a
``Reply`` at once: ignore it for fire-and-forget, ``await`` it in async code, or call
``.result(timeout)`` in sync code to learn the outcome.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import os
import socket
import threading
from collections.abc import Awaitable, Callable, Generator
from typing import Any

import msgspec

from hurtle_worker_manager.channel import BlockingChannel
from hurtle_worker_manager.errors import CommandError, UsageError, WorkerManagerError
from hurtle_worker_manager.messages import (
    Ack,
    Command,
    CommandReply,
    Heartbeat,
    ManageCommand,
    ProcessEntry,
    Report,
    Request,
    RestartCommand,
    ScaleCommand,
    SetServing,
    StateUpdate,
    StatsCommand,
    StopNotice,
    TerminateCommand,
    decode_manager_message,
    encode,
    entry_to_dict,
)
from hurtle_worker_manager.shared_ctx import SharedContext
from hurtle_worker_manager.target import import_path

__all__ = ["ChildLink", "Multiplexer", "Reply", "entry_to_dict", "get_multiplexer"]

logger = logging.getLogger("hurtle.worker")

StopCallback = Callable[[], "Awaitable[object] | object"]
_current: Multiplexer | None = None


def get_multiplexer() -> Multiplexer:
    """The multiplexer of the current managed process.

    Raises ``WorkerManagerError`` outside a process started by a ``WorkerManager``.
    """
    if _current is None:
        raise WorkerManagerError(
            "No multiplexer: this code is not running in a process started by a WorkerManager"
        )
    return _current


class Reply:
    """The pending outcome of a command sent to the manager.

    ``await reply`` or ``reply.result(timeout)`` returns the result or raises
    ``CommandError`` with the manager's message.
    """

    __slots__ = ("_future",)

    def __init__(self) -> None:
        self._future: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def result(self, timeout: float | None = None) -> Any:
        """Block until the manager answered (``TimeoutError`` after ``timeout`` seconds)."""
        return self._future.result(timeout)

    def done(self) -> bool:
        """Whether the manager answered."""
        return self._future.done()

    def __await__(self) -> Generator[Any, None, Any]:
        return asyncio.wrap_future(self._future).__await__()

    def _resolve(self, message: CommandReply) -> None:
        if self._future.done():
            return
        if message.error:
            self._future.set_exception(CommandError(message.error))
        else:
            self._future.set_result(message.result)

    def _fail(self, error: str) -> None:
        if not self._future.done():
            self._future.set_exception(CommandError(error))


class Multiplexer:
    """The API of a managed process: identity, state, acks and commands to the manager."""

    def __init__(
        self,
        name: str,
        generation: int,
        channel: BlockingChannel,
        *,
        shared_ctx: SharedContext | None = None,
        sockets: tuple[socket.socket, ...] = (),
        reloaded_files: tuple[str, ...] = (),
    ) -> None:
        self._name = name
        self._generation = generation
        self._channel = channel
        self._ids = itertools.count(1)
        self._pending: dict[int, Reply] = {}
        self._lock = threading.Lock()
        self._snapshot = StateUpdate(main_pid=os.getppid(), processes={})
        self._stop_callbacks: list[StopCallback] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.stopping = threading.Event()
        self._stop_reason = ""
        self.shared_ctx = shared_ctx if shared_ctx is not None else SharedContext()
        self.sockets = sockets
        self.reloaded_files = reloaded_files

    # --- identity and state (local reads, no round trip) ---

    @property
    def name(self) -> str:
        """This process's name, e.g. ``Hurtle-Server-0-0``."""
        return self._name

    @property
    def generation(self) -> int:
        """Which instance of its slot this process is (1 for the first start)."""
        return self._generation

    @property
    def pid(self) -> int:
        """This process's pid."""
        return os.getpid()

    @property
    def workers(self) -> dict[str, dict[str, Any]]:
        """Every process's state entry by name, plus ``Hurtle-Main`` with the main pid."""
        snapshot = self._snapshot
        table: dict[str, dict[str, Any]] = {_main_key(self._name): {"pid": snapshot.main_pid}}
        for name, entry in snapshot.processes.items():
            table[name] = entry_to_dict(entry)
        return table

    @property
    def state(self) -> dict[str, Any]:
        """This process's own state entry (empty until the manager's first update)."""
        entry = self._snapshot.processes.get(self._name)
        return entry_to_dict(entry) if entry is not None else {}

    @property
    def max_workers(self) -> int:
        """The most server workers the manager will scale to (0 until its first update)."""
        return self._snapshot.max_workers

    @property
    def main_pid(self) -> int:
        """The main process's pid (where the manager runs)."""
        return self._snapshot.main_pid

    @property
    def phase(self) -> str:
        """The manager's phase: starting, ready, reloading, draining, stopping ("" if unknown)."""
        return self._snapshot.phase

    @property
    def totals(self) -> dict[str, dict[str, float]]:
        """Report counters summed over every process that has exited, by report key."""
        return self._snapshot.totals

    @property
    def entries(self) -> dict[str, ProcessEntry]:
        """The typed state entries (reports still encoded), as last pushed by the manager."""
        return dict(self._snapshot.processes)

    # --- reports to the manager ---

    def ack(self) -> None:
        """Tell the manager this process is ready (a server calls it once listening)."""
        self._send(Ack())

    def heartbeat(self) -> None:
        """Prove the main loop is alive; async processes get this automatically."""
        self._send(Heartbeat())

    def set_serving(self, serving: bool) -> None:
        """Record whether this process is serving requests."""
        self._send(SetServing(serving=serving))

    def report(self, key: str, payload: object) -> None:
        """Publish extra per-process data (any msgspec-encodable value) under ``key``."""
        self._send(Report(key=key, payload=msgspec.Raw(msgspec.msgpack.encode(payload))))

    # --- commands ---

    def restart(
        self,
        name: str = "",
        all_workers: bool = False,
        zero_downtime: bool = False,
        *,
        wait: bool = False,
    ) -> Reply:
        """Restart this process (no arguments), named processes (comma-separated), or all.

        ``zero_downtime`` starts each replacement before stopping the old process.
        """
        if name and all_workers:
            raise UsageError("Ambiguous restart with both a named process and all_workers=True")
        names: tuple[str, ...] = ()
        if not all_workers:
            names = tuple(part.strip() for part in (name or self._name).split(",") if part.strip())
        return self.send_command(
            RestartCommand(
                names=names, all_workers=all_workers, zero_downtime=zero_downtime, wait=wait
            )
        )

    reload = restart

    def scale(self, num_workers: int, *, wait: bool = False) -> Reply:
        """Run ``num_workers`` server workers (1 to the manager's maximum)."""
        if isinstance(num_workers, bool) or not isinstance(num_workers, int):
            raise UsageError(f"scale() needs an int number of workers, got {num_workers!r}")
        if num_workers < 1:
            raise UsageError(f"Cannot scale to {num_workers} workers: at least 1 is needed")
        return self.send_command(ScaleCommand(replicas=num_workers, wait=wait))

    def terminate(self) -> Reply:
        """Shut the whole server down gracefully."""
        return self.send_command(TerminateCommand())

    def manage(
        self,
        name: str,
        func: Callable[..., Any] | str,
        kwargs: dict[str, Any] | None = None,
        transient: bool = False,
        restartable: bool | None = None,
        tracked: bool = False,
        auto_start: bool = True,
        workers: int = 1,
        restart: str = "",
    ) -> Reply:
        """Start a custom process from this one; ``func`` must be importable by path."""
        return self.send_command(
            ManageCommand(
                name=name,
                target=import_path(func),
                kwargs=dict(kwargs or {}),
                transient=transient,
                restartable=restartable,
                tracked=tracked,
                auto_start=auto_start,
                workers=workers,
                restart=restart,
            )
        )

    def stats(self) -> Reply:
        """Ask the manager for every live process's RSS and CPU time."""
        return self.send_command(StatsCommand())

    def send_command(self, command: Command) -> Reply:
        """Send any command and return its pending ``Reply``."""
        reply = Reply()
        with self._lock:
            request_id = next(self._ids)
            self._pending[request_id] = reply
        try:
            self._send(Request(id=request_id, command=command))
        except OSError as exc:
            with self._lock:
                self._pending.pop(request_id, None)
            reply._fail(f"the manager is unreachable: {exc}")
        return reply

    # --- stopping ---

    @property
    def stop_reason(self) -> str:
        """Why the manager stops this process: ``"restart"``, ``"shutdown"``, or ``""``.

        Set just before the stop signal arrives: ``"restart"`` for a reload, a restart or a
        scale-down, ``"shutdown"`` when the whole server stops; ``""`` when the manager has
        not said (e.g. a signal sent from outside).
        """
        return self._stop_reason

    def on_stop(self, callback: StopCallback) -> None:
        """Run ``callback`` (sync or async) when the manager asks this process to stop."""
        self._stop_callbacks.append(callback)
        if self.stopping.is_set():
            self._run_stop_callback(callback)

    def request_stop(self) -> bool:
        """Begin stopping this process; False if it was already stopping or has no callback."""
        if self.stopping.is_set():
            return True
        self.stopping.set()
        for callback in self._stop_callbacks:
            self._run_stop_callback(callback)
        return bool(self._stop_callbacks)

    def _run_stop_callback(self, callback: StopCallback) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            callback()
            return

        def run() -> None:
            result = callback()
            if asyncio.iscoroutine(result):
                loop.create_task(result)

        loop.call_soon_threadsafe(run)

    def _send(self, message: msgspec.Struct) -> None:
        self._channel.send(encode(message))


class ChildLink:
    """The one internal interface between the child runtime and its ``Multiplexer``.

    Only ``_child`` (the code that runs first in every managed process) uses it: it makes
    the multiplexer the process's current one, delivers frames from the manager, reports
    that the manager's end closed, attaches the process's event loop, and sends the
    messages the public API has no method for. Nothing else reaches into a Multiplexer.
    """

    __slots__ = ("multiplexer",)

    def __init__(self, multiplexer: Multiplexer) -> None:
        self.multiplexer = multiplexer

    def install(self) -> None:
        """Make this process's ``get_multiplexer()`` return our multiplexer."""
        global _current
        _current = self.multiplexer

    def attach_loop(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """The loop that runs stop callbacks (``None`` once it is closed)."""
        self.multiplexer._loop = loop

    def send(self, message: msgspec.Struct) -> None:
        """Send any child message (a ``Failure``); raises ``OSError`` if the manager is gone."""
        self.multiplexer._send(message)

    def deliver(self, payload: bytes) -> None:
        """A frame from the manager: a state snapshot or the reply to a pending command."""
        mux = self.multiplexer
        try:
            message = decode_manager_message(payload)
        except msgspec.DecodeError as exc:
            logger.error("%s: ignoring an undecodable message from the manager: %s", mux.name, exc)
            return
        if isinstance(message, StateUpdate):
            mux._snapshot = message
        elif isinstance(message, StopNotice):
            mux._stop_reason = message.reason
        else:
            with mux._lock:
                reply = mux._pending.pop(message.id, None)
            if reply is not None:
                reply._resolve(message)

    def manager_gone(self) -> None:
        """The manager's end closed: every pending command fails."""
        mux = self.multiplexer
        with mux._lock:
            pending, mux._pending = mux._pending, {}
        for reply in pending.values():
            reply._fail("the manager went away before answering")


def _main_key(name: str) -> str:
    prefix = name.split("-", 1)[0] if "-" in name else "Hurtle"
    return f"{prefix}-Main"
