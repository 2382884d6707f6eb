"""Response helpers, framing headers, streaming and files with Range."""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hurtle_http import (
    HttpApp,
    HTTPResponse,
    Request,
    StreamingResponse,
    empty,
    file,
    html,
    json,
    raw,
    redirect,
    stream,
    text,
)
from hurtle_http._mypyc import compiled


def make_app(tmp_path: Path) -> HttpApp:
    app = HttpApp("responses")
    (tmp_path / "data.txt").write_bytes(b"0123456789" * 10)
    (tmp_path / "page.html").write_text("<p>hi</p>")
    (tmp_path / "blob.unknownext").write_bytes(b"\x00\x01")

    @app.get("/json")
    def j(request: Request) -> Any:
        return json({"a": [1, 2]}, 201, headers={"X-A": "b"})

    @app.get("/text")
    def t(request: Request) -> Any:
        return text("héllo")

    @app.get("/html")
    def h(request: Request) -> Any:
        return html("<b>x</b>")

    @app.get("/raw")
    def r(request: Request) -> Any:
        return raw(b"\x00\xff", content_type="image/x-test")

    @app.get("/empty")
    def e(request: Request) -> Any:
        return empty()

    @app.get("/redirect")
    def rd(request: Request) -> Any:
        return redirect("/target path?x=1")

    @app.get("/cookie")
    def c(request: Request) -> Any:
        response = text("c")
        response.add_cookie("session", "abc", httponly=True, max_age=60)
        response.add_cookie("theme", "dark")
        return response

    @app.get("/bad-header")
    def bad(request: Request) -> Any:
        return text("x", headers={"X-Evil": "a\r\nInjected: yes"})

    @app.get("/custom-server")
    def custom(request: Request) -> Any:
        return text("x", headers={"Server": "mine", "Content-Type": "text/x-mine"})

    @app.get("/stream")
    async def s(request: Request) -> Any:
        async def produce(response: StreamingResponse) -> None:
            await response.write("part1,")
            await asyncio.sleep(0.01)
            await response.write(b"part2")

        return stream(produce, headers={"X-Streamed": "yes"})

    @app.get("/stream-iter")
    def si(request: Request) -> Any:
        async def parts() -> AsyncIterator[str]:
            for i in range(3):
                yield f"<{i}>"

        return stream(parts())

    @app.get("/stream-fail")
    def sf(request: Request) -> Any:
        async def produce(response: StreamingResponse) -> None:
            await response.write("started")
            raise RuntimeError("stream broke")

        return stream(produce)

    @app.get("/file/<name>")
    async def f(request: Request, name: str) -> Any:
        return await file(tmp_path / name)

    @app.get("/download")
    def d(request: Request) -> Any:
        return file(tmp_path / "data.txt", filename="report 1.txt")

    return app


