"""The process row's contract: what the inspector encodes, the CLI's reader decodes.

The inspector builds its answers from the worker manager's ``ProcessRow`` family; the CLI
reads them with its own structs (it installs no server package). These tests encode the
inspector's real structs, with every field set, and decode them with ``hurtle_cli.results``,
so a renamed or retyped field fails here instead of showing ``-`` in a terminal.
"""

from __future__ import annotations

from datetime import datetime, timezone

import msgspec

from hurtle_cli.results import Envelope, decode_info, decode_stats, info_rows
from hurtle_http import RequestStats
from hurtle_inspector import _info
from hurtle_inspector.schema import AppInfo, EnvelopeMeta, InfoResult, StatsOutcome, WorkerStats
from hurtle_inspector.schema import Envelope as InspectorEnvelope
from hurtle_worker_manager.messages import (
    ProcessEntry,
    ProcessStats,
    StateUpdate,
    entry_to_dict,
    extend_row,
)

START = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
HTTP = RequestStats(served=41, in_flight=2, errors=1, bad_requests=3, connections=5)


def _entry(*, current: bool = True, generation: int = 3) -> ProcessEntry:
    return ProcessEntry(
        server=True,
        state="ACKED",
        pid=4242,
        start_at=START,
        restart_at=START,
        generation=generation,
        serving=True,
        reports={"http": msgspec.Raw(msgspec.msgpack.encode(HTTP))},
        current=current,
    )


def _wire(result: object, action: str) -> msgspec.Raw:
    """What the inspector sends, as the CLI receives it: the envelope's raw result."""
    body = msgspec.json.encode(InspectorEnvelope(EnvelopeMeta(action), result))
    envelope = msgspec.json.decode(body, type=Envelope)
    assert envelope.meta.action == action
    return envelope.result


def test_stats_rows_encoded_by_the_inspector_decode_field_for_field_in_the_cli() -> None:
    stats = extend_row(
        _entry(), ProcessStats, name="Hurtle-Server-0-0", uptime=12.5, rss=1 << 20, cpu_seconds=0.75
    )
    worker = extend_row(stats, WorkerStats, http=HTTP)
    outcome = StatsOutcome(workers={stats.name: worker})

    (row,) = decode_stats(_wire(outcome, "stats"))

    assert row.name == "Hurtle-Server-0-0"
    assert (row.pid, row.state, row.generation, row.starts) == (4242, "ACKED", 3, 3)
    assert (row.uptime, row.rss, row.cpu_seconds) == (12.5, 1 << 20, 0.75)
    assert (row.requests, row.in_flight) == (41, 2)


def test_info_workers_encoded_by_the_inspector_decode_in_the_cli() -> None:
    update = StateUpdate(
        main_pid=7,
        processes={"Hurtle-Server-0-0": _entry(), "Hurtle-Server-0-0#4": _entry(current=False)},
    )
    workers = {"Hurtle-Main": {"pid": update.main_pid}}
    workers.update({name: entry_to_dict(e) for name, e in update.processes.items()})
    app = AppInfo("app", "production", "hurtle", "3.11", "linux", [], {})
    result = InfoResult(info=app, workers=_info.jsonable(workers))

    decoded = decode_info(_wire(result, "info"))

    assert decoded.workers["Hurtle-Main"].pid == 7
    entry = decoded.workers["Hurtle-Server-0-0"]
    assert (entry.server, entry.state, entry.pid, entry.generation, entry.starts) == (
        True,
        "ACKED",
        4242,
        3,
        3,
    )
    assert entry.start_at == START and entry.restart_at == START and entry.serving is True
    assert entry.current is True and decoded.workers["Hurtle-Server-0-0#4"].current is False
    assert entry.http is not None and (entry.http.served, entry.http.in_flight) == (41, 2)
    rows = {row.name: row for row in info_rows(decoded, now=START)}
    assert rows["Hurtle-Server-0-0"].requests == 41 and rows["Hurtle-Server-0-0"].uptime == 0.0


def test_starts_is_generation_whatever_the_caller_passes() -> None:
    assert _entry(generation=5).starts == 5
    assert ProcessEntry(server=False, state="ACKED", starts=9, generation=2).starts == 2
    raw = msgspec.msgpack.encode({"server": True, "state": "ACKED", "starts": 1, "generation": 6})
    assert msgspec.msgpack.decode(raw, type=ProcessEntry).starts == 6
