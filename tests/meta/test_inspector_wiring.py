"""The inspector starts and stops with the app, as the managed process Hurtle-Inspector-0."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

import pytest
from meta_helpers import run_to_exit, served, wait_until

ENV = {"HURTLE_INSPECTOR_HOST": "127.0.0.1", "HURTLE_INSPECTOR_PORT": "0"}


def call(port: int, method: str, path: str, body: object = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        payload = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=payload)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


@pytest.mark.parametrize("start_method", ["spawn", "fork", "forkserver"])
def test_the_inspector_runs_with_the_app_and_steers_it(tmp_path: Path, start_method: str) -> None:
    args = (f"--{start_method}",) if start_method != "spawn" else ()
    with served("inspected.py", *args, tmp_path=tmp_path, env=ENV) as server:
        port = int(server.wait_log(r"Inspector listening on http://127\.0\.0\.1:(\d+)").group(1))
        status, info = wait_until(
            lambda: (r := call(port, "GET", "/"))[0] == 200 and r, what="the inspector's info"
        )
        assert info["meta"] == {"action": "info"}
        assert info["result"]["info"]["app"] == "inspected"
        workers = info["result"]["workers"]
        assert workers["Hurtle-Inspector-0"]["server"] is False
        assert {"Hurtle-Main", "Hurtle-Server-0-0", "Hurtle-Server-1-0"} <= set(workers)

        status, scaled = call(port, "POST", "/scale", {"replicas": 3, "wait": True})
        assert status == 200, scaled
        assert len(scaled["result"]["workers"]) == 3
        server.wait_acked(3)

        status, echoed = call(port, "POST", "/echo", {"args": ["one", "two"], "four": True})
        assert status == 200, echoed
        assert echoed["result"] == {"args": ["one", "two"], "kwargs": {"four": True}}

        status, _ = call(port, "POST", "/shutdown")
        assert status == 200
        assert server.process.wait(30) == 0


def test_an_inspector_port_in_use_stops_the_start(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = {**ENV, "HURTLE_INSPECTOR_PORT": str(taken.getsockname()[1])}
        code, log, _ = run_to_exit("inspected.py", "--port", "0", tmp_path=tmp_path, env=env)
    assert code == 1, log
    assert "The inspector's address 127.0.0.1:" in log and "already in use" in log


def test_half_a_tls_setting_for_the_inspector_is_a_startup_error(tmp_path: Path) -> None:
    env = {**ENV, "HURTLE_INSPECTOR_TLS_CERT": str(tmp_path / "cert.pem")}
    code, log, _ = run_to_exit("inspected.py", "--port", "0", tmp_path=tmp_path, env=env)
    assert code == 1, log
    assert "could not start: inspector:" in log
    assert "Traceback" not in log


@pytest.mark.parametrize("key", ["clé-secrète", "key with space", "ключ"])
def test_an_api_key_no_client_can_send_is_a_startup_error(tmp_path: Path, key: str) -> None:
    env = {**ENV, "HURTLE_INSPECTOR_API_KEY": key}
    code, log, _ = run_to_exit("inspected.py", "--port", "0", tmp_path=tmp_path, env=env)
    assert code == 1, log
    assert "could not start: inspector: INSPECTOR_API_KEY has a " in log, log
    assert "only visible ASCII characters can travel" in log
    assert key not in log, "the key is a secret: the message never shows it"
    assert "Traceback" not in log


def _ask(port: int, method: str, path: str, body: object = None) -> tuple[int, Any] | str:
    """One request with a 3 s deadline: (status, body), or what went wrong instead."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    try:
        payload = None if body is None else json.dumps(body).encode()
        conn.request(method, path, body=payload)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    except TimeoutError:
        return "hung"
    except OSError as exc:
        return type(exc).__name__
    finally:
        conn.close()


