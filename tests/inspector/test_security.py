"""API key authentication and TLS, on real apps (the TLS one runs under spawn)."""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
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
    assert f"Inspector listening on https://127.0.0.1:{app.inspector_port}" in app.log()
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


def _inspector_rss(app: RunningApp) -> int:
    pid = app.info()["workers"]["Hurtle-Inspector-0"]["pid"]
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for the inspector {pid}")


def _unauthenticated_upload(port: int, size: int, replies: list[bytes]) -> None:
    head = b"POST /reload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size
    replies.append(raw_exchange(port, head + b"k" * size, timeout=30))


def test_unauthenticated_bodies_are_refused_on_the_head_and_never_kept(launch: Launch) -> None:
    app = launch(config={"INSPECTOR_API_KEY": KEY})
    # The refusal comes on the head alone: the announced megabyte is never sent.
    with socket.create_connection(("127.0.0.1", app.inspector_port), timeout=5) as sock:
        sock.sendall(b"POST /reload HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 401 ")
    before = _inspector_rss(app)
    replies: list[bytes] = []
    mib = 1024 * 1024
    for _ in range(24):  # 1,200 requests with 1 MiB bodies, 50 at a time
        threads = [
            threading.Thread(
                target=_unauthenticated_upload, args=(app.inspector_port, mib, replies)
            )
            for _ in range(50)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert len(replies) == 1200
    assert all(reply.startswith(b"HTTP/1.1 401 ") for reply in replies), {r[:30] for r in replies}
    growth = _inspector_rss(app) - before
    assert growth < 16 * mib, f"the inspector grew by {growth / mib:.1f} MiB (bound 16 MiB)"
    assert app.settled(2)  # nothing was reloaded


def test_an_api_key_sent_only_in_a_trailer_does_not_authenticate(launch: Launch) -> None:
    app = launch(config={"INSPECTOR_API_KEY": KEY})
    reply = raw_exchange(
        app.inspector_port,
        b"POST /stats HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\n{}\r\n0\r\nAuthorization: Bearer " + KEY.encode() + b"\r\n\r\n",
    )
    assert reply.startswith(b"HTTP/1.1 401 "), reply[:200]
