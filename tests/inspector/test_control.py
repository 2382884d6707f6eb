"""Control commands against running apps: reload, restart, scale, shutdown, readiness."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from insp_helpers import RunningApp, alive, managed_children, wait_until

Launch = Callable[..., RunningApp]


def _pids(servers: dict[str, dict[str, object]]) -> dict[str, object]:
    return {name: entry["pid"] for name, entry in servers.items()}


def test_reload_answers_on_acceptance_or_once_the_new_workers_acked(launch: Launch) -> None:
    app = launch(server_kwargs={"slow_ack_above": 1, "slow_ack": 1.0})
    first = _pids(app.acked_servers())

    started = time.monotonic()
    reply = app.call("POST", "/reload")
    assert time.monotonic() - started < 0.9  # answered when accepted, not when acked
    assert reply.status == 200
    assert reply.json == {
        "meta": {"action": "reload"},
        "result": {
            "restarted": ["Hurtle-Server-0-0", "Hurtle-Server-1-0"],
            "zero_downtime": False,
            "waited": False,
        },
    }
    # the reply came on acceptance: the state shows the old workers until the restart runs
    second = _pids(
        wait_until(
            lambda: (s := app.settled(2)) and {e["generation"] for e in s.values()} == {2} and s,
            what="the reload to complete",
        )
    )
    assert set(second.values()).isdisjoint(first.values())

    started = time.monotonic()
    reply = app.call("POST", "/reload?wait=true", {"zero_downtime": True})
    elapsed = time.monotonic() - started
    assert reply.status == 200, reply
    assert reply.json["result"]["waited"] is True
    assert reply.json["result"]["zero_downtime"] is True
    assert elapsed >= 0.9, f"answered after {elapsed:.2f} s, before the 1 s ack delay"
    servers = wait_until(  # the state reaches the inspector a few ms after the reply
        lambda: (s := app.settled(2)) and {e["generation"] for e in s.values()} == {3} and s,
        timeout=1.0,
        what="generation 3 acked",
    )
    assert set(_pids(servers).values()).isdisjoint(second.values())
    assert app.app_pid() in _pids(servers).values()

    timed_out = app.call("POST", "/reload", {"wait": True, "timeout": 0.3})
    assert timed_out.status == 504
    assert "did not complete within 0.3 s" in timed_out.json["error"]
    servers = wait_until(
        lambda: (s := app.settled(2)) and {e["generation"] for e in s.values()} == {4} and s,
        what="the timed-out reload to complete in the background",
    )


def test_a_failed_waited_reload_is_an_error_and_the_old_workers_keep_serving(
    launch: Launch,
) -> None:
    app = launch(server_kwargs={"fail_above": 1})
    before = _pids(app.acked_servers())
    reply = app.call("POST", "/reload", {"zero_downtime": True, "wait": True})
    assert reply.status == 409, reply
    assert reply.json["meta"] == {"action": "reload"}
    assert "old process keeps serving" in reply.json["error"]
    assert "refuses to start" in reply.json["error"]
    assert _pids(wait_until(lambda: app.settled(2), what="failed newcomers gone")) == before
    assert app.app_pid() in before.values()


def test_restart_named_processes(launch: Launch) -> None:
    app = launch()
    before = _pids(app.acked_servers())
    reply = app.call("POST", "/restart", {"names": ["Hurtle-Server-1-0"], "wait": True})
    assert reply.status == 200, reply
    assert reply.json["result"] == {
        "restarted": ["Hurtle-Server-1-0"],
        "zero_downtime": False,
        "waited": True,
    }
    after = _pids(
        wait_until(
            lambda: (s := app.settled(2)) and s["Hurtle-Server-1-0"]["generation"] == 2 and s,
            timeout=1.0,
            what="the restart to settle",
        )
    )
    assert after["Hurtle-Server-0-0"] == before["Hurtle-Server-0-0"]
    assert after["Hurtle-Server-1-0"] != before["Hurtle-Server-1-0"]
    assert not alive(int(before["Hurtle-Server-1-0"]))  # type: ignore[call-overload]
    durable = app.call("POST", "/restart", {"names": ["Hurtle-Inspector-0"]})
    assert durable.status == 409
    assert "durable process restarts only from a final state" in durable.json["error"]


def test_scale_validates_then_scales_up_and_down(launch: Launch) -> None:
    app = launch(max_workers=4)
    before = _pids(app.acked_servers())
    for body in ({"replicas": 0}, {"replicas": 5}, {"replicas": "3"}, {"replicas": None}, {}):
        reply = app.call("POST", "/scale", body)
        assert reply.status == 400, (body, reply)
    assert _pids(app.settled(2) or {}) == before  # nothing changed, nothing crashed

    reply = app.call("POST", "/scale?wait=true", {"replicas": 4})
    assert reply.status == 200, reply
    result = reply.json["result"]
    assert result["replicas"] == 4 and result["waited"] is True
    assert result["workers"] == [f"Hurtle-Server-{n}-0" for n in range(4)]
    four = _pids(wait_until(lambda: app.settled(4), timeout=1.0, what="4 acked servers"))
    assert {name: four[name] for name in before} == before

    reply = app.call("POST", "/scale", {"replicas": 1, "wait": True})
    assert reply.status == 200, reply
    assert reply.json["result"]["workers"] == ["Hurtle-Server-0-0"]
    removed = [pid for name, pid in four.items() if name != "Hurtle-Server-0-0"]
    assert not any(alive(int(pid)) for pid in removed)  # type: ignore[call-overload]
    assert app.app_pid() == four["Hurtle-Server-0-0"]


def test_concurrent_reloads_leave_no_orphan_worker(launch: Launch) -> None:
    app = launch()
    seen: set[int] = set(managed_children(app.pid))
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.update(managed_children(app.pid))
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    replies: list[int] = []
    bodies = [
        {},
        {"zero_downtime": True},
        {"wait": True},
        {"zero_downtime": True, "wait": True},
        {},
        {"zero_downtime": True},
    ]

    def reload(body: dict[str, bool]) -> None:
        replies.append(app.call("POST", "/reload", body).status)

    try:
        threads = [threading.Thread(target=reload, args=(body,)) for body in bodies]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert replies == [200] * len(bodies)
        # Every reload was accepted (started) or done: the next settled state is the last.
        # Identical reloads that waited together were joined (issue 16 item 7): 3 to 6 ran.
        servers = wait_until(
            lambda: (s := app.settled(2)) and len({e["generation"] for e in s.values()}) == 1 and s,
            what="the reloads to complete in order",
        )
        assert 4 <= next(iter(servers.values()))["generation"] <= 7, servers
    finally:
        stop.set()
        watcher.join()
    state_pids = {e["pid"] for e in app.info()["workers"].values() if e.get("pid")}
    current = set(_pids(servers).values()) | {app.info()["workers"]["Hurtle-Inspector-0"]["pid"]}
    assert len(seen) >= 2 + 1 + 2  # the reloads really started new workers
    wait_until(lambda: managed_children(app.pid) == current, what="only current workers to remain")
    assert state_pids - {app.pid} == current
    orphans = {pid for pid in seen - current if alive(pid)}
    assert not orphans, f"orphan workers: {orphans}"


def test_shutdown_stops_every_process(launch: Launch) -> None:
    app = launch()
    pids = set(_pids(app.acked_servers()).values()) | managed_children(app.pid)
    reply = app.call("POST", "/shutdown")
    assert (reply.status, reply.json) == (
        200,
        {"meta": {"action": "shutdown"}, "result": {"shutting_down": True}},
    )
    assert app.process.wait(20) == 0
    wait_until(lambda: not any(alive(pid) for pid in pids), what="every worker to exit")


def test_ready_only_once_a_server_acked_and_odd_state_values_are_served(
    launch: Launch, tmp_path: Path
) -> None:
    flag = tmp_path / "ack-now"
    app = launch(server_kwargs={"ack_when": str(flag), "report_ext": True}, wait_ready=False)
    not_ready = app.call("GET", "/ready")
    assert (not_ready.status, not_ready.json) == (
        503,
        {"meta": {"action": "ready"}, "error": "No server worker is ready"},
    )
    assert app.call("GET", "/health").status == 200
    assert all(entry["state"] == "STARTED" for entry in app.servers().values())
    flag.touch()
    wait_until(lambda: app.call("GET", "/ready").status == 200, what="/ready to turn 200")
    odd = wait_until(
        lambda: app.info()["workers"]["Hurtle-Server-0-0"].get("odd"), what="the odd report"
    )
    assert odd == "Ext(code=5, data=b'\\x00\\x01')"
