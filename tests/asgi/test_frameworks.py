"""Real ASGI frameworks (FastAPI, Starlette, Django, Quart) served by ``hurtle serve``.

Each app in ``apps/`` implements one contract of routes; every test drives it over real
sockets with the standard library's HTTP client (and the ``websockets`` client), with
the server in a child process: ``hurtle serve <framework>_app:app --workers 1``.
Django has no lifespan protocol, no background tasks and no WebSockets of its own, so
those tests are not run for it (its lifespan route proves "auto" lifespan copes).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import pytest
from asgi_helpers import Served, served
from testkit import wait_until

pytestmark = pytest.mark.slow

FRAMEWORKS = ("fastapi", "starlette", "django", "quart")
HAS = {
    "fastapi": {"lifespan", "background", "websocket"},
    "starlette": {"lifespan", "background", "websocket"},
    "django": set(),
    "quart": {"lifespan", "background", "websocket"},
}
BLOCK = bytes(range(256)) * 256


@pytest.fixture(scope="module", params=FRAMEWORKS)
def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Served]]:
    """The framework's app under ``hurtle serve`` with one worker (spawn)."""
    name = request.param
    with served(f"{name}_app:app", "--workers", "1", tmp_path=tmp_path_factory.mktemp(name)) as s:
        yield name, s


def needs(name: str, feature: str, request: pytest.FixtureRequest | None = None) -> None:
    if feature not in HAS[name]:
        pytest.skip(f"{name} has no {feature} of its own")


def test_path_and_query_parameters(app: tuple[str, Served]) -> None:
    _, server = app
    assert server.json("/params/caf%C3%A9?q=a%20b&n=7") == {"item": "café", "q": "a b", "n": 7}


def test_json_body(app: tuple[str, Served]) -> None:
    _, server = app
    sent = {"nested": {"list": [1, 2.5, None, True]}, "text": "ünï"}
    received = server.json(
        "/json",
        method="POST",
        body=json.dumps(sent).encode(),
        headers={"content-type": "application/json"},
    )
    assert received == {"received": sent}


def test_custom_status_and_headers(app: tuple[str, Served]) -> None:
    _, server = app
    status, headers, body = server.request("/teapot")
    assert (status, headers["x-kind"], json.loads(body)) == (418, "teapot", {"short": "stout"})


def test_streamed_response_is_chunked(app: tuple[str, Served]) -> None:
    _, server = app
    conn = server.connect()
    try:
        conn.request("GET", "/stream")
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("transfer-encoding") == "chunked"
        assert response.read() == b"".join(f"{i}\n".encode() for i in range(10))
    finally:
        conn.close()


def test_server_sent_events_arrive_one_by_one(app: tuple[str, Served]) -> None:
    _, server = app
    conn = server.connect()
    try:
        conn.request("GET", "/sse", headers={"accept": "text/event-stream"})
        response = conn.getresponse()
        assert response.getheader("content-type", "").startswith("text/event-stream")
        events = []
        for _ in range(3):
            lines = []
            while (line := response.readline()) not in (b"\n", b""):
                lines.append(line.decode().rstrip("\n"))
            events.append(lines)
        assert events == [[f"id: {i}", "event: tick", f'data: {{"n": {i}}}'] for i in range(3)]
    finally:
        conn.close()


