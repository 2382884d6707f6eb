"""One ASGI probe app (apps/probe.py) under Hurtle and under uvicorn: the same requests
must give the app the same scope and the client the same observable behaviour.

Compared field by field: the scope the app sees (type, asgi versions, http_version,
method, scheme, path, raw_path, query_string, root_path, headers with their order and
duplicates, client and server hosts, lifespan state, body size), and for the responses:
status, body, and the headers that are not a server's own choice (``date``, ``server``).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from asgi_helpers import Served, served, uvicorn_served

pytestmark = pytest.mark.slow

SERVERS_OWN = {"date", "server"}
FRAMING = {"content-length", "transfer-encoding"}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Served, Served]]:
    """The probe under ``hurtle serve`` (1 worker) and under uvicorn, both with a root path."""
    tmp = tmp_path_factory.mktemp("differential")
    with (
        served("probe:app", "--root-path", "/api", tmp_path=tmp) as hurtle,
        uvicorn_served(
            "probe:app", "--root-path", "/api", "--no-access-log", tmp_path=tmp
        ) as uvicorn,
    ):
        yield hurtle, uvicorn


def raw_exchange(server: Served, request: bytes, *, timeout: float = 10.0) -> bytes:
    """Send raw bytes on a fresh connection and read until the server closes it."""
    with socket.create_connection((server.host, server.port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks)


def parse(response: bytes) -> dict[str, Any]:
    """Status, headers (lower-cased, sorted, without the server's own) and the body.

    Framing is a server's choice too (a body sent in one message may go out with a
    content-length or chunked): ``framing`` says which, ``body`` is the decoded body,
    ``complete`` whether a chunked body ended properly.
    """
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = []
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name, value = name.lower(), value.strip()
        if name == "transfer-encoding" and value.lower() == "chunked":
            chunked = True
        if name not in SERVERS_OWN | FRAMING:
            headers.append((name, value))
    complete = True
    if chunked:
        body, complete = dechunk(body)
    return {"status_line": lines[0], "headers": sorted(headers), "body": body, "complete": complete}


def dechunk(data: bytes) -> tuple[bytes, bool]:
    """The body of a chunked message, and whether its last chunk arrived."""
    out = b""
    while data:
        size_line, sep, rest = data.partition(b"\r\n")
        if not sep:
            return out, False
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return out, True
        out += rest[:size]
        data = rest[size + 2 :]
    return out, False


def both(pair: tuple[Served, Served], request: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    hurtle, uvicorn = pair
    return parse(raw_exchange(hurtle, request)), parse(raw_exchange(uvicorn, request))


def get_scope(server: Served, request: bytes) -> dict[str, Any]:
    reply = parse(raw_exchange(server, request))
    assert reply["status_line"].startswith("HTTP/1.1 200"), reply
    return json.loads(reply["body"])


def assert_same(hurtle: dict[str, Any], uvicorn: dict[str, Any]) -> None:
    """Field by field, so that a failure names the field that differs.

    One difference is by design: ``asgi.spec_version``, the version of the ASGI HTTP spec
    each server implements; Hurtle's may be newer than uvicorn's, never older.
    """
    assert set(hurtle) == set(uvicorn)
    for key in sorted(uvicorn):
        ours, theirs = hurtle[key], uvicorn[key]
        if key == "asgi":
            assert ours["version"] == theirs["version"] == "3.0", (ours, theirs)
            spec = [tuple(map(int, v["spec_version"].split("."))) for v in (ours, theirs)]
            assert spec[0] >= spec[1] >= (2, 3), (ours, theirs)
            continue
        assert ours == theirs, f"{key}: hurtle {ours!r} != uvicorn {theirs!r}"


SCOPE_REQUESTS = {
    "get with an encoded path, a query and duplicate headers": (
        b"GET /scope/a%20b/%E2%82%AC/x%2Fy?x=1&y=%20&x=2 HTTP/1.1\r\n"
        b"Host: example.test:8080\r\nX-Dup: one\r\nX-MiXeD-Case: Yes\r\nX-Dup: two\r\n"
        b"Connection: close\r\n\r\n"
    ),
    "post with a content-length body": (
        b"POST /scope/post HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 11\r\nConnection: close\r\n\r\nhello world"
    ),
    "post with a chunked body": (
        b"POST /scope/chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    ),
    "http/1.0": b"GET /scope/old HTTP/1.0\r\nHost: h\r\n\r\n",
    "a path that already starts with the root path": (
        b"GET /api/scope/twice HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    ),
}


@pytest.mark.parametrize("case", SCOPE_REQUESTS, ids=list(SCOPE_REQUESTS))
def test_the_app_sees_the_same_scope(pair: tuple[Served, Served], case: str) -> None:
    hurtle, uvicorn = pair
    request = SCOPE_REQUESTS[case]
    ours, theirs = get_scope(hurtle, request), get_scope(uvicorn, request)
    assert_same(ours, theirs)


BEHAVIOUR_REQUESTS = {
    "204 without a body": b"GET /empty HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    "content-length sent in two parts": (
        b"GET /sized HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    ),
    "head gets the headers without the body": (
        b"HEAD /sized HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    ),
    "an exception before the response is a 500": (
        b"GET /error-before HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    ),
    "unknown route (the app's own 404)": (
        b"GET /nothing HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    ),
}


KNOWN_DIFFERENCES: dict[str, str] = {}  # case -> why Hurtle differs (a strict xfail)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(
            case,
            id=case,
            marks=[pytest.mark.xfail(reason=KNOWN_DIFFERENCES[case], strict=True)]
            if case in KNOWN_DIFFERENCES
            else [],
        )
        for case in BEHAVIOUR_REQUESTS
    ],
)
def test_the_client_sees_the_same_response(pair: tuple[Served, Served], case: str) -> None:
    ours, theirs = both(pair, BEHAVIOUR_REQUESTS[case])
    assert_same(ours, theirs)


def test_an_exception_after_the_start_closes_the_connection(pair: tuple[Served, Served]) -> None:
    request = b"GET /error-after HTTP/1.1\r\nHost: h\r\n\r\n"
    ours, theirs = both(pair, request)
    assert ours["status_line"] == theirs["status_line"] == "HTTP/1.1 200 OK"
    for response in (ours, theirs):
        assert response["body"] == b"partial"
        assert not response["complete"], "the chunked body must not end properly"


def test_lifespan_state_is_in_every_scope(pair: tuple[Served, Served]) -> None:
    request = b"GET /scope/state HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    for server in pair:
        assert get_scope(server, request)["state"] == {"probe": "ready"}
