"""Hostile and malformed input: a clear 4xx, a closed connection, and a server still serving."""

from __future__ import annotations

import re
import socket
from typing import Any

import pytest

from hurtle_http import HttpApp, Request, text

HOST = b"Host: t\r\n"
STATUS_LINE = re.compile(rb"(?:^|\n)HTTP/1\.1 \d{3} ")

# (id, bytes, expected status or None when the server may just close)
CORPUS: list[tuple[str, bytes, int | None]] = [
    ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40, 400),
    ("http-0.9-request", b"GET /\r\n\r\n", 505),
    ("lowercase-version", b"GET / http/1.1\r\n" + HOST + b"\r\n", 400),
    ("space-in-target", b"GET /a b HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("control-char-in-target", b"GET /\x01 HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("bad-method-separator", b"GET\t/ HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("bare-lf", b"GET / HTTP/1.1\n" + HOST + b"\n", 400),
    ("space-before-colon", b"GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400),
    ("empty-header-name", b"GET / HTTP/1.1\r\n" + HOST + b": value\r\n\r\n", 400),
    ("no-colon", b"GET / HTTP/1.1\r\n" + HOST + b"NoColonHere\r\n\r\n", 400),
    ("separator-in-name", b"GET / HTTP/1.1\r\n" + HOST + b"Bad(Name): x\r\n\r\n", 400),
    ("nul-in-name", b"GET / HTTP/1.1\r\n" + HOST + b"X\x00Y: x\r\n\r\n", 400),
    ("nul-in-value", b"GET / HTTP/1.1\r\n" + HOST + b"X: a\x00b\r\n\r\n", 400),
    ("ctl-in-value", b"GET / HTTP/1.1\r\n" + HOST + b"X: a\x07b\r\n\r\n", 400),
    ("del-in-value", b"GET / HTTP/1.1\r\n" + HOST + b"X: a\x7fb\r\n\r\n", 400),
    ("bare-cr-in-value", b"GET / HTTP/1.1\r\n" + HOST + b"X: a\rb\r\n\r\n", 400),
    ("obs-fold", b"GET / HTTP/1.1\r\n" + HOST + b"X: a\r\n folded\r\n\r\n", 400),
    ("missing-host", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("double-host", b"GET / HTTP/1.1\r\n" + HOST + HOST + b"\r\n", 400),
    (
        "cl-and-te",
        b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\n",
        400,
    ),
    (
        "te-and-cl",
        b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n"
        b"0\r\n\r\n",
        400,
    ),
    (
        "repeated-cl-same",
        b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 1\r\nContent-Length: 1\r\n\r\nx",
        400,
    ),
    (
        "repeated-cl-different",
        b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nxy",
        400,
    ),
    ("cl-list", b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 1, 1\r\n\r\nx", 400),
    ("negative-cl", b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: -1\r\n\r\n", 400),
    ("hex-cl", b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 0x10\r\n\r\n", 400),
    (
        "huge-cl",
        b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 99999999999999999999\r\n\r\n",
        400,
    ),
    ("te-not-chunked", b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: gzip\r\n\r\n", 400),
    (
        "te-chunked-not-last",
        b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked, gzip\r\n\r\n",
        400,
    ),
    (
        "bad-chunk-size",
        b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n",
        400,
    ),
    (
        "chunk-without-crlf",
        b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n2\r\nabXY0\r\n\r\n",
        400,
    ),
    ("http-2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", None),
    ("incomplete-request-line", b"GET /\r\n", 408),
    ("unknown-version", b"GET / HTTP/3.7\r\n" + HOST + b"\r\n", None),
    ("long-method", b"A" * 5000 + b" / HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("only-crlfs", b"\r\n" * 5000, None),
    ("non-utf8-path", b"GET /\xff\xfe HTTP/1.1\r\n" + HOST + b"\r\n", None),
    (
        "bad-percent-path",
        b"GET /%ff%fe%zz HTTP/1.1\r\n" + HOST + b"Connection: close\r\n\r\n",
        400,
    ),
    ("absolute-form-bad", b"GET ftp:/x HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("unsupported-expect", b"POST / HTTP/1.1\r\n" + HOST + b"Expect: 200-ok\r\n\r\n", 417),
    (
        "te-space-before-colon",
        b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    (
        "te-obs-fold",
        b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    ("te-xchunked", b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: xchunked\r\n\r\n", 400),
    ("cl-plus-sign", b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: +1\r\n\r\nx", 400),
    (
        "chunk-size-overflow",
        b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n"
        b"fffffffffffffffff1\r\nx\r\n",
        400,
    ),
    (
        "nul-in-chunk-extension",
        b"POST / HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\n"
        b"1;a=\x00\r\nx\r\n0\r\n\r\n",
        400,
    ),
    ("8bit-header-name", b"GET / HTTP/1.1\r\n" + HOST + b"X\xe9: v\r\n\r\n", 400),
    ("tab-before-colon", b"GET / HTTP/1.1\r\n" + HOST + b"X\t: v\r\n\r\n", 400),
    ("lf-in-header-name", b"GET / HTTP/1.1\r\n" + HOST + b"X\nY: v\r\n\r\n", 400),
    ("two-hosts-differing", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("method-with-nul", b"G\x00T / HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    ("version-garbage", b"GET / HTTP/1.x\r\n" + HOST + b"\r\n", 400),
    (
        "smuggled-second-request",
        b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: 3\r\nContent-Length: 40\r\n\r\n"
        b"GET /admin HTTP/1.1\r\nHost: t\r\n\r\n",
        400,
    ),
]


def make_app() -> HttpApp:
    app = HttpApp("hostile")
    app.config.update(REQUEST_TIMEOUT=1.0, KEEP_ALIVE_TIMEOUT=1.0)

    @app.route("/", methods=["GET", "POST"])
    def index(request: Request) -> Any:
        return text("fine")

    @app.get("/<name>")
    def named(request: Request, name: str) -> Any:
        return text(f"name {name}")

    @app.get("/admin")
    def admin(request: Request) -> Any:
        raise AssertionError("a smuggled request must never reach a handler")

    return app


def exchange(port: int, payload: bytes, split: int = 0) -> bytes:
    """Send ``payload`` and read until the server closes the connection.

    With ``split``, the first ``split`` bytes go one per segment (Nagle off), the rest at once.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            for byte in payload[:split]:
                sock.sendall(bytes([byte]))
            sock.sendall(payload[split:])
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return data
                data += chunk
        except ConnectionResetError:
            return data


def outcome(data: bytes) -> bytes:
    """What a client saw: the status line, or b"" when the server closed without one."""
    return data.split(b"\r\n", 1)[0] if data.startswith(b"HTTP/") else b""


def assert_still_serving(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert data.endswith(b"fine")


@pytest.mark.parametrize(("payload", "status"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_hostile_input_is_refused_cleanly(
    start_server: Any, payload: bytes, status: int | None
) -> None:
    server = start_server(make_app())
    data = exchange(server.port, payload)
    if status is not None:
        assert data.startswith(b"HTTP/1.1 %d " % status), data[:200]
        assert b"\r\nconnection: close\r\n" in data.lower()
        assert len(STATUS_LINE.findall(data)) == 1, "nothing after the error is answered"
    else:
        # The server may answer with any 4xx/5xx or just close, but never with a 2xx.
        assert not data.startswith(b"HTTP/1.1 2"), data[:200]
    assert b"Traceback" not in data
    assert_still_serving(server.port)


def test_the_whole_corpus_against_one_server(start_server: Any) -> None:
    server = start_server(make_app())
    for name, payload, _ in CORPUS:
        whole = exchange(server.port, payload)
        # The same input split into single bytes (its first 300) gets the same answer.
        split = exchange(server.port, payload, split=300)
        assert outcome(split) == outcome(whole), (name, whole[:200], split[:200])
        assert len(STATUS_LINE.findall(split)) == len(STATUS_LINE.findall(whole)), name
        assert b"Traceback" not in split, name
    assert_still_serving(server.port)
    assert server.server.stats.bad_requests >= 2 * len([c for c in CORPUS if c[2] is not None])


async def _asgi_fine(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    assert scope["path"] != "/admin", "a smuggled request must never reach the app"
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"fine"})


@pytest.mark.parametrize(("payload", "status"), [c[1:] for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_hostile_input_is_refused_cleanly_for_asgi_apps(
    start_server: Any, payload: bytes, status: int | None
) -> None:
    from hurtle_http import AsgiApp

    asgi = AsgiApp(_asgi_fine, lifespan="off")
    asgi.config.update(REQUEST_TIMEOUT=1.0, KEEP_ALIVE_TIMEOUT=1.0)
    server = start_server(asgi)
    data = exchange(server.port, payload)
    if payload.startswith(b"GET /%ff"):
        status = 200  # the native router refuses bad escapes; an ASGI app gets the request
    if status is not None:
        assert data.startswith(b"HTTP/1.1 %d " % status), data[:200]
        assert len(STATUS_LINE.findall(data)) == 1, "nothing after the error is answered"
    else:
        assert not data.startswith(b"HTTP/1.1 2"), data[:200]
    assert b"Traceback" not in data
    assert_still_serving(server.port)
