"""The HTTP contract of the inspector: request bodies and response envelopes.

Every response body is an envelope: ``{"meta": {"action": NAME}, "result": VALUE}`` on
success, ``{"meta": {"action": NAME}, "error": "message"}`` on failure (no ``result``
key). Request bodies of the built-in commands are strict: unknown keys and wrong types
are refused with a 400. The package README documents every endpoint.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from hurtle_http import RequestStats
from hurtle_worker_manager.messages import ProcessRow

__all__ = [
    "MAX_WAIT",
    "AppInfo",
    "Envelope",
    "EnvelopeMeta",
    "ErrorEnvelope",
    "InfoResult",
    "ReloadBody",
    "ReloadOutcome",
    "RestartBody",
    "RestartOutcome",
    "ScaleBody",
    "ScaleOutcome",
    "ShutdownOutcome",
    "StatsOutcome",
    "WorkerStats",
]

MAX_WAIT = 300.0
"""The longest ``timeout`` (seconds) a command may wait for the manager."""

Timeout = Annotated[float, msgspec.Meta(gt=0, le=MAX_WAIT)]
Replicas = Annotated[int, msgspec.Meta(ge=1)]
ProcessName = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


# --- envelopes ---


class EnvelopeMeta(msgspec.Struct, frozen=True):
    """What the response is about: the command's name."""

    action: str


class Envelope(msgspec.Struct, frozen=True):
    """A successful response: ``result`` is the command's return value (may be null)."""

    meta: EnvelopeMeta
    result: object = None


class ErrorEnvelope(msgspec.Struct, frozen=True, omit_defaults=True):
    """A failed response: ``error`` says what went wrong, for people.

    A 404 also lists the ``available`` commands (the caller is authenticated by then).
    """

    meta: EnvelopeMeta
    error: str
    available: list[str] | None = None


# --- request bodies of the built-in commands ---


class _Body(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Base of the request bodies: unknown keys are an error."""


class ReloadBody(_Body, frozen=True):
    """``POST /reload``: restart every transient process (the server workers).

    ``zero_downtime`` starts each replacement before stopping the old worker. ``wait``
    answers only once the replacements acknowledged; ``timeout`` bounds the answer.
    """

    zero_downtime: bool = False
    wait: bool = False
    timeout: Timeout = 30.0


class ScaleBody(_Body, frozen=True):
    """``POST /scale``: run exactly ``replicas`` server workers (1 to the manager's maximum)."""

    replicas: Replicas
    wait: bool = False
    timeout: Timeout = 30.0


class RestartBody(_Body, frozen=True):
    """``POST /restart``: restart the named processes (names as listed by ``GET /``)."""

    names: Annotated[list[ProcessName], msgspec.Meta(min_length=1, max_length=1024)]
    zero_downtime: bool = False
    wait: bool = False
    timeout: Timeout = 30.0


# --- results of the built-in commands ---


class AppInfo(msgspec.Struct, frozen=True):
    """Who is running: the reference's ``info`` block."""

    app: str
    mode: str
    server: str
    python: str
    platform: str
    packages: list[str]
    extra: dict[str, object]


class InfoResult(msgspec.Struct, frozen=True):
    """``GET /``: the application and the full worker state (datetimes in ISO 8601)."""

    info: AppInfo
    workers: dict[str, object]


class RestartOutcome(msgspec.Struct, frozen=True):
    """``reload`` and ``restart``: the processes replaced, and whether the answer waited."""

    restarted: list[str]
    zero_downtime: bool
    waited: bool


ReloadOutcome = RestartOutcome
"""Former name of ``RestartOutcome`` (it answers ``restart`` as well as ``reload``)."""


class ScaleOutcome(msgspec.Struct, frozen=True):
    """``scale``: the target count and the server process names after scaling."""

    replicas: int
    workers: list[str]
    waited: bool


class ShutdownOutcome(msgspec.Struct, frozen=True):
    """``shutdown``: the manager accepted to stop everything."""

    shutting_down: bool = True


class WorkerStats(ProcessRow, frozen=True, omit_defaults=False, kw_only=True):
    """One live process: the manager's process row, its resources and its HTTP counters.

    The row's fields (server, state, pid, generation, ...) are the worker manager's
    ``ProcessRow``, written once; a missing value is ``null``.
    """

    uptime: float
    rss: int | None
    cpu_seconds: float | None
    http: RequestStats | None
    failed: str | None = None
    """Why the process's slot is marked failed (a crash loop at run time), else null."""


class StatsOutcome(msgspec.Struct, frozen=True):
    """``stats``: every live process by name."""

    workers: dict[str, WorkerStats]
