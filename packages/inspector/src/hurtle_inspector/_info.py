"""What ``GET /`` says about the running application, and JSON-safe worker state."""

from __future__ import annotations

import platform
from datetime import date, datetime, time
from importlib import metadata
from typing import Any

import msgspec

__all__ = ["hurtle_packages", "jsonable", "python_platform", "python_version"]


def hurtle_packages() -> list[str]:
    """``name==version`` of every installed Hurtle distribution, sorted."""
    found: set[str] = set()
    for dist in metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if name and (name == "hurtle" or name.startswith("hurtle-")):
            found.add(f"{name}=={dist.version}")
    return sorted(found)


def python_version() -> str:
    """The interpreter's version, e.g. ``3.12.3``."""
    return platform.python_version()


def python_platform() -> str:
    """The OS platform string, e.g. ``Linux-6.8.0-x86_64-with-glibc2.39``."""
    return platform.platform()


def jsonable(value: Any) -> Any:
    """``value`` with datetimes as ISO 8601 strings (``isoformat()``, as the reference) and
    anything JSON cannot carry (MessagePack extension values) as its ``repr``."""
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, msgspec.msgpack.Ext):
        return f"Ext(code={value.code}, data={value.data!r})"
    return repr(value)
