"""Issue 16 on the inspector: crash loops in info, stats and /ready; reload storms."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

from insp_helpers import RunningApp, wait_until

Launch = Callable[..., RunningApp]


def test_a_run_time_crash_loop_shows_in_info_stats_and_ready(
    launch: Launch, tmp_path: Path
) -> None:
    flag = tmp_path / "fail"
    flag.touch()
    app = launch(
        server_kwargs={"fail_while_exists": str(flag)},
        manager={"respawn_backoff": 0.02, "respawn_backoff_max": 0.3, "crash_loop_limit": 3},
    )
    sibling = app.acked_servers()["Hurtle-Server-0-0"]["pid"]
    os.kill(app.acked_servers()["Hurtle-Server-1-0"]["pid"], signal.SIGKILL)
    entry = wait_until(
        lambda: app.info()["workers"]["Hurtle-Server-1-0"].get("failed") and app.servers(),
        what="the crash-looping slot to be marked failed",
    )["Hurtle-Server-1-0"]
    assert entry["failed"].startswith("crash loop: died 3 times in a row before it was ready")

    ready = app.call("GET", "/ready")
    assert ready.status == 200, "a sibling still serves: the instance stays in the pool"
    assert ready.json["result"] == "degraded: 1 server slot(s) failed (crash loop)"

    stats = app.call("POST", "/stats")
    assert stats.status == 200, stats
    assert stats.json["result"]["workers"]["Hurtle-Server-1-0"]["failed"].startswith("crash loop")
    assert stats.json["result"]["workers"]["Hurtle-Server-0-0"]["failed"] is None

    assert app.process.poll() is None, "the service keeps running"
    assert app.app_pid() == sibling
    assert "Hurtle-Server-1-0 is FAILED: it died 3 times in a row" in app.log()

    flag.unlink()
    wait_until(lambda: app.settled(2), what="the failed slot to recover")
    assert app.call("GET", "/ready").json["result"] == "ready"


def _storm(app: RunningApp, count: int, path: str, body: object) -> list[tuple[int, object]]:
    """``count`` concurrent requests; their (status, body) in completion order."""
    import threading

    replies: list[tuple[int, object]] = []
    lock = threading.Lock()

    def one() -> None:
        try:
            reply = app.call("POST", path, body, timeout=60)
            answer: tuple[int, object] = (reply.status, reply.json)
        except OSError as exc:
            answer = (0, repr(exc))
        with lock:
            replies.append(answer)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    return replies


def test_a_reload_storm_is_coalesced_and_every_caller_is_answered(launch: Launch) -> None:
    # A restart lasts longer than the storm takes to arrive (1.5 s of ack delay), so every
    # request lands while the first restart runs: on a busy machine a 0.3 s restart let a
    # slow storm outlast two restarts and legitimately queue a third.
    app = launch(server_kwargs={"slow_ack_above": 1, "slow_ack": 1.5})
    for body, count in (({}, 200), ({"wait": True, "zero_downtime": True}, 60)):
        before = max(e["generation"] for e in app.acked_servers().values())
        replies = _storm(app, count, "/reload", body)
        assert len(replies) == count
        assert {status for status, _ in replies} == {200}, replies[:3]
        settled = wait_until(
            lambda: (
                (s := app.settled(2))
                and {e["generation"] for e in s.values()} != {before}  # noqa: B023 - used at once
                and s
            ),
            what="the reloads to complete",
        )
        # One restart runs at once; all the others joined one queued restart: two at most.
        generations = {e["generation"] for e in settled.values()}
        assert max(generations) - before <= 2, (before, generations)
    assert app.app_pid() in {e["pid"] for e in app.acked_servers().values()}


def test_control_commands_beyond_the_queue_bound_get_429_at_once(launch: Launch) -> None:
    import threading
    import time

    app = launch(server_kwargs={"slow_ack_above": 1, "slow_ack": 2.0})
    slow: list[int] = []
    holder = threading.Thread(
        target=lambda: slow.append(app.call("POST", "/reload", {"wait": True}).status)
    )
    holder.start()
    wait_until(lambda: "(generation 2," in app.log(), what="the slow reload to start")
    started = time.monotonic()
    replies = _storm(app, 24, "/scale", {"replicas": 2})
    holder.join(30)
    refused = [body for status, body in replies if status == 429]
    assert len(refused) == 24 - 16, replies
    assert refused[0]["error"].startswith("Too many control commands are waiting (16)")  # type: ignore[index]
    assert [status for status, _ in replies].count(200) == 16
    assert slow == [200]
    assert time.monotonic() - started < 30
