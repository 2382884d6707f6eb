"""What a handler can read from the request."""

from __future__ import annotations

import socket
import urllib.parse
import uuid
from typing import Any

import msgspec
import pytest

from hurtle_http import HttpApp, Request, json


def make_app() -> HttpApp:
    app = HttpApp("req")

    @app.route("/inspect/<name>", methods=["GET", "POST"])
    async def inspect(request: Request, name: str) -> Any:
        return json(
            {
                "app": request.app.name,
                "method": request.method,
                "path": request.path,
                "query_string": request.query_string,
                "args": dict(request.args),
                "first_a": request.args.get("a"),
                "x_multi": request.headers.getall("X-Multi"),
                "x_multi_lower": request.headers.get("x-multi"),
                "cookies": request.cookies,
                "client_ip": request.ip,
                "client_port": request.port,
                "token": request.token,
                "match_info": request.match_info,
                "scheme": request.scheme,
                "version": request.version,
                "url": request.url,
            }
        )

    @app.post("/json")
    def body_json(request: Request) -> Any:
        return json({"got": request.json})

    @app.post("/form")
    def form(request: Request) -> Any:
        files = {
            name: [(f.filename, f.type, f.body.decode()) for f in items]
            for name, items in request.files.items()
        }
        return json({"form": dict(request.form), "files": files})

    return app


def test_request_attributes(start_server: Any) -> None:
    server = start_server(make_app())
    with server.raw() as raw:
        raw.send(
            b"GET /inspect/bob?a=1&a=2&b=&c=%20x HTTP/1.1\r\nHost: example.test\r\n"
            b'X-Multi: one\r\nx-multi: two\r\nCookie: session=abc; theme="dark"\r\n'
            b"Cookie: lang=en%20GB\r\nAuthorization: Bearer tok.en\r\n\r\n"
        )
        response = raw.read_response()
        local_port = raw.sock.getsockname()[1]
    data = msgspec.json.decode(response.body)
    assert data == {
        "app": "req",
        "method": "GET",
        "path": "/inspect/bob",
        "query_string": "a=1&a=2&b=&c=%20x",
        "args": {"a": ["1", "2"], "b": [""], "c": [" x"]},
        "first_a": "1",
        "x_multi": ["one", "two"],
        "x_multi_lower": "one",
        "cookies": {"session": "abc", "theme": "dark", "lang": "en GB"},
        "client_ip": "127.0.0.1",
        "client_port": local_port,
        "token": "tok.en",
        "match_info": {"name": "bob"},
        "scheme": "http",
        "version": "1.1",
        "url": "http://example.test/inspect/bob?a=1&a=2&b=&c=%20x",
    }


@pytest.mark.parametrize(
    ("header", "token"),
    [("Token abc", "abc"), ("bearer  xyz ", "xyz"), ("Basic dXNlcg==", None), (None, None)],
)
def test_token_from_authorization(start_server: Any, header: str | None, token: str | None) -> None:
    server = start_server(make_app())
    conn = server.client()
    try:
        headers = {"Authorization": header} if header else {}
        conn.request("GET", "/inspect/t", headers=headers)
        assert msgspec.json.decode(conn.getresponse().read())["token"] == token
    finally:
        conn.close()


def test_json_body_and_invalid_json_is_400(start_server: Any) -> None:
    server = start_server(make_app())
    conn = server.client()
    try:
        conn.request("POST", "/json", body=b'{"n": [1, 2.5, null]}')
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b'{"got":{"n":[1,2.5,null]}}')
        conn.request("POST", "/json", body=b"{not json")
        response = conn.getresponse()
        assert response.status == 400
        assert b"not valid JSON" in response.read()
        conn.request("POST", "/json", body=b"")
        assert conn.getresponse().read() == b'{"got":null}'
    finally:
        conn.close()


def test_urlencoded_form(start_server: Any) -> None:
    server = start_server(make_app())
    conn = server.client()
    try:
        body = urllib.parse.urlencode([("a", "1"), ("a", "2"), ("b", "x y")])
        conn.request(
            "POST",
            "/form",
            body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        response = conn.getresponse()
        assert response.read() == b'{"form":{"a":["1","2"],"b":["x y"]},"files":{}}'
    finally:
        conn.close()


def test_multipart_form_with_files(start_server: Any) -> None:
    server = start_server(make_app())
    boundary = uuid.uuid4().hex
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="title"\r\n\r\n'
        "Hello\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="upload"; filename="a.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
        "file one\r\n"
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="upload"; filename="b.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
        "x,y\r\n1,2\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    conn = server.client()
    try:
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        conn.request("POST", "/form", body=body, headers=headers)
        response = conn.getresponse()
        assert msgspec.json.decode(response.read()) == {
            "form": {"title": ["Hello"]},
            "files": {
                "upload": [["a.txt", "text/plain", "file one"], ["b.csv", "text/csv", "x,y\r\n1,2"]]
            },
        }
        bad = b"--" + boundary.encode() + b"\r\nno blank line"
        conn.request("POST", "/form", body=bad, headers=headers)
        response = conn.getresponse()
        assert response.status == 400
        assert b"Malformed multipart" in response.read()
    finally:
        conn.close()


def test_absolute_form_target_gives_the_path(start_server: Any) -> None:
    server = start_server(make_app())
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            b"GET http://example.test/inspect/z?q=1 HTTP/1.1\r\nHost: example.test\r\n\r\n"
        )
        data = b""
        while b'"url"' not in data:
            chunk = sock.recv(65536)
            assert chunk, data
            data += chunk
    assert b'"path":"/inspect/z"' in data
    assert b'"query_string":"q=1"' in data