def test_helpers_set_status_type_and_length(start_server: Any, tmp_path: Path) -> None:
    server = start_server(make_app(tmp_path))
    cases = [
        ("/json", 201, "application/json", b'{"a":[1,2]}'),
        ("/text", 200, "text/plain; charset=utf-8", "héllo".encode()),
        ("/html", 200, "text/html; charset=utf-8", b"<b>x</b>"),
        ("/raw", 200, "image/x-test", b"\x00\xff"),
    ]
    with server.raw() as client:
        for path, status, content_type, body in cases:
            client.send(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            response = client.read_response()
            assert (response.status, response.header("content-type"), response.body) == (
                status,
                content_type,
                body,
            ), path
            assert response.header("content-length") == str(len(body))
            assert response.header("server") == "hurtle"
            date = email.utils.parsedate_to_datetime(response.header("date") or "")
            assert abs(date.timestamp() - time.time()) < 5
        client.send(b"GET /json HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.read_response().header("x-a") == "b"
        client.send(b"GET /empty HTTP/1.1\r\nHost: t\r\n\r\n")
        response = client.read_response()
        assert response.status == 204
        assert response.header("content-length") is None
        client.send(b"GET /redirect HTTP/1.1\r\nHost: t\r\n\r\n")
        response = client.read_response()
        assert response.status == 302
        assert response.header("location") == "/target%20path?x=1"


def test_cookies_and_header_safety(start_server: Any, tmp_path: Path) -> None:
    server = start_server(make_app(tmp_path))
    conn = server.client()
    try:
        conn.request("GET", "/cookie")
        response = conn.getresponse()
        response.read()
        cookies = response.headers.get_all("Set-Cookie") or []
        assert len(cookies) == 2
        assert cookies[0].startswith("session=abc;") and "HttpOnly" in cookies[0]
        assert "Max-Age=60" in cookies[0]
        conn.request("GET", "/bad-header")
        response = conn.getresponse()
        assert response.status == 500
        assert response.getheader("Injected") is None
        response.read()
        conn.request("GET", "/custom-server")
        response = conn.getresponse()
        response.read()
        assert response.headers.get_all("Server") == ["mine"]
        assert response.headers.get_all("Content-Type") == ["text/x-mine"]
    finally:
        conn.close()


def test_streaming_uses_chunked_transfer(start_server: Any, tmp_path: Path) -> None:
    server = start_server(make_app(tmp_path))
    with server.raw() as client:
        client.send(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
        response = client.read_response()
        assert response.header("transfer-encoding") == "chunked"
        assert response.header("content-length") is None
        assert response.header("x-streamed") == "yes"
        assert response.body == b"part1,part2"
        client.send(b"GET /stream-iter HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.read_response().body == b"<0><1><2>"
        client.send(b"HEAD /stream HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.read_response("HEAD").status == 200
        client.send(b"GET /text HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.read_response().body == "héllo".encode()


def test_streaming_to_http10_is_close_delimited(start_server: Any, tmp_path: Path) -> None:
    server = start_server(make_app(tmp_path))
    with server.raw() as client:
        client.send(b"GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        response = client.read_response()
        assert response.header("connection") == "close"
        assert response.header("transfer-encoding") is None
        assert response.body == b"part1,part2"


def test_a_failing_stream_aborts_the_connection(start_server: Any, tmp_path: Path) -> None:
    server = start_server(make_app(tmp_path))
    with server.raw() as client:
        client.send(b"GET /stream-fail HTTP/1.1\r\nHost: t\r\n\r\n")
        with pytest.raises(ConnectionError):
            client.read_response()
    conn = server.client()
    try:
        conn.request("GET", "/text")
        assert conn.getresponse().status == 200
    finally:
        conn.close()


def test_file_whole_with_guessed_type(start_server: Any, tmp_path: Path) -> None:
    server = start_server(make_app(tmp_path))
    conn = server.client()
    try:
        conn.request("GET", "/file/data.txt")
        response = conn.getresponse()
        assert response.read() == b"0123456789" * 10
        assert response.getheader("Content-Type") == "text/plain; charset=utf-8"
        assert response.getheader("Accept-Ranges") == "bytes"
        assert response.getheader("Last-Modified")
        conn.request("GET", "/file/page.html")
        response = conn.getresponse()
        assert response.getheader("Content-Type") == "text/html; charset=utf-8"
        assert response.read() == b"<p>hi</p>"
        conn.request("GET", "/file/blob.unknownext")
        response = conn.getresponse()
        assert response.getheader("Content-Type") == "application/octet-stream"
        response.read()
        conn.request("GET", "/file/missing.txt")
        response = conn.getresponse()
        assert response.status == 404
        response.read()
        conn.request("GET", "/download")
        response = conn.getresponse()
        response.read()
        assert response.getheader("Content-Disposition") == (
            "attachment; filename*=UTF-8''report%201.txt"
        )
        conn.request("HEAD", "/file/data.txt")
        response = conn.getresponse()
        assert response.getheader("Content-Length") == "100"
        assert response.read() == b""
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("range_header", "status", "body", "content_range"),
    [
        ("bytes=10-19", 206, b"0123456789", "bytes 10-19/100"),
        ("bytes=95-", 206, b"56789", "bytes 95-99/100"),
        ("bytes=-3", 206, b"789", "bytes 97-99/100"),
        ("bytes=90-500", 206, b"0123456789", "bytes 90-99/100"),
        ("bytes=200-300", 416, None, "bytes */100"),
        ("bytes=0-1,5-6", 200, b"0123456789" * 10, None),
        ("items=0-5", 200, b"0123456789" * 10, None),
    ],
)
def test_file_range_requests(
    start_server: Any,
    tmp_path: Path,
    range_header: str,
    status: int,
    body: bytes | None,
    content_range: str | None,
) -> None:
    server = start_server(make_app(tmp_path))
    conn = server.client()
    try:
        conn.request("GET", "/file/data.txt", headers={"Range": range_header})
        response = conn.getresponse()
        data = response.read()
        assert response.status == status
        if body is not None:
            assert data == body
        assert response.getheader("Content-Range") == content_range
    finally:
        conn.close()


@pytest.mark.parametrize("use_uvloop", [True, False], ids=["uvloop", "asyncio-sendfile"])
def test_large_file_arrives_whole(start_server: Any, tmp_path: Path, use_uvloop: bool) -> None:
    app = make_app(tmp_path)
    payload = bytes(range(256)) * 20000  # 5 MB, several chunks
    (tmp_path / "big.bin").write_bytes(payload)
    server = start_server(app, use_uvloop=use_uvloop)
    conn = server.client(timeout=30)
    try:
        conn.request("GET", "/file/big.bin")
        response = conn.getresponse()
        assert response.read() == payload
        conn.request("GET", "/file/big.bin", headers={"Range": "bytes=1000000-1000009"})
        assert conn.getresponse().read() == payload[1000000:1000010]
    finally:
        conn.close()


def test_response_object_defaults() -> None:
    response = HTTPResponse("x")
    assert (response.body, response.status, response.content_type) == (b"x", 200, None)
    response.headers["X-One"] = "1"
    response.headers.add("x-one", "2")
    assert response.headers.getall("X-ONE") == ["1", "2"]
    # Compiled, the argument's type is checked before text() runs, in mypyc's words.
    refusal = "str object expected; got bytes" if compiled() else "use raw"
    with pytest.raises(TypeError, match=refusal):
        text(b"bytes")  # type: ignore[arg-type]


def test_conditional_get_of_a_file(start_server: Any, tmp_path: Path) -> None:
    server = start_server(make_app(tmp_path))
    conn = server.client()
    try:
        conn.request("GET", "/file/data.txt")
        response = conn.getresponse()
        response.read()
        etag = response.getheader("ETag")
        modified = response.getheader("Last-Modified")
        assert etag and etag.startswith('"') and modified
        for headers in (
            {"If-None-Match": etag},
            {"If-None-Match": f'"other", {etag}'},
            {"If-Modified-Since": modified},
            {"If-None-Match": "*"},
        ):
            conn.request("GET", "/file/data.txt", headers=headers)
            response = conn.getresponse()
            assert (response.status, response.read()) == (304, b""), headers
            assert response.getheader("ETag") == etag
        for headers in (
            {"If-None-Match": '"stale"'},
            {"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"},
            {"If-Modified-Since": "not a date"},
        ):
            conn.request("GET", "/file/data.txt", headers=headers)
            response = conn.getresponse()
            assert (response.status, len(response.read())) == (200, 100), headers
        conn.request("GET", "/file/data.txt", headers={"Range": "bytes=0-1", "If-Range": etag})
        response = conn.getresponse()
        assert (response.status, response.read()) == (206, b"01")
        conn.request("GET", "/file/data.txt", headers={"Range": "bytes=0-1", "If-Range": '"old"'})
        response = conn.getresponse()
        assert (response.status, len(response.read())) == (200, 100)
    finally:
        conn.close()


@pytest.mark.parametrize(
    "seconds",
    [0, 784_111_777, 951_782_400, 1_709_164_800, 4_102_444_799, 1_764_633_600.75],
    ids=["epoch", "rfc-example", "leap-day-2000", "leap-day-2024", "end-of-2099", "fraction"],
)
def test_http_dates_are_imf_fixdate_as_the_standard_library_writes_them(seconds: float) -> None:
    # The Date and Last-Modified headers are written without the email package (kept off
    # the start-up path); they must stay byte for byte what email.utils writes.
    from hurtle_http._wire import http_date

    assert http_date(seconds) == email.utils.formatdate(seconds, usegmt=True)


def test_email_and_mimetypes_stay_off_the_start_up_path() -> None:
    # Each costs several ms in every process's start; only forms, conditional file
    # requests and file responses need them, and import them when they do.
    import subprocess
    import sys

    code = "import sys, hurtle_http; print(sorted({'email', 'mimetypes'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
