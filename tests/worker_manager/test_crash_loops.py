"""Crash loops at run time: the failing slot backs off and is marked failed; its siblings serve.

At start-up a crash stops the server (``test_lifecycle``). Once every server acked, a slot
whose replacements keep dying before their ack no longer stops the service (issue 16
item 5): it is marked failed in the state and the log, retried at the capped backoff, and
recovers when an instance starts; a worker that served for a stable period starts its
backoff over.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
from pathlib import Path

import pytest
from wm_helpers import acked_servers, running, wait_until

from hurtle_worker_manager import WorkerManager


def test_a_run_time_crash_loop_marks_the_slot_failed_and_the_siblings_serve_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    flag = tmp_path / "fail"
    flag.touch()

    async def scenario() -> None:
        manager = WorkerManager(
            "wm_targets:server",
            workers=2,
            server_kwargs={"fail_while_exists": str(flag)},
            respawn_backoff=0.02,
            respawn_backoff_max=0.2,
            crash_loop_limit=3,
        )
        async with running(manager) as serving:
            sibling = manager.workers["Hurtle-Server-0-0"]["pid"]
            os.kill(manager.workers["Hurtle-Server-1-0"]["pid"], signal.SIGKILL)
            failed = await wait_until(
                lambda: manager.workers["Hurtle-Server-1-0"].get("failed"),
                what=lambda: f"Hurtle-Server-1-0 marked failed: {manager.workers}",
            )
            assert "died 3 times in a row before it was ready" in failed
            assert "refuses to start while the flag exists" in failed
            # It keeps being retried at the capped delay, and the service stays up.
            starts = manager.workers["Hurtle-Server-1-0"]["starts"]
            await wait_until(
                lambda: manager.workers["Hurtle-Server-1-0"]["starts"] >= starts + 3,
                what="more retries of the failed slot",
            )
            assert not serving.done(), "a run-time crash loop stopped the manager"
            assert manager.workers["Hurtle-Server-1-0"].get("failed")
            assert manager.workers["Hurtle-Server-1-0"]["state"] in ("FAILED", "STARTED")
            assert acked_servers(manager)["Hurtle-Server-0-0"]["pid"] == sibling
            # The cause goes away: the next retry starts, and the mark is cleared.
            flag.unlink()
            entry = await wait_until(
                lambda: (
                    "Hurtle-Server-1-0" in acked_servers(manager)
                    and manager.workers["Hurtle-Server-1-0"]
                ),
                what=lambda: f"Hurtle-Server-1-0 to recover: {manager.workers}",
            )
            assert "failed" not in entry
            assert not serving.done()

    with caplog.at_level(logging.INFO, logger="hurtle.manager"):
        asyncio.run(scenario())
    failed_lines = [r.getMessage() for r in caplog.records if " is FAILED: " in r.getMessage()]
    assert len(failed_lines) == 1, failed_lines
    assert failed_lines[0].startswith("Hurtle-Server-1-0 is FAILED: it died 3 times in a row")
    assert "The other workers keep serving" in failed_lines[0]
    assert any("Hurtle-Server-1-0 recovered" in r.getMessage() for r in caplog.records)
    delays = [
        float(m.group(1))
        for r in caplog.records
        if (m := re.match(r"Respawning Hurtle-Server-1-0 in ([\d.]+) s", r.getMessage()))
    ]
    assert max(delays) == pytest.approx(0.2), f"the backoff is capped: {delays}"


def test_the_backoff_starts_over_once_a_worker_served_for_a_stable_period(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        manager = WorkerManager(
            "wm_targets:server",
            workers=1,
            respawn_backoff=0.05,
            respawn_backoff_max=5.0,
            respawn_stable_after=0.5,
        )
        async with running(manager):
            for kill in range(4):
                entry = await wait_until(
                    lambda: acked_servers(manager).get("Hurtle-Server-0-0"),
                    what=f"the worker to serve before kill {kill}",
                )
                if kill == 3:
                    await asyncio.sleep(0.7)  # served longer than respawn_stable_after
                os.kill(entry["pid"], signal.SIGKILL)
                await wait_until(
                    lambda pid=entry["pid"]: manager.workers["Hurtle-Server-0-0"]["pid"] != pid,
                    what="the replacement",
                )

    with caplog.at_level(logging.INFO, logger="hurtle.manager"):
        asyncio.run(scenario())
    delays = [
        float(m.group(1))
        for r in caplog.records
        if (m := re.match(r"Respawning Hurtle-Server-0-0 in ([\d.]+) s", r.getMessage()))
    ]
    # Killed at once three times: 0.05, 0.1, 0.2; then it served 0.7 s: back to 0.05.
    assert delays == [0.05, 0.1, 0.2, 0.05], delays


def test_a_restart_storm_is_coalesced_and_the_queue_is_bounded() -> None:
    from hurtle_worker_manager import CommandError
    from hurtle_worker_manager.operations import MAX_QUEUED

    async def scenario() -> None:
        manager = WorkerManager("wm_targets:server", workers=2)
        async with running(manager):
            results = await asyncio.gather(
                *(manager.restart(all_workers=True, wait=True) for _ in range(200)),
                return_exceptions=True,
            )
            assert all(not isinstance(r, BaseException) for r in results), results[:3]
            assert {tuple(r.restarted) for r in results} == {  # type: ignore[union-attr]
                ("Hurtle-Server-0-0", "Hurtle-Server-1-0")
            }
            generations = {e["generation"] for e in acked_servers(manager).values()}
            # One restart ran at once, the 199 others joined one queued restart.
            assert generations <= {2, 3}, generations

            # Distinct operations (scales are never joined) wait in a bounded queue.
            outcomes = await asyncio.gather(
                *(manager.scale(2) for _ in range(MAX_QUEUED + 8)), return_exceptions=True
            )
            refused = [o for o in outcomes if isinstance(o, CommandError)]
            assert len(refused) == 8, outcomes
            assert "Too many control operations are queued" in str(refused[0])

    asyncio.run(scenario())
