"""API key authentication and TLS, on real apps (the TLS one runs under spawn)."""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Callable

import pytest
from insp_helpers import RunningApp, raw_exchange

Launch = Callable[..., RunningApp]
KEY = "Super-Secret-200"


def _refused(reply: object) -> None:
    assert reply.status == 401, reply  # type: ignore[attr-defined]
    assert reply.headers["www-authenticate"].startswith("Bearer")  # type: ignore[attr-defined]
    assert "Missing or wrong API key" in reply.json["error"]  # type: ignore[attr-defined]
    assert "result" not in reply.json  # type: ignore[attr-defined]


def test_api_key_is_required_except_for_the_probes(launch: Launch) -> None:
    app = launch(config={"INSPECTOR_API_KEY": KEY})
    assert app.call("GET", "/").status == 200
    assert app.call("POST", "/stats").status == 200
    assert app.call("GET", "/", headers={"Authorization": f"bearer {KEY}"}).status == 200
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Bearer Super-Secret-20"},
        {"Authorization": f"Bearer {KEY}x"},
        {"Authorization": KEY},
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": "Bearer \u00e9t\u00e9"},
    ):
        for method, path in (("GET", "/"), ("POST", "/reload"), ("POST", "/shutdown")):
            _refused(app.call(method, path, headers=headers, auth=False))
    # Without the key nothing is revealed, not even which commands exist.
    _refused(app.call("POST", "/__dir__", auth=False))
    _refused(app.call("POST", "/nope", auth=False))
    assert app.call("POST", "/nope").status == 404
    health = app.call("GET", "/health", auth=False)
    assert (health.status, health.json) == (200, {"meta": {"action": "health"}, "result": "ok"})
    ready = app.call("GET", "/ready", auth=False)
    assert (ready.status, ready.json) == (200, {"meta": {"action": "ready"}, "result": "ready"})
    assert app.settled(2)  # the refused shutdowns and reloads did nothing


def test_tls_with_api_key_under_spawn(launch: Launch, certificate: tuple[str, str]) -> None:
    cert, key = certificate
    app = launch(
        start_method="spawn",
        config={"INSPECTOR_TLS_CERT": cert, "INSPECTOR_TLS_KEY": key, "INSPECTOR_API_KEY": KEY},
        inspector_class="insp_targets:CustomInspector",
    )
    info = app.info()
    assert info["info"]["app"] == "ProbeApp"
    assert info["workers"]["Hurtle-Inspector-0"]["server"] is False
    echo = app.call("POST", "/hello", {"args": ["one", "two", "three"], "six": "6"})
    assert echo.json["result"] == {"args": ["one", "two", "three"], "kwargs": {"six": "6"}}
    _refused(app.call("GET", "/", auth=False))
    assert f"Inspector listening on https://127.0.0.1:{app.inspector_port}" in app.log
    # Plain HTTP to the TLS port gets no HTTP answer; an untrusting client refuses the cert.
    assert not raw_exchange(app.inspector_port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").startswith(
        b"HTTP/"
    )
    untrusting = http.client.HTTPSConnection(
        "127.0.0.1", app.inspector_port, timeout=5, context=ssl.create_default_context()
    )
    with pytest.raises(ssl.SSLCertVerificationError):
        untrusting.request("GET", "/health")
    untrusting.close()
    assert app.call("GET", "/health").status == 200
