"""Decoding the inspector's results defensively (hurtle_cli.results) and formatting them."""

from __future__ import annotations

from datetime import datetime, timezone

import click
import msgspec
import pytest

from hurtle_cli.output import format_bytes, format_duration, render_result
from hurtle_cli.results import ProcessRow, decode_info, decode_stats, info_rows

ROW = {"pid": 7, "state": "ACKED", "uptime": 3.5, "rss": 2048, "http": {"served": 4}}
EXPECTED = ProcessRow(name="W", pid=7, state="ACKED", uptime=3.5, rss=2048, requests=4)


@pytest.mark.parametrize(
    "result",
    [
        {"workers": {"W": ROW}},
        [{"name": "W", **ROW}],
        {"processes": [{"name": "W", **ROW, "unknown": {"x": 1}}]},
    ],
)
def test_stats_shapes(result: object) -> None:
    assert decode_stats(msgspec.Raw(msgspec.json.encode(result))) == [EXPECTED]


def test_flat_http_counters_in_stats() -> None:
    raw = msgspec.json.encode([{"name": "W", "served": 9, "in_flight": 1}])
    assert decode_stats(msgspec.Raw(raw))[0].requests == 9
    assert decode_stats(msgspec.Raw(raw))[0].in_flight == 1


@pytest.mark.parametrize("bad", [{"nope": 1}, 42, [{"name": "W", "pid": "seven"}]])
def test_stats_of_another_shape_is_a_decode_error(bad: object) -> None:
    with pytest.raises(msgspec.DecodeError):
        decode_stats(msgspec.Raw(msgspec.json.encode(bad)))


def test_info_rows_count_uptime_from_start_at() -> None:
    raw = msgspec.json.encode(
        {
            "info": {"app": "A"},
            "workers": {
                "W": {"pid": 1, "start_at": "2026-01-01T00:00:00+00:00", "http": {"served": 3}},
                "naive": {"start_at": "2026-01-01T00:00:00"},
                "Hurtle-Main": {"pid": 2},
            },
        }
    )
    now = datetime(2026, 1, 1, 0, 1, 30, tzinfo=timezone.utc)
    rows = info_rows(decode_info(msgspec.Raw(raw)), now)
    assert rows[0] == ProcessRow(name="W", pid=1, uptime=90.0, requests=3)
    assert rows[1].uptime == 90.0
    assert rows[2] == ProcessRow(name="Hurtle-Main", pid=2)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (0, "0s"), (59.9, "59s"), (61, "1m 01s"), (3600, "1h 00m"), (90061, "1d 01h")],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (None, "-"),
        (512, "512 B"),
        (2048, "2.0 KiB"),
        (43_100_000, "41.1 MiB"),
        (5 << 30, "5.0 GiB"),
    ],
)
def test_format_bytes(size: int | None, text: str) -> None:
    assert format_bytes(size) == text


@pytest.mark.parametrize(
    ("action", "result", "lines"),
    [
        ("reload", None, ["reload: requested"]),
        ("reload", ["a", "b"], ["reload: restarted 2: a, b"]),
        ("restart", {"restarted": []}, ["restart: restarted 0: -"]),
        ("scale", {"replicas": 2}, ["scale: 2 replicas"]),
        ("scale", "Scaling to 2", ["Scaling to 2"]),
        ("shutdown", None, ["shutdown: the server is stopping"]),
        ("custom", None, ["custom: done"]),
        ("custom", [1, {"a": 2}], ['[\n  1,\n  {\n    "a": 2\n  }\n]']),
        ("custom", {"k": [1, "x"], "b": True}, ["k  1, x", "b  true"]),
        ("custom", 3.5, ["3.5"]),
    ],
)
def test_render_result(action: str, result: object, lines: list[str]) -> None:
    rendered = render_result(action, msgspec.Raw(msgspec.json.encode(result)))
    assert [click.unstyle(line) for line in rendered] == lines
