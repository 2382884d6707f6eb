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


@pytest.mark.parametrize("start_method", ["spawn", "fork"])
def test_the_inspector_runs_with_the_app_and_steers_it(tmp_path: Path, start_method: str) -> None:
    args = ("--fork",) if start_method == "fork" else ()
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
