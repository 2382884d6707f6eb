"""Production hooks of a real manager: systemd notifications, restart reasons and totals,
restart policies of custom processes, recycling."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_systemd import FakeNotifySocket
from wm_helpers import acked_servers, running, wait_until

from hurtle_worker_manager import WorkerManager, bind_tcp
from hurtle_worker_manager.notify import Notifier, monotonic_usec
from hurtle_worker_manager.recycling import RecyclePolicy


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[FakeNotifySocket]:
    fake = FakeNotifySocket(str(tmp_path))
    try:
        yield fake
    finally:
        fake.close()


def test_ready_only_after_every_server_acked_and_serves(notify: FakeNotifySocket) -> None:
    async def scenario() -> None:
        sock = bind_tcp("127.0.0.1", 0)
        manager = WorkerManager(
            "wm_targets:tcp_pid_server",
            workers=3,
            sockets=[sock],
            notifier=Notifier(notify.address),
        )
        task = asyncio.ensure_future(manager.serve())
        try:
            await wait_until(lambda: notify.with_line("READY=1"), what="READY=1")
            # READY is sent after the acks: the state already shows them all.
            assert len(acked_servers(manager)) == 3
            port = sock.getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            pid = int(await asyncio.wait_for(reader.read(100), 5))
            writer.close()
            assert pid in {entry["pid"] for entry in acked_servers(manager).values()}
            lines = [message.lines for message in notify.snapshot()]
            assert lines[0] == ["STATUS=starting the server workers"]
            assert lines[1] == ["READY=1", "STATUS=3 of 3 server workers serving"]
        finally:
            manager.terminate()
            await asyncio.wait_for(task, 30)
            sock.close()
        stopping = notify.wait_for("STOPPING=1")
        assert stopping.fields["STATUS"].startswith("stopping: ")

    asyncio.run(scenario())


def test_reload_is_reloading_then_ready_once_the_new_workers_serve(
    notify: FakeNotifySocket,
) -> None:
    async def scenario() -> None:
        manager = WorkerManager("wm_targets:server", workers=2, notifier=Notifier(notify.address))
        async with running(manager):
            await wait_until(lambda: notify.with_line("READY=1"), what="READY=1")
            before = monotonic_usec()
            reload = asyncio.ensure_future(manager.restart(all_workers=True, zero_downtime=True))
            reloading = await asyncio.to_thread(notify.wait_for, "RELOADING=1")
            assert before <= int(reloading.fields["MONOTONIC_USEC"]) <= monotonic_usec()
            await reload
            again = await asyncio.to_thread(notify.wait_for, "READY=1", count=2)
            assert again.fields["STATUS"] == "2 of 2 server workers serving"
            generations = {e["generation"] for e in acked_servers(manager).values()}
            assert generations == {2}, "READY=1 comes once the new generation serves"
            entries = manager.workers
            assert entries["Hurtle-Server-0-0"]["restarts"] == {"reload": 1}
            assert entries["Hurtle-Server-0-0"]["reason"] == "reload"
            # A named restart is not a reload: no RELOADING=1.
            await manager.restart(["Hurtle-Server-1-0"], zero_downtime=True, wait=True)
            assert len(notify.with_line("RELOADING=1")) == 1
            await wait_until(
                lambda: (
                    manager.workers["Hurtle-Server-1-0"]["restarts"] == {"reload": 1, "restart": 1}
                ),
                what="the restart to be counted",
            )

    asyncio.run(scenario())


def test_watchdog_pings_every_half_interval(notify: FakeNotifySocket) -> None:
    async def scenario() -> None:
        manager = WorkerManager(
            "wm_targets:server",
            workers=1,
            notifier=Notifier(notify.address, watchdog_usec=200_000),
        )
        async with running(manager):
            await wait_until(
                lambda: len(notify.with_line("WATCHDOG=1")) >= 12, what="12 watchdog pings"
            )
        pings = [message.at for message in notify.with_line("WATCHDOG=1")]
        gaps = sorted(b - a for a, b in itertools.pairwise(pings))
        median = gaps[len(gaps) // 2]
        assert 0.07 <= median <= 0.15, gaps

    asyncio.run(scenario())


def test_exits_are_counted_by_reason_and_counters_survive_them() -> None:
    async def scenario() -> None:
        manager = WorkerManager("wm_targets:counting_server", workers=1, respawn_backoff=0.01)
        async with running(manager):
            first = manager.workers["Hurtle-Server-0-0"]
            await wait_until(
                lambda: manager.workers["Hurtle-Server-0-0"].get("count", {}).get("served", 0) > 5,
                what="the worker to count",
            )
            os.kill(first["pid"], signal.SIGKILL)
            await wait_until(
                lambda: (
                    manager.workers["Hurtle-Server-0-0"].get("generation") == 2
                    and manager.workers["Hurtle-Server-0-0"]["state"] == "ACKED"
                ),
                what="the respawn",
            )
            update = manager.state_update()
            assert update.totals["count"]["served"] > 5
            assert "label" not in update.totals["count"], "only numbers are summed"
            entry = manager.workers["Hurtle-Server-0-0"]
            assert entry["restarts"] == {"signal": 1} and entry["reason"] == "signal"
            assert update.phase == "ready"

    asyncio.run(scenario())


def test_restart_policies_of_custom_processes() -> None:
    async def scenario() -> None:
        manager = WorkerManager("wm_targets:server", workers=1, respawn_backoff=0.01)
        manager.manage("Always", "wm_targets:finishing_worker", restart="always")
        manager.manage("OnFailureOk", "wm_targets:finishing_worker", restart="on-failure")
        failing = {"fail_before_ack": True}
        manager.manage("OnFailure", "wm_targets:server", failing, restart="on-failure")
        manager.manage("Never", "wm_targets:server", failing, restart="never")
        async with running(manager):
            await wait_until(
                lambda: (
                    manager.workers["Hurtle-Always-0"]["generation"] >= 3
                    and manager.workers["Hurtle-OnFailure-0"]["generation"] >= 3
                ),
                what="'always' and 'on-failure' (failing) processes to be started again",
            )
            workers = manager.workers
            assert workers["Hurtle-Always-0"]["restarts"]["exit"] >= 2
            assert workers["Hurtle-OnFailure-0"]["restarts"]["exit"] >= 2
            await asyncio.sleep(0)
            ok = await wait_until(
                lambda: (
                    manager.workers["Hurtle-OnFailureOk-0"]
                    if manager.workers["Hurtle-OnFailureOk-0"]["state"] == "COMPLETED"
                    else None
                ),
                what="the clean 'on-failure' process to complete",
            )
            never = await wait_until(
                lambda: (
                    manager.workers["Hurtle-Never-0"]
                    if manager.workers["Hurtle-Never-0"]["state"] == "FAILED"
                    else None
                ),
                what="the 'never' process to fail",
            )
            assert never["exit_code"] == 1 and never["generation"] == 1
            assert ok["generation"] == 1 and ok["exit_code"] == 0

    asyncio.run(scenario())


def test_bad_restart_policy_is_refused() -> None:
    manager = WorkerManager("wm_targets:server", workers=1)
    with pytest.raises(ValueError, match="restart must be"):
        manager.manage("X", "wm_targets:sync_worker", restart="sometimes")


def test_max_requests_recycles_one_worker_at_a_time_without_losing_one() -> None:
    async def scenario() -> None:
        policy = RecyclePolicy(max_requests=15, requests_report=("count", "served"))
        manager = WorkerManager(
            "wm_targets:counting_server",
            workers=2,
            recycling=policy,
            server_kwargs={"step": 0.02},
        )
        manager._production.recycle_interval = 0.1
        async with running(manager):
            low = 2
            most_incoming = 0

            def recycled_twice() -> bool:
                nonlocal low, most_incoming
                table = manager.workers
                current = [e for e in table.values() if e.get("server") and e["current"]]
                serving = sum(1 for e in current if e["state"] == "ACKED")
                low = min(low, serving)
                incoming = sum(
                    1 for n, e in table.items()
                    if not e.get("current", True) and e.get("state") in ("STARTED", "ACKED")
                    and e.get("server")
                    and e.get("generation", 0) > current_generation(table, n)
                )  # fmt: skip
                most_incoming = max(most_incoming, incoming)
                return all(e.get("restarts", {}).get("recycle", 0) >= 2 for e in current)

            await wait_until(recycled_twice, timeout=30, what="each worker recycled twice")
            assert low == 2, "never fewer serving workers than configured"
            assert most_incoming <= 1, "at most one worker recycles at a time"

    asyncio.run(scenario())


def current_generation(table: dict[str, dict[str, object]], key: str) -> int:
    entry = table.get(key.split("#", 1)[0], {})
    value = entry.get("generation", 0)
    return value if isinstance(value, int) else 0


def test_notifier_from_environ_is_the_default(
    notify: FakeNotifySocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", notify.address)

    async def scenario() -> None:
        manager = WorkerManager("wm_targets:server", workers=1)
        assert "NOTIFY_SOCKET" not in os.environ, "workers must not inherit it"
        async with running(manager):
            await wait_until(lambda: notify.with_line("READY=1"), what="READY=1")

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("policy", "reason"),
    [
        (RecyclePolicy(max_lifetime=0.5, max_lifetime_jitter=0.2), "max_lifetime"),
        (RecyclePolicy(max_rss=1024 * 1024, rss_samples=2), "max_rss"),  # always over 1 MiB
    ],
)
def test_lifetime_and_rss_limits_recycle(
    policy: RecyclePolicy, reason: str, manager_log: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        manager = WorkerManager("wm_targets:server", workers=1, recycling=policy)
        manager._production.recycle_interval = 0.1
        async with running(manager):
            await wait_until(
                lambda: (
                    manager.workers["Hurtle-Server-0-0"]["generation"] >= 2
                    and manager.workers["Hurtle-Server-0-0"]["state"] == "ACKED"
                ),
                what=f"a recycle by {reason}",
            )
            entry = manager.workers["Hurtle-Server-0-0"]
            assert entry["reason"] == "recycle" and entry["restarts"]["recycle"] >= 1

    asyncio.run(scenario())
    assert f"{reason} reached" in manager_log.text