def test_a_killed_inspector_is_respawned_and_its_port_never_hangs(tmp_path: Path) -> None:
    import os
    import signal
    import time

    with served("inspected.py", tmp_path=tmp_path, env=ENV) as server:
        port = int(server.wait_log(r"Inspector listening on http://127\.0\.0\.1:(\d+)").group(1))
        first = wait_until(
            lambda: (
                (r := call(port, "GET", "/"))[0] == 200
                and r[1]["result"]["workers"]["Hurtle-Inspector-0"]["pid"]
            ),
            what="the inspector's pid",
        )
        os.kill(first, signal.SIGKILL)
        answers = []
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:  # probe all through the outage
            answer = _ask(port, "GET", "/health")
            answers.append(answer)
            assert answer != "hung", f"no answer within 3 s: {answers[-3:]}\n{server.log()}"
            time.sleep(0.01)
        down = [a for a in answers if isinstance(a, tuple) and a[0] == 503]
        assert down, f"no 503 while the inspector was down: {answers}"
        assert down[0][1] == {
            "meta": {"action": "health"},
            "error": "The inspector is restarting: retry in a moment",
        }
        assert all(a in ("ConnectionRefusedError",) or a[0] in (200, 503) for a in answers)
        second = wait_until(
            lambda: (
                (r := call(port, "GET", "/"))[0] == 200
                and r[1]["result"]["workers"]["Hurtle-Inspector-0"]["pid"] != first
                and r[1]["result"]["workers"]["Hurtle-Inspector-0"]["state"] == "ACKED"
                and r[1]["result"]["workers"]["Hurtle-Inspector-0"]
            ),
            what="a respawned inspector",
        )
        assert second["starts"] == 2
        assert "Respawning Hurtle-Inspector-0 in 0.10 s" in server.log()
        # The stand-in stepped aside before the new inspector took the port: the first
        # command after the respawn reaches the inspector.
        status, scaled = call(port, "POST", "/scale", {"replicas": 3, "wait": True})
        assert status == 200, scaled
        assert "The inspector answers its port again" in server.log()


@pytest.mark.parametrize("delay", [0.005, 0.01, 0.015])
def test_a_command_just_after_shutdown_gets_the_documented_409(
    tmp_path: Path, delay: float
) -> None:
    """While the server shuts down, a command gets the documented 409, never a reset.

    The app lingers 1 s in ``main_process_stop`` so that every delay lands in the shutdown.
    """
    import threading
    import time

    env = {**ENV, "TEST_STOP_DELAY": "1"}
    with served("inspected.py", tmp_path=tmp_path, env=env) as server:
        port = int(server.wait_log(r"Inspector listening on http://127\.0\.0\.1:(\d+)").group(1))
        wait_until(lambda: call(port, "GET", "/health")[0] == 200, what="the inspector")
        late: list[object] = []

        def scale_soon() -> None:
            time.sleep(delay)
            late.append(_ask(port, "POST", "/scale", {"replicas": 3}))

        thread = threading.Thread(target=scale_soon)
        thread.start()
        status, _ = call(port, "POST", "/shutdown")
        thread.join(10)
        assert status == 200
        assert late and isinstance(late[0], tuple), late
        assert late[0][0] == 409, late
        assert late[0][1]["error"] == "The manager refused: The server is shutting down"
        assert server.process.wait(30) == 0


def test_once_the_server_is_gone_its_inspector_port_refuses(tmp_path: Path) -> None:
    """After a shutdown the port refuses: queued requests were answered, none reset."""
    with served("inspected.py", tmp_path=tmp_path, env=ENV) as server:
        port = int(server.wait_log(r"Inspector listening on http://127\.0\.0\.1:(\d+)").group(1))
        wait_until(lambda: call(port, "GET", "/health")[0] == 200, what="the inspector")
        assert call(port, "POST", "/shutdown")[0] == 200
        outcomes = []
        while server.process.poll() is None:
            outcomes.append(_ask(port, "POST", "/scale", {"replicas": 3}))
        assert server.process.wait(30) == 0
    outcomes.append(_ask(port, "POST", "/scale", {"replicas": 3}))
    assert outcomes[-1] == "ConnectionRefusedError", outcomes[-5:]
    wrong = [
        o
        for o in outcomes
        if o != "ConnectionRefusedError" and not (isinstance(o, tuple) and o[0] in (409, 503))
    ]
    assert not wrong, wrong
