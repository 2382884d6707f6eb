"""``/metrics`` (Prometheus text format) and the ``/health`` and ``/ready`` probes."""

from __future__ import annotations

import http.client
import os
from collections.abc import Callable
from datetime import datetime, timezone

import msgspec
from insp_helpers import RunningApp
from prometheus_client.parser import text_string_to_metric_families
from testkit import wait_until

from hurtle_http import RequestStats
from hurtle_inspector.metrics import render_metrics
from hurtle_worker_manager.messages import ProcessEntry, ProcessStats, StatsResult

PAGE = os.sysconf("SC_PAGE_SIZE")

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample by (name, sorted labels); the parser rejects malformed output."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def scrape(app: RunningApp, port: int | None = None) -> Samples:
    if port is None:
        reply = app.call("GET", "/metrics")
        assert reply.status == 200, reply
        assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
        return parse(reply.body.decode())
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/metrics", headers={"Authorization": f"Bearer {app.api_key}"})
        response = conn.getresponse()
        body = response.read()
        assert response.status == 200, body
        return parse(body.decode())
    finally:
        conn.close()


def per_process(samples: Samples, name: str) -> dict[str, float]:
    return {dict(labels)["process"]: value for (n, labels), value in samples.items() if n == name}


def get_app(app: RunningApp, count: int) -> None:
    for _ in range(count):
        app.app_pid()


def statm_rss(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


def test_metrics_count_requests_and_memory_per_process(
    launch: Callable[..., RunningApp],
) -> None:
    app = launch(workers=2)
    get_app(app, 25)
    samples: Samples = {}

    def counted() -> bool:
        nonlocal samples
        samples = scrape(app)
        return samples.get(("hurtle_requests_total", ())) == 25

    wait_until(counted, what=lambda: f"hurtle_requests_total == 25 (saw {samples})")
    served = per_process(samples, "hurtle_process_requests_total")
    assert sum(served.values()) == 25
    assert set(served) == set(app.acked_servers())
    rss = per_process(samples, "hurtle_process_resident_memory_bytes")
    workers = app.info()["workers"]
    for name, entry in workers.items():
        if entry.get("pid") and name in rss:
            expected = statm_rss(entry["pid"])
            assert abs(rss[name] - expected) <= expected * 0.05, (name, rss[name], expected)
    assert "Hurtle-Main" in rss and "Hurtle-Inspector-0" in rss
    assert samples[("hurtle_workers", (("state", "ACKED"),))] == 2
    assert samples[("hurtle_ready", ())] == 1
    cpu = per_process(samples, "hurtle_process_cpu_seconds_total")
    assert all(value >= 0 for value in cpu.values()) and len(cpu) == len(rss)
    beat = per_process(samples, "hurtle_process_heartbeat_age_seconds")
    assert set(beat) >= set(served) and all(0 <= age < 10 for age in beat.values())
    starts = per_process(samples, "hurtle_process_starts_total")
    assert starts["Hurtle-Server-0-0"] == 1


def test_metrics_need_the_api_key_and_probes_do_not(launch: Callable[..., RunningApp]) -> None:
    app = launch(workers=1, config={"INSPECTOR_API_KEY": "s3cret"})
    assert app.call("GET", "/metrics", auth=False).status == 401
    assert app.call("GET", "/metrics").status == 200
    health = app.call("GET", "/health", auth=False)
    ready = app.call("GET", "/ready", auth=False)
    assert (health.status, health.json) == (200, {"meta": {"action": "health"}, "result": "ok"})
    assert (ready.status, ready.json) == (200, {"meta": {"action": "ready"}, "result": "ready"})
    for reply in (health, ready):
        assert b"Hurtle-" not in reply.body and b"pid" not in reply.body


def test_metrics_on_their_own_address(launch: Callable[..., RunningApp]) -> None:
    app = launch(workers=1, config={"INSPECTOR_API_KEY": "k3y", "INSPECTOR_METRICS_PORT": 0})
    assert app.metrics_port is not None
    samples = scrape(app, app.metrics_port)
    assert samples[("hurtle_workers", (("state", "ACKED"),))] == 1
    conn = http.client.HTTPConnection("127.0.0.1", app.metrics_port, timeout=10)
    try:
        conn.request("GET", "/metrics")
        assert conn.getresponse().status == 401, "the same API key guards the metrics address"
    finally:
        conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", app.metrics_port, timeout=10)
    try:
        conn.request("POST", "/shutdown", headers={"Authorization": "Bearer k3y"})
        assert conn.getresponse().status == 404, "only /metrics is served there"
    finally:
        conn.close()


def test_ready_needs_min_ready_serving_workers(launch: Callable[..., RunningApp]) -> None:
    app = launch(workers=2, config={"INSPECTOR_MIN_READY": 3}, wait_ready=False)
    wait_until(lambda: len(app.acked_servers()) == 2, what="2 acked servers")
    reply = app.call("GET", "/ready")
    assert (reply.status, reply.json["error"]) == (503, "Not enough server workers are ready")
    assert app.call("POST", "/scale", {"replicas": 3, "wait": True}).status == 200
    wait_until(lambda: app.call("GET", "/ready").status == 200, what="/ready with 3 workers")
    samples = scrape(app)
    assert samples[("hurtle_ready", ())] == 1


def test_render_64_processes_parses_and_sums() -> None:
    now = datetime.now(timezone.utc)
    rows, entries = [], {}
    for index in range(64):
        name = f"Hurtle-Server-{index}-0"
        stats = RequestStats(served=index, in_flight=index % 3, connections=1)
        payload = msgspec.Raw(msgspec.msgpack.encode(stats))
        rows.append(
            ProcessStats(
                server=True,
                name=name,
                pid=1000 + index,
                state="ACKED",
                generation=2,
                starts=2,
                uptime=1.5,
                rss=50_000_000 + index,
                cpu_seconds=0.25,
                reports={"http": payload},
                heartbeat_age=0.1,
            )
        )
        entries[name] = ProcessEntry(
            server=True, state="ACKED", pid=1000 + index, start_at=now, starts=2,
            restarts={"recycle": 1},
        )  # fmt: skip
    text = render_metrics(
        StatsResult(processes=rows),
        entries,
        totals={"http": {"served": 1000.0, "errors": 2.0}},
        phase="ready",
        ready=True,
    ).decode()
    samples = parse(text)
    assert samples[("hurtle_requests_total", ())] == 1000 + sum(range(64))
    assert samples[("hurtle_request_errors_total", ())] == 2
    assert samples[("hurtle_workers", (("state", "ACKED"),))] == 64
    restarts = [key for key in samples if key[0] == "hurtle_process_restarts_total"]
    assert len(restarts) == 64
    assert samples[("hurtle_phase", (("phase", "ready"),))] == 1
    assert samples[("hurtle_phase", (("phase", "draining"),))] == 0


def test_label_values_are_escaped() -> None:
    name = 'odd "name"\\\n'
    row = ProcessStats(
        server=True, name=name, pid=1, state="ACKED", generation=1, starts=1, uptime=0
    )
    samples = parse(render_metrics(StatsResult(processes=[row]), {}).decode())
    assert samples[("hurtle_process_uptime_seconds", (("process", 'odd "name"\\\n'),))] == 0
