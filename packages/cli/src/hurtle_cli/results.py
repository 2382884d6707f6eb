"""Reader structs for the inspector's answers, decoded with msgspec.

They mirror the inspector's wire format without importing it (hurtle-cli needs no server
package). Every field but the envelope's is optional and unknown fields are ignored, so a
newer or older inspector still decodes; what is missing is shown as ``-``.
"""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec

__all__ = [
    "Envelope",
    "HttpCounters",
    "InfoResult",
    "ProcessRecord",
    "ProcessRow",
    "StatsEntry",
    "WorkerEntry",
    "decode_info",
    "decode_stats",
    "info_rows",
]


class Meta(msgspec.Struct):
    """The envelope's ``meta``: which action answered."""

    action: str = ""


class Envelope(msgspec.Struct):
    """Every answer: ``{"meta": {...}, "result": ...}`` or ``{"meta": ..., "error": "..."}``."""

    meta: Meta = msgspec.field(default_factory=Meta)
    result: msgspec.Raw = msgspec.Raw(b"null")
    error: str | None = None
    available: list[str] | None = None


class HttpCounters(msgspec.Struct):
    """Request counters a server worker reports."""

    served: int | None = None
    in_flight: int | None = None
    errors: int | None = None
    bad_requests: int | None = None
    connections: int | None = None


class ProcessRecord(msgspec.Struct):
    """One process as the inspector sends it, in ``GET /``'s ``workers`` or in ``stats``.

    The reader side of the worker manager's process row (``ProcessRow`` and the
    inspector's ``WorkerStats``), every field optional: the main process in ``GET /``
    has only a pid, and ``stats`` may carry ``name`` in the row instead of the key.
    """

    name: str = ""
    pid: int | None = None
    server: bool | None = None
    state: str | None = None
    start_at: datetime | None = None
    starts: int | None = None
    generation: int | None = None
    restart_at: datetime | None = None
    serving: bool | None = None
    current: bool | None = None
    uptime: float | None = None
    rss: int | None = None
    cpu_seconds: float | None = None
    http: HttpCounters | None = None
    served: int | None = None
    in_flight: int | None = None


WorkerEntry = ProcessRecord
"""Former name of a ``GET /`` process entry's reader (kept for callers)."""
StatsEntry = ProcessRecord
"""Former name of a ``stats`` process entry's reader (kept for callers)."""


class InfoResult(msgspec.Struct):
    """The result of ``GET /``: app info and the process table."""

    info: dict[str, object] = {}
    workers: dict[str, ProcessRecord] = {}


class _StatsByName(msgspec.Struct):
    workers: dict[str, ProcessRecord]


class _StatsList(msgspec.Struct):
    processes: list[ProcessRecord]


class ProcessRow(msgspec.Struct, frozen=True):
    """One line of the process table, whatever answer it came from."""

    name: str
    pid: int | None = None
    state: str | None = None
    generation: int | None = None
    starts: int | None = None
    uptime: float | None = None
    rss: int | None = None
    cpu_seconds: float | None = None
    requests: int | None = None
    in_flight: int | None = None


def decode_info(raw: msgspec.Raw) -> InfoResult:
    """Decode the result of ``GET /``; raises ``msgspec.DecodeError`` on a wrong shape."""
    return msgspec.json.decode(raw, type=InfoResult)


def info_rows(result: InfoResult, now: datetime | None = None) -> list[ProcessRow]:
    """The process table of an info result; uptime is counted from ``start_at`` to ``now``."""
    now = now or datetime.now(timezone.utc)
    rows = []
    for name, entry in result.workers.items():
        uptime = None
        if entry.start_at is not None:
            start = entry.start_at
            if start.tzinfo is None:
                start = start.replace(tzinfo=timezone.utc)
            uptime = max(0.0, (now - start).total_seconds())
        rows.append(_row(name, entry, uptime))
    return rows


def decode_stats(raw: msgspec.Raw) -> list[ProcessRow]:
    """Decode the result of ``stats``: ``{"workers": {name: {...}}}``, a list of processes
    or ``{"processes": [...]}``; raises ``msgspec.DecodeError`` for anything else."""
    entries: list[tuple[str, ProcessRecord]]
    try:
        by_name = msgspec.json.decode(raw, type=_StatsByName).workers
        entries = list(by_name.items())
    except msgspec.ValidationError:
        try:
            listed = msgspec.json.decode(raw, type=list[ProcessRecord])
        except msgspec.ValidationError:
            listed = msgspec.json.decode(raw, type=_StatsList).processes
        entries = [(entry.name, entry) for entry in listed]
    return [_row(name or entry.name or "-", entry, entry.uptime) for name, entry in entries]


def _row(name: str, entry: ProcessRecord, uptime: float | None) -> ProcessRow:
    """One display row; HTTP counters come from ``http`` or from flat fields."""
    http = entry.http or HttpCounters()
    return ProcessRow(
        name=name,
        pid=entry.pid,
        state=entry.state,
        generation=entry.generation,
        starts=entry.starts,
        uptime=uptime,
        rss=entry.rss,
        cpu_seconds=entry.cpu_seconds,
        requests=http.served if http.served is not None else entry.served,
        in_flight=http.in_flight if http.in_flight is not None else entry.in_flight,
    )
