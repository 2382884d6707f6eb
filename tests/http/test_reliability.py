"""Regression tests for the reliability and security defects of issue 16 (HTTP items).

Each test runs over real sockets; the memory tests read a server subprocess's RSS from
/proc after its connections close, without forcing a garbage collection.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hurtle_http import HttpApp, Request, Unauthorized, json, text

TESTKIT = str(Path(__file__).parents[1] / "_shared")
if TESTKIT not in sys.path:
    sys.path.insert(0, TESTKIT)

from testkit import wait_until  # noqa: E402

MiB = 1024 * 1024

SERVER_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from hurtle_http import HttpApp, Unauthorized, bind_socket, serve, text

    app = HttpApp("memory")
    app.config.update(ACCESS_LOG=False, REQUEST_MAX_SIZE=64 * 1024 * 1024)

    @app.post("/ignore")
    def ignore(request):
        return text(str(len(request.body)))

    @app.post("/guarded")
    def guarded(request):
        return text("never without a key")

    @app.on_request_head
    def authenticate(request):
        if request.path == "/guarded" and request.token != "secret":
            raise Unauthorized("no key")

    async def main():
        sock = bind_socket("127.0.0.1", 0)
        await serve(app, sock, ready=lambda: print(sock.getsockname()[1], flush=True))
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


def rss(pid: int) -> int:
    """The resident set size of ``pid`` in bytes, from /proc."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


