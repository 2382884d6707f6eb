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
    assert ready.json["result"] == "degraded: Hurtle-Server-1-0 failed (crash loop)"

    stats = app.call("POST", "/stats")
    assert stats.status == 200, stats
    assert stats.json["result"]["workers"]["Hurtle-Server-1-0"]["failed"].startswith("crash loop")
    assert stats.json["result"]["workers"]["Hurtle-Server-0-0"]["failed"] is None

    assert app.process.poll() is None, "the service keeps running"
    assert app.app_pid() == sibling
    assert "Hurtle-Server-1-0 is FAILED: it died 3 times in a row" in app.log

    flag.unlink()
    wait_until(lambda: app.settled(2), what="the failed slot to recover")
    assert app.call("GET", "/ready").json["result"] == "ready"