def test_large_upload(app: tuple[str, Served]) -> None:
    _, server = app
    body = BLOCK * 160  # 10 MiB
    got = server.json("/upload", method="POST", body=body, timeout=60)
    assert got == {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def test_chunked_upload(app: tuple[str, Served]) -> None:
    _, server = app
    parts = [BLOCK[: 1000 + i * 7919 % 60000] for i in range(40)]
    conn = server.connect(timeout=30)
    try:
        conn.request("POST", "/upload", body=iter(parts), encode_chunked=True)
        response = conn.getresponse()
        got = json.loads(response.read())
    finally:
        conn.close()
    whole = b"".join(parts)
    assert got == {"size": len(whole), "sha256": hashlib.sha256(whole).hexdigest()}


def test_large_download(app: tuple[str, Served]) -> None:
    _, server = app
    size = 32 * 1024 * 1024 + 123
    conn = server.connect(timeout=60)
    try:
        conn.request("GET", f"/download?size={size}")
        response = conn.getresponse()
        digest, total = hashlib.sha256(), 0
        while chunk := response.read(1 << 20):
            digest.update(chunk)
            total += len(chunk)
    finally:
        conn.close()
    expected = hashlib.sha256((BLOCK * (size // len(BLOCK) + 1))[:size]).hexdigest()
    assert (total, digest.hexdigest()) == (size, expected)


def test_background_task_runs_after_the_response(app: tuple[str, Served]) -> None:
    name, server = app
    needs(name, "background")
    token = f"t{id(server)}"
    assert server.json(f"/background?token={token}", method="POST") == {"scheduled": token}
    wait_until(lambda: token in server.json("/background")["done"], what="the background task")


def test_lifespan_state_reaches_requests(app: tuple[str, Served]) -> None:
    name, server = app
    started_by = server.json("/lifespan")["started_by"]
    worker = next(iter(server.workers()))
    if "lifespan" in HAS[name]:
        assert started_by == f"{name}-lifespan-{worker}"
    else:  # Django refuses the lifespan scope; "auto" lifespan goes on without it
        assert started_by == f"{name}-import-{worker}"


def test_an_exception_is_a_500_and_the_worker_serves_on(app: tuple[str, Served]) -> None:
    _, server = app
    workers = server.workers()
    status, _, _ = server.request("/error")
    assert status == 500
    assert server.json("/params/x") == {"item": "x", "q": "", "n": 0}
    assert server.workers() == workers


def test_keep_alive_serves_many_requests_on_one_connection(app: tuple[str, Served]) -> None:
    _, server = app
    conn = server.connect()
    try:
        for i in range(20):
            conn.request("GET", f"/params/k{i}")
            response = conn.getresponse()
            assert json.loads(response.read())["item"] == f"k{i}"
    finally:
        conn.close()


# --- WebSockets --------------------------------------------------------------------------


def test_websocket_text_and_bytes(app: tuple[str, Served], request: pytest.FixtureRequest) -> None:
    name, server = app
    needs(name, "websocket", request)
    from websockets.sync.client import connect

    with connect(server.ws_url("/ws")) as ws:
        ws.send("hello")
        assert ws.recv(timeout=10) == "hello"
        ws.send(b"\x00\x01\xff")
        assert ws.recv(timeout=10) == b"\x00\x01\xff"


def test_websocket_300_kb_messages(app: tuple[str, Served], request: pytest.FixtureRequest) -> None:
    name, server = app
    needs(name, "websocket", request)
    from websockets.sync.client import connect

    big_text = "é" * 150_000  # 300 kB of UTF-8
    big_bytes = BLOCK * 5  # 320 kB
    with connect(server.ws_url("/ws"), max_size=2**21) as ws:
        ws.send(big_text)
        assert ws.recv(timeout=20) == big_text
        ws.send(big_bytes)
        assert ws.recv(timeout=20) == big_bytes


def test_websocket_close_code_and_reason_from_the_app(
    app: tuple[str, Served], request: pytest.FixtureRequest
) -> None:
    name, server = app
    needs(name, "websocket", request)
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    with connect(server.ws_url("/ws")) as ws:
        ws.send("close:4001")
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
        assert ws.close_code == 4001
        assert ws.close_reason == "bye"


def test_websocket_close_from_the_client(
    app: tuple[str, Served], request: pytest.FixtureRequest
) -> None:
    name, server = app
    needs(name, "websocket", request)
    from websockets.sync.client import connect

    with connect(server.ws_url("/ws")) as ws:
        ws.send("before")
        assert ws.recv(timeout=10) == "before"
        ws.close(code=4321, reason="client done")
    assert ws.close_code == 4321
    assert server.json("/params/after") == {"item": "after", "q": "", "n": 0}


def test_websocket_denied_before_accept_is_403(app: tuple[str, Served]) -> None:
    name, server = app
    needs(name, "websocket")
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with pytest.raises(InvalidStatus) as denied:
        connect(server.ws_url("/ws-deny"), open_timeout=10)
    assert denied.value.response.status_code == 403


def test_http_request_to_a_websocket_route_does_not_crash(app: tuple[str, Served]) -> None:
    name, server = app
    needs(name, "websocket")
    workers = server.workers()
    status, _, _ = server.request("/ws")
    assert 400 <= status < 500, status  # the framework's own refusal: no route for HTTP
    assert server.json("/params/y")["item"] == "y"
    assert server.workers() == workers
