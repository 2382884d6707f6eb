"""Reload, scale-down and shutdown of an ASGI app under a client loop.

The probe app runs with 2 workers and the inspector. A client thread sends requests
without pause through all of it: none may fail. Open WebSockets are closed by their
worker with 1012 (service restart) on a reload or a scale-down, and with 1001 (going
away) on shutdown; a request in flight when the shutdown starts still gets its answer.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
from asgi_helpers import Served, served
from testkit import alive, wait_until

pytestmark = pytest.mark.slow

INSPECTOR = re.compile(r"Inspector (?:listening )?on (https?)://([\d.]+|localhost):(\d+)")
ENV = {
    "HURTLE_INSPECTOR_HOST": "127.0.0.1",
    "HURTLE_INSPECTOR_PORT": "0",
    "HURTLE_GRACEFUL_SHUTDOWN_TIMEOUT": "5",
}


class ClientLoop(threading.Thread):
    """Requests back to back (a fresh connection every few), counting failures."""

    def __init__(self, server: Served) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.halt = threading.Event()
        self.ok = 0
        self.failures: list[str] = []

    def run(self) -> None:
        while not self.halt.is_set():
            conn = http.client.HTTPConnection(self.server.host, self.server.port, timeout=10)
            try:
                for _ in range(5):
                    conn.request("GET", "/sleep?s=0.01")
                    response = conn.getresponse()
                    body = response.read()
                    if response.status != 200:
                        self.failures.append(f"{response.status} {body[:100]!r}")
                    else:
                        self.ok += 1
                    if response.getheader("connection", "").lower() == "close":
                        break
            except (OSError, http.client.HTTPException) as exc:
                self.failures.append(repr(exc))
            finally:
                conn.close()

    def stop(self) -> None:
        self.halt.set()
        self.join(30)


def inspector(port: int, command: str, body: dict[str, Any]) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", f"/{command}", body=json.dumps(body).encode())
        response = conn.getresponse()
        result = json.loads(response.read())
        assert response.status == 200, result
        return result["result"]
    finally:
        conn.close()


def open_sockets(
    stack: contextlib.ExitStack, server: Served, pids: set[int]
) -> dict[int, list[Any]]:
    """WebSockets to /ws until every worker in ``pids`` holds at least one (by its pid);
    ``stack`` closes them at the end of the test."""
    from websockets.sync.client import connect

    by_pid: dict[int, list[Any]] = {}

    def one_more() -> bool:
        ws = stack.enter_context(connect(server.ws_url("/ws"), open_timeout=10))
        ws.send("pid")
        by_pid.setdefault(int(ws.recv(timeout=10)), []).append(ws)
        return pids <= set(by_pid)

    wait_until(one_more, what=f"a WebSocket on each of {pids}", timeout=30)
    return by_pid


def close_code(ws: Any, timeout: float = 20.0) -> int | None:
    """Wait until the server closes ``ws``; the code it sent."""
    from websockets.exceptions import ConnectionClosed

    try:
        while True:
            ws.recv(timeout=timeout)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None
    except TimeoutError:
        return -1


def still_echoes(ws: Any) -> bool:
    ws.send("still there?")
    return ws.recv(timeout=10) == "still there?"


def test_reload_scale_and_shutdown_under_load(tmp_path: Path) -> None:
    with (
        served("probe:app", "--workers", "2", "--inspector", tmp_path=tmp_path, env=ENV) as s,
        contextlib.ExitStack() as stack,
    ):
        port = int(s.wait_log(INSPECTOR.pattern).group(3))
        first = {s.json("/pid")["pid"] for _ in range(30)}
        loop = ClientLoop(s)
        loop.start()
        try:
            wait_until(lambda: loop.ok >= 25, what="the client loop under way")
            sockets = open_sockets(stack, s, first)

            inspector(port, "reload", {"zero_downtime": True})
            codes = [close_code(ws) for group in sockets.values() for ws in group]
            assert codes == [1012] * len(codes), codes
            wait_until(
                lambda: not any(alive(pid) for pid in first),
                what="the old workers to exit",
                timeout=30,
            )

            second = set()
            wait_until(
                lambda: second.update({s.json("/pid")["pid"]}) or len(second) == 2,
                what="both new workers answering",
            )
            assert not second & first
            sockets = open_sockets(stack, s, second)
            inspector(port, "scale", {"replicas": 1})
            wait_until(
                lambda: sum(alive(pid) for pid in second) == 1, what="one worker left after scaling"
            )
            (gone,) = {pid for pid in second if not alive(pid)}
            (kept,) = second - {gone}
            assert [close_code(ws) for ws in sockets[gone]] == [1012] * len(sockets[gone])
            assert all(still_echoes(ws) for ws in sockets[kept])
            # the reload and the scale-down can outpace the loop (forkserver restarts in
            # tens of ms): it goes on until the remaining worker served more of it
            after = loop.ok
            wait_until(lambda: loop.ok >= after + 25, what="the client loop after the scaling")
        finally:
            loop.stop()
        assert loop.failures == [], loop.failures[:10]
        assert loop.ok >= 50, loop.ok

        in_flight: dict[str, Any] = {}

        def slow_request() -> None:
            conn = http.client.HTTPConnection(s.host, s.port, timeout=20)
            try:
                conn.request("GET", "/sleep?s=1.0")
                response = conn.getresponse()
                in_flight["answer"] = (response.status, json.loads(response.read()))
            except Exception as exc:  # the assertion below shows it
                in_flight["answer"] = repr(exc)
            finally:
                conn.close()

        slow = threading.Thread(target=slow_request)
        slow.start()
        wait_until(lambda: s.json("/sleeping")["sleeping"] == 1, what="the slow request in flight")
        codes_at_shutdown: list[int | None] = []
        closer = threading.Thread(
            target=lambda: codes_at_shutdown.extend(close_code(ws) for ws in sockets[kept])
        )
        closer.start()
        s.workers()  # remembered, so that stop() checks they are gone
        s.process.send_signal(signal.SIGTERM)  # once: a second one would kill what drains
        slow.join(30)
        closer.join(30)
        assert s.process.wait(30) == 0, s.log()[-3000:]
        assert s.stop() == 0
        assert codes_at_shutdown == [1001] * len(sockets[kept]), codes_at_shutdown
        assert in_flight["answer"] == (200, {"slept": True, "pid": kept}), in_flight
