"""``GET /metrics``: the manager's view of every process in the Prometheus text format.

One scrape is one ``stats`` round trip to the manager (which reads RSS and CPU time from
the OS and knows each heartbeat's age) plus the state snapshot the inspector already
holds; nothing is shared through files, unlike prometheus_client's multiprocess mode.
Series are labelled by process name (``Hurtle-Server-0-0``; ``#<generation>`` marks an
instance that starts beside, or drains after, the current one). Request totals add the
counters the manager kept for every exited process to the live ones, so they never go
back when a worker restarts. Rendered by hand (see the design notes for the measurement
against prometheus_client); ``prometheus_client``'s parser reads it back in the tests.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import msgspec

from hurtle_http import RequestStats
from hurtle_worker_manager import ProcessState
from hurtle_worker_manager.messages import ProcessEntry, StatsResult

__all__ = ["CONTENT_TYPE", "HTTP_REPORT", "families", "render_metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HTTP_REPORT = "http"
"""The report key under which server workers publish their ``RequestStats``."""

_STATES = tuple(state.value for state in ProcessState)
_PHASES = ("starting", "ready", "reloading", "draining", "stopping")
_decode_http = msgspec.msgpack.Decoder(RequestStats).decode

# (name, type, help) of every family, in output order.
_FAMILIES = {
    "requests": (
        "hurtle_requests_total",
        "counter",
        "Responses completed by every server worker, exited ones included.",
    ),
    "errors": (
        "hurtle_request_errors_total",
        "counter",
        "Responses with a 5xx status or failed while sent, exited workers included.",
    ),
    "bad": (
        "hurtle_bad_requests_total",
        "counter",
        "Malformed or over-limit requests rejected, exited workers included.",
    ),
    "p_requests": (
        "hurtle_process_requests_total",
        "counter",
        "Responses completed by this process instance.",
    ),
    "p_in_flight": (
        "hurtle_process_requests_in_flight",
        "gauge",
        "Requests being handled by this process.",
    ),
    "p_connections": (
        "hurtle_process_connections",
        "gauge",
        "Open connections of this process.",
    ),
    "p_rss": (
        "hurtle_process_resident_memory_bytes",
        "gauge",
        "Resident memory of this process.",
    ),
    "p_cpu": (
        "hurtle_process_cpu_seconds_total",
        "counter",
        "User and system CPU time of this process.",
    ),
    "p_uptime": (
        "hurtle_process_uptime_seconds",
        "gauge",
        "Seconds since this process started.",
    ),
    "p_beat": (
        "hurtle_process_heartbeat_age_seconds",
        "gauge",
        "Seconds since this process's event loop last answered (its lag when stuck).",
    ),
    "p_starts": (
        "hurtle_process_starts_total",
        "counter",
        "Processes started for this slot (its generation).",
    ),
    "p_restarts": (
        "hurtle_process_restarts_total",
        "counter",
        "Restarts of this slot by reason: exit, signal, hang, recycle, reload, restart.",
    ),
    "workers": (
        "hurtle_workers",
        "gauge",
        "Server processes by state.",
    ),
    "ready": (
        "hurtle_ready",
        "gauge",
        "1 when /ready answers 200.",
    ),
    "phase": (
        "hurtle_phase",
        "gauge",
        "The manager's phase (1 for the current one).",
    ),
}


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))


class _Writer:
    def __init__(self) -> None:
        self.samples: dict[str, list[str]] = {key: [] for key in _FAMILIES}

    def add(self, family: str, value: float | None, **labels: str) -> None:
        if value is None:
            return
        name = _FAMILIES[family][0]
        if labels:
            inner = ",".join(f'{key}="{_label(item)}"' for key, item in labels.items())
            self.samples[family].append(f"{name}{{{inner}}} {_number(value)}")
        else:
            self.samples[family].append(f"{name} {_number(value)}")

    def text(self) -> bytes:
        lines: list[str] = []
        for family, samples in self.samples.items():
            if not samples:
                continue
            name, kind, help_text = _FAMILIES[family]
            base = name.removesuffix("_total") if kind == "counter" else name
            lines.append(f"# HELP {base} {help_text}")
            lines.append(f"# TYPE {base} {kind}")
            lines.extend(samples)
        lines.append("")
        return "\n".join(lines).encode()


def _http(payload: msgspec.Raw | None) -> RequestStats | None:
    if payload is None:
        return None
    try:
        return _decode_http(payload)
    except msgspec.DecodeError:
        return None


def render_metrics(
    stats: StatsResult,
    entries: Mapping[str, ProcessEntry],
    *,
    totals: Mapping[str, Mapping[str, float]] | None = None,
    phase: str = "",
    ready: bool = False,
    main: tuple[str, int] | None = None,
) -> bytes:
    """The Prometheus text exposition of one scrape.

    ``stats`` is the manager's answer to a stats command (live processes), ``entries``
    the state snapshot (every slot, live or not), ``totals`` the manager's counters of
    exited processes, ``main`` the main process's name and pid (read from /proc here).
    """
    out = _Writer()
    served = dict((totals or {}).get(HTTP_REPORT, {}))
    sums = {
        "requests": served.get("served", 0.0),
        "errors": served.get("errors", 0.0),
        "bad": served.get("bad_requests", 0.0),
    }
    for row in stats.processes:
        labels = {"process": row.name}
        http = _http(row.reports.get(HTTP_REPORT))
        if http is not None:
            sums["requests"] += http.served
            sums["errors"] += http.errors
            sums["bad"] += http.bad_requests
            out.add("p_requests", http.served, **labels)
            out.add("p_in_flight", http.in_flight, **labels)
            out.add("p_connections", http.connections, **labels)
        out.add("p_rss", row.rss, **labels)
        out.add("p_cpu", row.cpu_seconds, **labels)
        out.add("p_uptime", row.uptime, **labels)
        out.add("p_beat", row.heartbeat_age, **labels)
    if main is not None:
        name, pid = main
        out.add("p_rss", _rss(pid), process=name)
        out.add("p_cpu", _cpu(pid), process=name)
    for key in ("requests", "errors", "bad"):
        out.add(key, sums[key])
    counts = dict.fromkeys(_STATES, 0)
    for name, entry in sorted(entries.items()):
        if "#" not in name:
            out.add("p_starts", entry.starts, process=name)
            for reason, count in sorted(entry.restarts.items()):
                out.add("p_restarts", count, process=name, reason=reason)
        if entry.server:
            counts[entry.state] = counts.get(entry.state, 0) + 1
    for state, count in counts.items():
        out.add("workers", count, state=state)
    out.add("ready", 1 if ready else 0)
    if phase:
        for name in _PHASES:
            out.add("phase", 1 if name == phase else 0, phase=name)
    return out.text()


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _rss(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


def _cpu(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS
    except (OSError, ValueError, IndexError):
        return None


def families() -> Iterable[str]:
    """The metric names this module can produce (for documentation and tests)."""
    return (name for name, _, _ in _FAMILIES.values())
