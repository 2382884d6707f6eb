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


class WorkerEntry(msgspec.Struct):
    """One process in ``GET /``'s ``workers`` (the main process has only a pid)."""

    pid: int | None = None
    server: bool | None = None
    state: str | None = None
    start_at: datetime | None = None
    starts: int | None = None
    generation: int | None = None
    restart_at: datetime | None = None
    serving: bool | None = None
    http: HttpCounters | None = None
    rss: int | None = None


class InfoResult(msgspec.Struct):
    """The result of ``GET /``: app info and the process table."""

    info: dict[str, object] = {}
    workers: dict[str, WorkerEntry] = {}


class StatsEntry(msgspec.Struct):
    """One live process in the result of ``stats`` (``name`` may be the key instead)."""

    name: str = ""
    pid: int | None = None
    state: str | None = None
    generation: int | None = None
    starts: int | None = None
    uptime: float | None = None
    rss: int | None = None
    cpu_seconds: float | None = None
    http: HttpCounters | None = None
    served: int | None = None
    in_flight: int | None = None


class _StatsByName(msgspec.Struct):
    workers: dict[str, StatsEntry]


class _StatsList(msgspec.Struct):
    processes: list[StatsEntry]


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
        http = entry.http or HttpCounters()
        rows.append(
            ProcessRow(
                name=name,
                pid=entry.pid,
                state=entry.state,
                generation=entry.generation,
                starts=entry.starts,
                uptime=uptime,
                rss=entry.rss,
                requests=http.served,
                in_flight=http.in_flight,
            )
        )
    return rows


def decode_stats(raw: msgspec.Raw) -> list[ProcessRow]:
    """Decode the result of ``stats``: ``{"workers": {name: {...}}}``, a list of processes
    or ``{"processes": [...]}``; raises ``msgspec.DecodeError`` for anything else."""
    entries: list[tuple[str, StatsEntry]]
    try:
        by_name = msgspec.json.decode(raw, type=_StatsByName).workers
        entries = list(by_name.items())
    except msgspec.ValidationError:
        try:
            listed = msgspec.json.decode(raw, type=list[StatsEntry])
        except msgspec.ValidationError:
            listed = msgspec.json.decode(raw, type=_StatsList).processes
        entries = [(entry.name, entry) for entry in listed]
    rows = []
    for name, entry in entries:
        http = entry.http or HttpCounters()
        rows.append(
            ProcessRow(
                name=name or entry.name or "-",
                pid=entry.pid,
                state=entry.state,
                generation=entry.generation,
                starts=entry.starts,
                uptime=entry.uptime,
                rss=entry.rss,
                cpu_seconds=entry.cpu_seconds,
                requests=http.served if http.served is not None else entry.served,
                in_flight=http.in_flight if http.in_flight is not None else entry.in_flight,
            )
        )
    return rows
