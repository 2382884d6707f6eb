"""The systemd notification protocol against a fake notify socket (no systemd needed)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_systemd import FakeNotifySocket

from hurtle_worker_manager.notify import Notifier, monotonic_usec


@pytest.fixture(params=["path", "abstract"])
def notify_socket(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FakeNotifySocket]:
    fake = FakeNotifySocket(str(tmp_path), abstract=request.param == "abstract")
    try:
        yield fake
    finally:
        fake.close()


def test_ready_reloading_stopping_reach_the_socket(notify_socket: FakeNotifySocket) -> None:
    notifier = Notifier(notify_socket.address)
    before = monotonic_usec()
    assert notifier.ready("2 of 2 server workers serving")
    assert notifier.reloading("reloading")
    assert notifier.stopping()
    notify_socket.wait_for("STOPPING=1")
    first, second, third = notify_socket.snapshot()
    assert first.lines == ["READY=1", "STATUS=2 of 2 server workers serving"]
    assert second.has("RELOADING=1")
    usec = int(second.fields["MONOTONIC_USEC"])
    assert before <= usec <= monotonic_usec()
    assert third.lines == ["STOPPING=1"]
    notifier.close()


def test_status_line_never_splits_a_message(notify_socket: FakeNotifySocket) -> None:
    notifier = Notifier(notify_socket.address)
    notifier.status("one\nREADY=1")
    message = notify_socket.wait_for("STATUS=one READY=1")
    assert not message.has("READY=1")
    notifier.close()


def test_watchdog_only_when_asked(notify_socket: FakeNotifySocket) -> None:
    assert not Notifier(notify_socket.address).watchdog()
    notifier = Notifier(notify_socket.address, watchdog_usec=3_000_000)
    assert notifier.watchdog_interval == 1.5
    assert notifier.watchdog()
    notify_socket.wait_for("WATCHDOG=1")
    notifier.close()


def test_from_environ_reads_and_unsets_the_variables(notify_socket: FakeNotifySocket) -> None:
    env = {
        "NOTIFY_SOCKET": notify_socket.address,
        "WATCHDOG_USEC": "2000000",
        "WATCHDOG_PID": str(os.getpid()),
        "OTHER": "kept",
    }
    notifier = Notifier.from_environ(env)
    assert env == {"OTHER": "kept"}
    assert notifier.enabled
    assert notifier.watchdog_interval == 1.0


def test_watchdog_of_another_pid_is_not_ours(notify_socket: FakeNotifySocket) -> None:
    env = {
        "NOTIFY_SOCKET": notify_socket.address,
        "WATCHDOG_USEC": "2000000",
        "WATCHDOG_PID": str(os.getpid() + 1),
    }
    notifier = Notifier.from_environ(env, unset=False)
    assert notifier.watchdog_interval is None
    assert not notifier.watchdog()
    assert len(env) == 3


def test_without_a_socket_nothing_is_sent() -> None:
    notifier = Notifier.from_environ({})
    assert not notifier.enabled
    assert not notifier.ready()
    assert notifier.watchdog_interval is None


def test_a_vanished_service_manager_is_logged_once_never_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier(str(tmp_path / "gone.sock"))
    assert not notifier.ready()
    assert not notifier.stopping()
    warnings = [r for r in caplog.records if "Cannot notify" in r.getMessage()]
    assert len(warnings) == 1
    notifier.close()


def test_monotonic_usec_is_the_monotonic_clock() -> None:
    assert abs(monotonic_usec() / 1e6 - time.clock_gettime(time.CLOCK_MONOTONIC)) < 0.5
