"""One OS process started by the manager, as the manager sees it.

Runs in: the main process.

A ``ProcessInstance`` owns its multiprocessing process, the manager's end of its
channel, and its lifecycle state (see ``state``). Each instance of a slot has its own
generation, so an old and a new process of one slot never share a record.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable
from datetime import datetime, timezone
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING

import msgspec

from hurtle_worker_manager.channel import FrameDecoder, FrameError
from hurtle_worker_manager.errors import StartupError
from hurtle_worker_manager.messages import (
    Ack,
    ChildMessage,
    Failure,
    Heartbeat,
    ProcessEntry,
    Report,
    SetServing,
    decode_child_message,
)
from hurtle_worker_manager.state import LIVE_STATES, ProcessState, check_transition

if TYPE_CHECKING:
    from hurtle_worker_manager.worker import Slot

__all__ = ["ChannelProtocol", "ProcessInstance", "describe_exit"]

logger = logging.getLogger("hurtle.manager")


def describe_exit(code: int | None) -> str:
    """'exit code 1' or 'signal SIGKILL' for a multiprocessing exit code."""
    if code is None:
        return "an unknown status"
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


class ProcessInstance:
    """A started (or about to start) process of a slot."""

    def __init__(self, slot: Slot, generation: int, process: BaseProcess, stack_path: str) -> None:
        loop = asyncio.get_running_loop()
        self.slot = slot
        self.generation = generation
        self.process = process
        self.stack_path = stack_path
        self.state = ProcessState.IDLE
        self.pid: int | None = None
        self.start_at: datetime | None = None
        self.started_monotonic = 0.0
        self.exit_code: int | None = None
        self.serving: bool | None = None
        self.reports: dict[str, msgspec.Raw] = {}
        self.failure: Failure | None = None
        self.last_beat: float | None = None
        self.acked = False
        self.acked_monotonic = 0.0
        self.hung = False
        self.transport: asyncio.Transport | None = None
        self.channel_closed: asyncio.Future[None] = loop.create_future()
        self.kill_timer: asyncio.TimerHandle | None = None
        self.ready: asyncio.Future[None] = loop.create_future()
        self.exited: asyncio.Future[int | None] = loop.create_future()

    @property
    def name(self) -> str:
        """The slot's process name, e.g. ``Hurtle-Server-0-0``."""
        return self.slot.name

    @property
    def label(self) -> str:
        """Name, generation and pid, for log lines."""
        return f"{self.name} (generation {self.generation}, pid {self.pid})"

    @property
    def alive(self) -> bool:
        """Whether the OS process may still be running."""
        return self.state in LIVE_STATES and not self.exited.done()

    def set_state(self, new: ProcessState) -> None:
        """Move to ``new``; an illegal move is a bug and raises."""
        check_transition(self.state, new)
        self.state = new

    def mark_started(self) -> None:
        """The OS process exists."""
        self.pid = self.process.pid
        self.start_at = datetime.now(timezone.utc)
        self.started_monotonic = time.monotonic()
        self.set_state(ProcessState.STARTED)
        if not self.slot.worker.server and not self.ready.done():
            self.ready.set_result(None)  # only servers acknowledge; others are ready when up

    def mark_acked(self) -> bool:
        """Record the ack; False if it came in a state where it means nothing."""
        if self.state is not ProcessState.STARTED:
            return False
        self.set_state(ProcessState.ACKED)
        self.acked = True
        self.acked_monotonic = time.monotonic()
        if not self.ready.done():
            self.ready.set_result(None)
        return True

    def record(self, message: ChildMessage) -> bool:
        """Record what a message from the process says about it; True if its entry changed.

        Requests (commands to the manager) are not records: the caller answers them.
        """
        if isinstance(message, Heartbeat):
            self.last_beat = time.monotonic()
        elif isinstance(message, Report):
            self.reports[message.key] = message.payload
            return True
        elif isinstance(message, Ack):
            if self.mark_acked():
                logger.info("%s is ready", self.label)
                return True
        elif isinstance(message, SetServing):
            self.serving = message.serving
            return True
        elif isinstance(message, Failure):
            self.failure = message
        return False

    def send(self, data: bytes) -> None:
        """Write framed bytes to the process's channel, unless it is gone or closing."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def signal(self, sig: int) -> None:
        """Send ``sig`` to this process alone (never to a process group)."""
        if self.pid is not None and not self.exited.done():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def served_for(self) -> float:
        """Seconds since the process acknowledged its start (0 if it never did)."""
        return time.monotonic() - self.acked_monotonic if self.acked_monotonic else 0.0

    def uptime(self) -> float:
        """Seconds since the process started."""
        return time.monotonic() - self.started_monotonic if self.started_monotonic else 0.0

    def failure_text(self) -> str:
        """Why the process ended, for people: its exception if it reported one."""
        reason = describe_exit(self.exit_code)
        if self.failure is not None:
            return f"{self.failure.error} ({reason})"
        return reason

    def record_exit(self, code: int | None) -> None:
        """The OS process is gone and reaped."""
        self.exit_code = code
        if self.state in LIVE_STATES:
            stopped_on_request = self.state is ProcessState.TERMINATED
            clean = code == 0 or (
                stopped_on_request and code is not None and -code == signal.SIGTERM
            )
            self.set_state(
                ProcessState.COMPLETED if clean and not self.hung else ProcessState.FAILED
            )
        if self.kill_timer is not None:
            self.kill_timer.cancel()
            self.kill_timer = None
        if not self.ready.done():
            self.ready.set_exception(
                StartupError(f"{self.name} failed while starting: {self.failure_text()}", self.name)
            )
            self.ready.exception()  # retrieved here so an unawaited failure is not an error
        try:
            os.unlink(self.stack_path)
        except OSError:
            pass
        self.exited.set_result(code)

    @property
    def current(self) -> bool:
        """Whether this instance is its slot's current one (not starting beside it or draining)."""
        return self is self.slot.current

    def entry(self) -> ProcessEntry:
        """This instance's state entry."""
        return ProcessEntry(
            server=self.slot.worker.server,
            state=self.state.value,
            pid=self.pid,
            start_at=self.start_at,
            restart_at=self.slot.restart_at,
            generation=self.generation,
            serving=self.serving,
            exit_code=self.exit_code,
            reports=dict(self.reports),
            current=self.current,
        )


class ChannelProtocol(asyncio.Protocol):
    """The manager's end of one process's channel: frames in, messages to a handler.

    Garbage from the process is logged and closes the channel; it never raises into
    the manager's loop.
    """

    def __init__(
        self,
        instance: ProcessInstance,
        on_message: Callable[[ProcessInstance, ChildMessage], None],
    ) -> None:
        self._instance = instance
        self._on_message = on_message
        self._decoder = FrameDecoder()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._instance.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            for payload in self._decoder.feed(data):
                self._on_message(self._instance, decode_child_message(payload))
        except (FrameError, msgspec.DecodeError) as exc:
            logger.error(
                "%s sent an invalid message (%s); closing its channel", self._instance.label, exc
            )
            if self._transport is not None:
                self._transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._instance.transport is self._transport:
            self._instance.transport = None
        if not self._instance.channel_closed.done():
            self._instance.channel_closed.set_result(None)
