"""The wire schemas: every message exchanged between the manager and its processes.

Runs in: both sides (it is the contract between them, and between packages).

These structs are the contract between packages (the inspector and the CLI read them
too), so they follow msgspec's evolution rules: new fields get defaults, fields are
never retyped or reordered, and unknown fields are ignored. Messages travel as
MessagePack inside length-prefixed frames (see ``channel``). A producer's own payload
(e.g. hurtle-http's request counters) travels as ``msgspec.Raw`` bytes that only its
reader decodes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import msgspec

__all__ = [
    "Ack",
    "ChildMessage",
    "Command",
    "CommandReply",
    "Failure",
    "Heartbeat",
    "ManageCommand",
    "ManagerMessage",
    "ProcessEntry",
    "ProcessRow",
    "ProcessStats",
    "Report",
    "Request",
    "RestartCommand",
    "RestartResult",
    "ScaleCommand",
    "ScaleResult",
    "SetServing",
    "StateUpdate",
    "StatsCommand",
    "StatsResult",
    "StopNotice",
    "TerminateCommand",
    "decode_child_message",
    "decode_manager_message",
    "encode",
    "entry_to_dict",
    "extend_row",
]


class _Message(msgspec.Struct, frozen=True, tag_field="type", forbid_unknown_fields=False):
    """Base of every tagged message."""


# --- Commands: what a process (or the main process's own API) asks the manager to do ---


class RestartCommand(_Message, tag="restart", frozen=True):
    """Restart processes by name, or every transient process when ``all_workers``.

    ``names`` are process names (``Hurtle-Server-0-0``) or worker names (``Server-0``).
    ``zero_downtime`` starts the replacement first and stops the old process only once
    the new one acknowledged. ``wait`` delays the reply until the replacements acked.
    """

    names: tuple[str, ...] = ()
    all_workers: bool = False
    zero_downtime: bool = False
    wait: bool = False
    reloaded_files: tuple[str, ...] = ()


class ScaleCommand(_Message, tag="scale", frozen=True):
    """Run exactly ``replicas`` server workers; ``wait`` replies once they are acked."""

    replicas: int
    wait: bool = False


class TerminateCommand(_Message, tag="terminate", frozen=True):
    """Shut the whole server down gracefully."""


class ManageCommand(_Message, tag="manage", frozen=True):
    """Register and start a custom process; ``target`` is an import path ``module:name``."""

    name: str
    target: str
    kwargs: dict[str, object] = {}
    transient: bool = False
    restartable: bool | None = None
    tracked: bool = False
    auto_start: bool = True
    workers: int = 1
    restart: str = ""


class StatsCommand(_Message, tag="stats", frozen=True):
    """Ask for per-process resource usage (RSS, CPU) read by the manager."""


Command = RestartCommand | ScaleCommand | TerminateCommand | ManageCommand | StatsCommand


# --- Messages from a managed process to the manager ---


class Ack(_Message, tag="ack", frozen=True):
    """The process is ready (for a server: it is listening)."""


class Heartbeat(_Message, tag="heartbeat", frozen=True):
    """Sent from the process's own main loop; silence means the loop is stuck."""


class SetServing(_Message, tag="serving", frozen=True):
    """The process started or stopped serving requests."""

    serving: bool


class Report(_Message, tag="report", frozen=True):
    """Extra per-process data owned by its producer, stored under ``key`` in the state."""

    key: str
    payload: msgspec.Raw


class Failure(_Message, tag="failure", frozen=True):
    """The process is about to exit because its target raised."""

    error: str
    traceback: str = ""


class Request(_Message, tag="request", frozen=True):
    """A command with an id; the manager answers with a ``CommandReply`` of that id."""

    id: int
    command: Command


ChildMessage = Ack | Heartbeat | SetServing | Report | Failure | Request


# --- Messages from the manager to a managed process ---


class ProcessRow(msgspec.Struct, frozen=True, omit_defaults=True):
    """What every view of one process instance shares: identity and lifecycle.

    The one process row: ``ProcessEntry`` (the state table), ``ProcessStats`` (the
    ``stats`` command) and the inspector's ``WorkerStats`` extend it, so its fields are
    written once. ``starts`` is the reference's name for ``generation``: it always equals
    it (set here, whatever the caller passed) and stays on the wire for the reference's
    clients.
    """

    server: bool
    state: str
    pid: int | None = None
    start_at: datetime | None = None
    starts: int = 0
    restart_at: datetime | None = None
    generation: int = 0
    serving: bool | None = None
    exit_code: int | None = None

    def __post_init__(self) -> None:
        if self.starts != self.generation:
            msgspec.structs.force_setattr(self, "starts", self.generation)


