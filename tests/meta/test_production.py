"""Production plumbing end to end: recycling under load, /ready and /metrics on the
inspector during a drain and across restarts, systemd notifications, PID 1 reaping."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_systemd import FakeNotifySocket
from meta_helpers import APPS, Server, served, wait_until
from prometheus_client.parser import text_string_to_metric_families

FAST_REPORTS = {"HURTLE_STATS_REPORT_INTERVAL": "0.05"}


def inspector_env() -> dict[str, str]:
    return {
        "HURTLE_INSPECTOR": "true",
        "HURTLE_INSPECTOR_HOST": "127.0.0.1",
        "HURTLE_INSPECTOR_PORT": "0",
    }


def inspector_port(server: Server) -> int:
    return int(server.wait_log(r"Inspector listening on http://127\.0\.0\.1:(\d+)").group(1))


def get(port: int, path: str, method: str = "GET", timeout: float = 10) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, headers={"Connection": "close"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def serving_servers(server: Server) -> int:
    return len(server.acked_servers())


def requests_total(port: int) -> float:
    status, body = get(port, "/metrics")
    assert status == 200, body
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == "hurtle_requests_total":
                return sample.value
    raise AssertionError(f"no hurtle_requests_total in {body!r}")


def test_max_requests_recycles_under_a_client_loop_with_no_failed_request(
    tmp_path: Path,
) -> None:
    with served(
        "production.py", "--max-requests", "25", tmp_path=tmp_path, env=FAST_REPORTS
    ) as server:
        server.wait_acked(2)
        pids: set[int] = set()
        failures = []
        lowest = 2
        deadline = time.monotonic() + 60
        sent = 0
        while len(pids) < 6 and time.monotonic() < deadline:
            try:
                status, body = server.request("/")
                if status != 200:
                    failures.append((status, body))
                else:
                    pids.add(int(re.search(rb'"pid":(\d+)', body).group(1)))  # type: ignore[union-attr]
            except OSError as exc:
                failures.append(("error", str(exc)))
            sent += 1
            if sent % 10 == 0:
                lowest = min(lowest, serving_servers(server))
        assert not failures, failures
        assert len(pids) >= 6, f"only {len(pids)} worker pids seen in {sent} requests"
        assert lowest == 2, "never fewer serving workers than configured"
        workers = server.get_json("/workers")
        recycled = sum(e.get("restarts", {}).get("recycle", 0) for e in workers.values())
        assert recycled >= 4, workers
    assert "Recycling Hurtle-Server-" in server.log()


def test_max_requests_from_the_environment(tmp_path: Path) -> None:
    env = {**FAST_REPORTS, "HURTLE_MAX_REQUESTS": "10"}
    with served("production.py", "--workers", "1", tmp_path=tmp_path, env=env) as server:
        first = server.get_json("/")["pid"]
        wait_until(lambda: server.get_json("/")["pid"] != first, what="the worker to be recycled")


def in_flight(server: Server) -> int:
    workers = server.get_json("/workers")
    return sum(e.get("http", {}).get("in_flight", 0) for e in workers.values())


def test_ready_turns_503_on_sigterm_while_a_slow_request_finishes(tmp_path: Path) -> None:
    with served(
        "production.py",
        "--pre-stop-delay",
        "1.0",
        tmp_path=tmp_path,
        env={**inspector_env(), **FAST_REPORTS},
    ) as server:
        port = inspector_port(server)
        server.wait_acked(2)
        wait_until(lambda: get(port, "/ready")[0] == 200, what="/ready 200")
        slow: list[object] = []
        thread = threading.Thread(target=lambda: slow.append(server.request("/slow/2500")))
        thread.start()
        wait_until(lambda: in_flight(server) >= 1, what="the slow request to reach a worker")
        sent = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        wait_until(lambda: get(port, "/ready")[0] == 503, what="/ready 503", interval=0.01)
        flipped = time.monotonic() - sent
        assert flipped < 0.5, f"/ready turned 503 only {flipped:.3f} s after SIGTERM"
        assert server.request("/")[0] == 200, "the pre-stop delay still serves new requests"
        assert get(port, "/health")[0] == 200
        thread.join(15)
        assert slow == [(200, b"done")], "the in-flight request finished"
        assert server.process.wait(30) == 0


def test_metrics_totals_survive_a_reload(tmp_path: Path) -> None:
    env = {**inspector_env(), **FAST_REPORTS}
    with served("production.py", tmp_path=tmp_path, env=env) as server:
        port = inspector_port(server)
        server.wait_acked(2)
        for _ in range(20):
            assert server.request("/slow/1")[0] == 200
        wait_until(lambda: requests_total(port) >= 20, what="20 requests counted")
        before = requests_total(port)
        status, body = get(port, "/reload", method="POST", timeout=30)
        assert status == 200, body
        wait_until(
            lambda: {e.get("generation") for e in server.get_json("/workers").values()
                     if e.get("server") and e.get("current", True)} == {2},
            what="the new generation",
        )  # fmt: skip
        for _ in range(5):
            assert server.request("/slow/1")[0] == 200
        # Every request sent so far: the 20, the 5, and the /workers reads, old and new.
        wait_until(lambda: requests_total(port) >= before + 5, what="totals after the reload")


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[FakeNotifySocket]:
    fake = FakeNotifySocket(str(tmp_path))
    try:
        yield fake
    finally:
        fake.close()


def test_systemd_ready_reload_stop_and_watchdog(tmp_path: Path, notify: FakeNotifySocket) -> None:
    env = {"NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": "400000"}
    with served("production.py", tmp_path=tmp_path, env=env, ready=False) as server:
        notify.wait_for("READY=1")
        assert server.request("/")[0] == 200, "a request sent when READY arrives succeeds"
        ready = notify.with_line("READY=1")[0]
        assert ready.fields["STATUS"] == "2 of 2 server workers serving"
        first = {server.get_json("/")["pid"] for _ in range(4)}
        server.process.send_signal(signal.SIGHUP)
        notify.wait_for("RELOADING=1")
        notify.wait_for("READY=1", count=2)
        wait_until(  # the state reaches the workers a few ms after the manager's READY
            lambda: all(
                e["generation"] == 2
                for e in server.get_json("/workers").values()
                if e.get("server") and e.get("current", True)
            ),
            what="every current server worker of generation 2",
        )
        assert server.get_json("/")["pid"] not in first
        wait_until(lambda: len(notify.with_line("WATCHDOG=1")) >= 5, what="5 watchdog pings")
        for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC"):
            assert name.encode() not in _environ(server.get_json("/")["pid"])
        assert server.stop() == 0
    notify.wait_for("STOPPING=1")


def _environ(pid: int) -> bytes:
    with open(f"/proc/{pid}/environ", "rb") as environ:
        return environ.read()


def _unshare_allowed() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True, timeout=10
    )
    return probe.returncode == 0


def test_pid1_reaps_orphans_and_stops_on_sigterm(tmp_path: Path) -> None:
    if not _unshare_allowed():
        pytest.skip("this machine does not allow 'unshare --pid --fork --mount-proc'")
    log_path = tmp_path / "pid1.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "ORPHANS": "4", "PYTHONPATH": str(APPS)}
    with open(log_path, "wb") as log:
        outer = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--mount-proc", sys.executable,
             str(APPS / "production.py"), "--port", "0", "--workers", "1"],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(tmp_path),
        )  # fmt: skip
    try:

        def text() -> str:
            return log_path.read_text(errors="replace")

        wait_until(lambda: "made 4 orphans" in text(), what=lambda: f"the orphans:\n{text()}")
        wait_until(
            lambda: text().count("Reaped orphan process") >= 4,
            what=lambda: f"4 orphans reaped:\n{text()}",
        )
        init = _namespace_init(outer.pid)
        assert init is not None
        zombies = [pid for pid in _children(init) if _state(pid) == "Z"]
        assert not zombies, f"zombies left under PID 1: {zombies}"
        os.kill(init, signal.SIGTERM)  # PID 1 only gets the signals it handles
        assert outer.wait(30) == 0, text()
        assert "Hurtle-Main" in text() and "Stopping" in text()
    finally:
        if outer.poll() is None:
            outer.kill()
            outer.wait()


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except OSError:
                pass
    return found


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def _namespace_init(unshare_pid: int) -> int | None:
    """The host pid of the namespace's PID 1 (unshare's child)."""
    children = _children(unshare_pid)
    return children[0] if children else None
