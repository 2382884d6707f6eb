"""What ``hurtle inspect`` prints for people: app info, process tables, action results.

Everything is styled with ``click.style``; ``click.echo`` drops the colours when stdout is
not a terminal (or when the caller passes ``color=False``, e.g. for ``NO_COLOR``). Missing
values are shown as ``-``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import click
import msgspec

from hurtle_cli.results import InfoResult, ProcessRow
from hurtle_worker_manager import ProcessState

__all__ = [
    "INFO_COLUMNS",
    "STATS_COLUMNS",
    "format_bytes",
    "format_duration",
    "render_info",
    "render_json",
    "render_result",
    "render_table",
]

_STATE_COLOURS: dict[str, str] = {
    ProcessState.ACKED.value: "green",
    ProcessState.STARTED.value: "yellow",
    ProcessState.STARTING.value: "yellow",
    ProcessState.RESTARTING.value: "yellow",
    ProcessState.IDLE.value: "yellow",
    ProcessState.TERMINATED.value: "magenta",
    ProcessState.JOINED.value: "magenta",
    ProcessState.FAILED.value: "red",
}
_INFO_ORDER = ("app", "mode", "server", "python", "platform", "packages")


def format_duration(seconds: float | None) -> str:
    """``42s``, ``5m 02s``, ``3h 07m``, ``2d 04h``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def format_bytes(size: int | None) -> str:
    """``512 B``, ``12.3 KiB``, ``41.0 MiB``; ``-`` when unknown."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


@dataclass(frozen=True)
class Column:
    """One table column: heading, how to get the text of a row, alignment."""

    heading: str
    text: Callable[[ProcessRow], str]
    right: bool = False


INFO_COLUMNS: tuple[Column, ...] = (
    Column("NAME", lambda r: r.name),
    Column("PID", lambda r: _number(r.pid), right=True),
    Column("STATE", lambda r: r.state or "-"),
    Column("GEN", lambda r: _number(r.generation), right=True),
    Column("STARTS", lambda r: _number(r.starts), right=True),
    Column("UPTIME", lambda r: format_duration(r.uptime), right=True),
    Column("RSS", lambda r: format_bytes(r.rss), right=True),
    Column("REQUESTS", lambda r: _number(r.requests), right=True),
)
STATS_COLUMNS: tuple[Column, ...] = (
    *INFO_COLUMNS[:7],
    Column("CPU", lambda r: "-" if r.cpu_seconds is None else f"{r.cpu_seconds:.2f}s", True),
    Column("REQUESTS", lambda r: _number(r.requests), right=True),
    Column("IN-FLIGHT", lambda r: _number(r.in_flight), right=True),
)


def render_table(rows: Sequence[ProcessRow], columns: Sequence[Column]) -> list[str]:
    """Aligned lines: a bold heading, then one line per row with its state coloured."""
    cells = [[column.text(row) for column in columns] for row in rows]
    widths = [
        max([len(column.heading), *(len(line[i]) for line in cells)])
        for i, column in enumerate(columns)
    ]

    def line(texts: Sequence[str], state: str | None, heading: bool) -> str:
        parts = []
        for column, text, width in zip(columns, texts, widths, strict=True):
            padded = text.rjust(width) if column.right else text.ljust(width)
            if heading:
                padded = click.style(padded, bold=True)
            elif column.heading == "STATE" and state in _STATE_COLOURS:
                padded = click.style(padded, fg=_STATE_COLOURS[state])
            elif column.heading == "NAME":
                padded = click.style(padded, fg="cyan")
            parts.append(padded)
        return "  ".join(parts).rstrip()

    lines = [line([c.heading for c in columns], None, heading=True)]
    lines.extend(
        line(texts, row.state, heading=False) for texts, row in zip(cells, rows, strict=True)
    )
    return lines


def _text(value: object) -> str:
    if isinstance(value, list):
        return ", ".join(_text(item) for item in value)
    if isinstance(value, (dict, bool)) or value is None:
        return msgspec.json.encode(value).decode()
    return str(value)


def render_info(url: str, result: InfoResult, rows: Sequence[ProcessRow]) -> list[str]:
    """The app's info as aligned ``key  value`` lines, then the process table."""
    items: list[tuple[str, object]] = [(k, result.info[k]) for k in _INFO_ORDER if k in result.info]
    items += [(k, v) for k, v in result.info.items() if k not in _INFO_ORDER and k != "extra"]
    extra = result.info.get("extra")
    if isinstance(extra, dict):
        items += [(str(k), v) for k, v in extra.items()]
    elif extra is not None:
        items.append(("extra", extra))
    lines = [click.style("Hurtle inspector at ", bold=True) + click.style(url, underline=True)]
    width = max((len(key) for key, _ in items), default=0)
    lines += [f"  {click.style(key.ljust(width), bold=True)}  {_text(v)}" for key, v in items]
    lines.append("")
    lines += render_table(rows, INFO_COLUMNS)
    return lines


def render_json(raw: msgspec.Raw, pretty: bool) -> str:
    """The raw JSON result, indented for a terminal, one line otherwise."""
    compact = msgspec.json.encode(msgspec.json.decode(raw))
    return (msgspec.json.format(compact, indent=2) if pretty else compact).decode()


def _names(value: object) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    if isinstance(value, dict):
        for key in ("restarted", "names", "workers"):
            if key in value:
                return _names(value[key])
    return None


def render_result(action: str, raw: msgspec.Raw) -> list[str]:
    """A built-in action's or custom command's result, for people."""
    value = msgspec.json.decode(raw)
    if action in ("reload", "restart"):
        names = _names(value)
        if names is not None:
            return [f"{action}: restarted {len(names)}: {', '.join(names) or '-'}"]
        if value is None:
            return [f"{action}: requested"]
    if action == "scale" and isinstance(value, dict) and "replicas" in value:
        names = _names(value.get("workers")) or []
        listed = f": {', '.join(names)}" if names else ""
        return [f"scale: {value['replicas']} replicas{listed}"]
    if action == "shutdown" and (value is None or isinstance(value, dict)):
        return ["shutdown: the server is stopping"]
    if value is None:
        return [f"{action}: done"]
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict) and value:
        width = max(len(str(key)) for key in value)
        return [
            f"{click.style(str(k).ljust(width), bold=True)}  {_text(v)}" for k, v in value.items()
        ]
    return [msgspec.json.format(msgspec.json.encode(value), indent=2).decode()]