class ProcessEntry(ProcessRow, frozen=True, omit_defaults=True):
    """The manager's record of one process instance (the reference's worker state).

    ``current`` is False for an instance that is not its slot's current one: a newcomer
    starting beside it (zero-downtime restart) or an old one draining. Such an entry is
    listed as ``<name>#<generation>``; read ``current`` rather than the name.
    """

    reports: dict[str, msgspec.Raw] = {}
    current: bool = True
    failed: str | None = None
    """Set while the slot is in a crash loop at run time: why it is marked failed."""
    restarts: dict[str, int] = {}
    """The slot's restarts by reason: exit, signal, hang, recycle, reload, restart."""
    reason: str = ""
    """Why this instance replaced the previous one (a ``restarts`` key), "" for a first start."""


class StateUpdate(_Message, tag="state", frozen=True):
    """A snapshot of every process's entry, pushed whenever something changed.

    ``max_workers`` is the manager's upper bound for scaling (0 from older managers).
    ``phase`` is the manager's: ``starting``, ``ready``, ``reloading``, ``draining`` (a
    shutdown's pre-stop delay: still serving, not ready) or ``stopping`` ("" from older
    managers). ``totals`` sums the numeric fields of every report of the processes that
    have exited (by report key), so that counters survive restarts; add the live
    processes' reports to get a total.
    """

    main_pid: int
    processes: dict[str, ProcessEntry]
    max_workers: int = 0
    phase: str = ""
    totals: dict[str, dict[str, float]] = {}


class RestartResult(msgspec.Struct, frozen=True, tag="restart"):
    """The process names that were (or are being) replaced."""

    restarted: list[str]


class ScaleResult(msgspec.Struct, frozen=True, tag="scale"):
    """The target count and the names of the server processes after scaling."""

    replicas: int
    workers: list[str]


class ProcessStats(ProcessEntry, frozen=True, omit_defaults=True, kw_only=True):
    """A live process's entry plus its resource usage, read from the OS by the manager."""

    name: str
    uptime: float
    rss: int | None = None
    cpu_seconds: float | None = None
    heartbeat_age: float | None = None
    """Seconds since the process's loop last sent a heartbeat (None before the first)."""


RowT = TypeVar("RowT", bound=ProcessRow)


def extend_row(row: ProcessRow, kind: type[RowT], **more: Any) -> RowT:
    """``row`` as a ``kind`` (a row type with more fields): the shared fields plus ``more``."""
    fields = kind.__struct_fields__
    shared = {name: getattr(row, name) for name in row.__struct_fields__ if name in fields}
    return kind(**{**shared, **more})


class StatsResult(msgspec.Struct, frozen=True, tag="stats"):
    """Stats of every live process."""

    processes: list[ProcessStats]


class CommandReply(_Message, tag="reply", frozen=True):
    """The outcome of a ``Request``: ``error`` is empty on success."""

    id: int
    error: str = ""
    result: RestartResult | ScaleResult | StatsResult | None = None


class StopNotice(_Message, tag="stop", frozen=True):
    """Why the manager is about to stop this process (sent just before its SIGTERM).

    ``reason`` is ``"restart"`` (a reload, a restart or a scale-down: the server goes on)
    or ``"shutdown"`` (the whole server stops), so that a server can tell its clients
    (e.g. WebSocket close code 1012 or 1001). Processes that predate it ignore it.
    """

    reason: str = "shutdown"


ManagerMessage = StateUpdate | CommandReply | StopNotice


_encoder = msgspec.msgpack.Encoder()
_child_decoder: msgspec.msgpack.Decoder[ChildMessage] = msgspec.msgpack.Decoder(ChildMessage)
_manager_decoder: msgspec.msgpack.Decoder[ManagerMessage] = msgspec.msgpack.Decoder(ManagerMessage)


def entry_to_dict(entry: ProcessEntry) -> dict[str, Any]:
    """A state entry as the reference's plain dict; reports are decoded into their keys."""
    data: dict[str, Any] = {
        "server": entry.server,
        "state": entry.state,
        "pid": entry.pid,
        "start_at": entry.start_at,
        "starts": entry.starts,
        "generation": entry.generation,
        "current": entry.current,
    }
    if entry.restart_at is not None:
        data["restart_at"] = entry.restart_at
    if entry.serving is not None:
        data["serving"] = entry.serving
    if entry.exit_code is not None:
        data["exit_code"] = entry.exit_code
    if entry.restarts:
        data["restarts"] = dict(entry.restarts)
    if entry.reason:
        data["reason"] = entry.reason
    if entry.failed is not None:
        data["failed"] = entry.failed
    for key, payload in entry.reports.items():
        data[key] = msgspec.msgpack.decode(payload)
    return data


def encode(message: msgspec.Struct) -> bytes:
    """Encode any message of this module to MessagePack bytes."""
    return _encoder.encode(message)


def decode_child_message(data: bytes) -> ChildMessage:
    """Decode bytes a managed process sent; raises ``msgspec.DecodeError`` on garbage."""
    return _child_decoder.decode(data)


def decode_manager_message(data: bytes) -> ManagerMessage:
    """Decode bytes the manager sent; raises ``msgspec.DecodeError`` on garbage."""
    return _manager_decoder.decode(data)