@pytest.fixture
def memory_server(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """A server subprocess: (pid, port); stopped by its pid at teardown."""
    script = tmp_path / "server.py"
    script.write_text(SERVER_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield proc.pid, port
    finally:
        proc.kill()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def upload(port: int, path: str, size: int, results: list[bytes], token: str = "") -> None:
    """POST ``size`` bytes to ``path``, read the whole answer, close."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {size}\r\n{auth}"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        block = b"x" * MiB
        sent = 0
        try:
            while sent < size:
                sent += sock.send(block[: min(MiB, size - sent)])
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused early: the server stopped reading
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
        results.append(data)


def test_bodies_are_freed_when_their_connections_close(memory_server: tuple[int, int]) -> None:
    pid, port = memory_server
    results: list[bytes] = []
    upload(port, "/ignore", 1024, results)
    baseline = rss(pid)
    size = 24 * MiB
    bound = 48 * MiB  # 3 rounds x 4 x 24 MiB = 288 MiB would stay without the fix
    for round_ in range(3):
        threads = [
            threading.Thread(target=upload, args=(port, "/ignore", size, results)) for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        wait_until(
            lambda: rss(pid) < baseline + bound,
            what=lambda done=round_ + 1: (
                f"RSS back within {bound // MiB} MiB of {baseline // MiB} MiB after round"
                f" {done} (now {rss(pid) // MiB} MiB)"
            ),
            timeout=5,
        )
    answers = results[1:]
    assert len(answers) == 12
    assert all(a.startswith(b"HTTP/1.1 200 ") and a.endswith(b"%d" % size) for a in answers)


def test_a_request_refused_on_its_head_is_never_buffered(memory_server: tuple[int, int]) -> None:
    pid, port = memory_server
    results: list[bytes] = []
    upload(port, "/guarded", 1024, results)
    baseline = rss(pid)
    started = time.monotonic()
    threads = [
        threading.Thread(target=upload, args=(port, "/guarded", 32 * MiB, results))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    peak_allowed = 16 * MiB
    assert rss(pid) < baseline + peak_allowed, (rss(pid) - baseline) // MiB
    assert all(a.startswith(b"HTTP/1.1 401 ") for a in results), [a[:40] for a in results]
    assert time.monotonic() - started < 30


def test_a_refusal_on_the_head_comes_before_the_body(start_server: Any) -> None:
    app = HttpApp("head")

    @app.post("/guarded")
    def guarded(request: Request) -> Any:
        return text("in")

    @app.on_request_head
    def authenticate(request: Request) -> None:
        if request.token != "k":
            raise Unauthorized("no key")

    server = start_server(app)
    with server.raw() as client:
        # Only the head and a little of the announced megabyte: the answer must not wait.
        client.send(b"POST /guarded HTTP/1.1\r\nHost: t\r\nContent-Length: 1048576\r\n\r\nabc")
        response = client.read_response()
        assert response.status == 401
        assert response.header("connection") == "close"
    with server.raw() as client:
        client.send(
            b"POST /guarded HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer k\r\n"
            b"Content-Length: 2\r\n\r\nhi"
        )
        assert client.read_response().body == b"in"


def test_the_body_of_an_unrouted_request_is_discarded_and_the_connection_kept(
    start_server: Any,
) -> None:
    app = HttpApp("unrouted")
    seen: list[int] = []

    @app.exception(Exception)
    def record(request: Request, exc: Exception) -> Any:
        seen.append(len(request.body))
        return text("missing", 404)

    @app.get("/")
    def index(request: Request) -> Any:
        return text("ok")

    server = start_server(app)
    with server.raw() as client:
        client.send(b"POST /nowhere HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
        client.send(b"y" * 100000)
        assert client.read_response().status == 404
        client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.read_response().body == b"ok"
    assert seen == [0]


# Item 2: trailers ---------------------------------------------------------------------------


def trailer_app() -> HttpApp:
    app = HttpApp("trailers")

    @app.post("/")
    def index(request: Request) -> Any:
        return json(
            {
                "hosts": request.headers.getall("host"),
                "token": request.token,
                "host": request.host,
                "trailers": [[k, v] for k, v in request.trailers.items()],
                "body": request.body.decode(),
            }
        )

    return app


def test_trailer_fields_never_become_header_fields(start_server: Any) -> None:
    server = start_server(trailer_app())
    with server.raw() as client:
        client.send(
            b"POST / HTTP/1.1\r\nHost: good\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n0\r\nHost: evil.example\r\nAuthorization: Bearer stolen\r\n\r\n"
        )
        response = client.read_response()
    import msgspec

    data = msgspec.json.decode(response.body)
    assert data["hosts"] == ["good"]
    assert data["host"] == "good"
    assert data["token"] is None
    assert data["body"] == "abc"
    assert data["trailers"] == [["Host", "evil.example"], ["Authorization", "Bearer stolen"]]


# Item 3: pipelining --------------------------------------------------------------------------


def test_ten_thousand_pipelined_requests_in_one_write_are_all_answered(
    start_server: Any,
) -> None:
    app = HttpApp("pipeline")

    @app.get("/")
    def index(request: Request) -> Any:
        return text("k")

    server = start_server(app)
    count = 10_000
    payload = b"GET / HTTP/1.1\r\nHost: t\r\nUser-Agent: pipelining-test\r\n\r\n" * count
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        writer = threading.Thread(target=sock.sendall, args=(payload,))
        writer.start()
        received = b""
        answers = 0
        while answers < count:
            chunk = sock.recv(1 << 20)
            if not chunk:
                break
            received += chunk
            answers = received.count(b"HTTP/1.1 200 OK\r\n")
        writer.join(10)
    assert answers == count, (answers, received[-300:])
    assert b" 431 " not in received


# Items 8 and 9: Host, fragments, repeated Authorization ---------------------------------------


def host_app() -> HttpApp:
    app = HttpApp("hosts")

    @app.get("/<rest:path>")
    def echo(request: Request, rest: str) -> Any:
        return json({"host": request.host, "url": request.url})

    return app


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /x HTTP/1.1\r\nHost: a/b?c\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: a b\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: a@b\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: a:port\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: [::1\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: a#b\r\n\r\n",
        b"GET http://u@a/x HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET http://ev il/x HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /x#frag HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /x?q=1#frag HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer 1\r\nAuthorization: Bearer 2\r\n\r\n",
    ],
    ids=[
        "host-with-path",
        "host-with-space",
        "host-with-userinfo",
        "host-bad-port",
        "host-unclosed-ipv6",
        "host-with-fragment",
        "absolute-bad-authority",
        "absolute-authority-space",
        "fragment",
        "fragment-after-query",
        "two-authorization",
    ],
)
def test_invalid_hosts_fragments_and_repeated_credentials_are_400(
    start_server: Any, request_bytes: bytes
) -> None:
    server = start_server(host_app())
    with server.raw() as client:
        client.send(request_bytes)
        response = client.read_response()
    assert response.status == 400, response


@pytest.mark.parametrize(
    ("request_bytes", "host"),
    [
        (b"GET /x HTTP/1.1\r\nHost: example.com:8080\r\n\r\n", "example.com:8080"),
        (b"GET /x HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", "[::1]:80"),
        (b"GET /x HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n", "10.0.0.1"),
        (b"GET http://evil.example/x HTTP/1.1\r\nHost: a\r\n\r\n", "evil.example"),
        (b"GET http://b.example:81/x?y=1 HTTP/1.1\r\nHost: a\r\n\r\n", "b.example:81"),
    ],
)
def test_valid_hosts_and_absolute_form_authority(
    start_server: Any, request_bytes: bytes, host: str
) -> None:
    server = start_server(host_app())
    with server.raw() as client:
        client.send(request_bytes)
        response = client.read_response()
    assert response.status == 200, response
    import msgspec

    data = msgspec.json.decode(response.body)
    assert data["host"] == host
    assert data["url"].startswith(f"http://{host}/x")


def test_rss_reader_sees_this_process() -> None:
    assert rss(os.getpid()) > 0


ASGI_SLOW_READER = textwrap.dedent(
    """
    import asyncio
    from hurtle_http import AsgiApp, bind_socket, serve

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        total = pieces = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            total += len(message["body"])
            pieces += 1
            if pieces % 4 == 0:
                await asyncio.sleep(0.005)  # a slow consumer
            if not message["more_body"]:
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(total).encode()})

    async def main():
        asgi = AsgiApp(app, lifespan="off")
        asgi.config.update(ACCESS_LOG=False, REQUEST_MAX_SIZE=512 * 1024 * 1024)
        sock = bind_socket("127.0.0.1", 0)
        await serve(asgi, sock, ready=lambda: print(sock.getsockname()[1], flush=True))
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


def test_a_200_mb_upload_to_a_slow_asgi_app_keeps_rss_bounded(tmp_path: Path) -> None:
    script = tmp_path / "asgi_server.py"
    script.write_text(ASGI_SLOW_READER)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        warm: list[bytes] = []
        upload(port, "/", 1024, warm)
        baseline = rss(proc.pid)
        peak = baseline
        results: list[bytes] = []
        size = 200 * MiB
        writer = threading.Thread(target=upload, args=(port, "/", size, results))
        writer.start()
        while writer.is_alive():
            peak = max(peak, rss(proc.pid))
            writer.join(0.02)
        bound = 32 * MiB
        assert peak - baseline < bound, f"RSS grew by {(peak - baseline) / MiB:.1f} MiB"
        assert results and results[0].endswith(b"%d" % size), results[0][-200:]
    finally:
        proc.kill()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
