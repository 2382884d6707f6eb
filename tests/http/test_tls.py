"""Serving over TLS with a certificate generated at run time."""

from __future__ import annotations

import http.client
import socket
import ssl
from pathlib import Path
from typing import Any

import pytest
from testkit import make_certificate

from hurtle_http import ConfigError, HttpApp, Request, create_ssl_context, file, json
from hurtle_http._tls import load_context


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


def make_app(tmp_path: Path) -> HttpApp:
    app = HttpApp("tls")
    (tmp_path / "page.txt").write_bytes(b"secret page " * 5000)

    @app.post("/")
    def index(request: Request) -> Any:
        return json({"scheme": request.scheme, "body": request.body.decode()})

    @app.get("/file")
    def get_file(request: Request) -> Any:
        return file(tmp_path / "page.txt")

    return app


def test_https_requests_over_a_self_signed_certificate(
    start_server: Any, certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, key = certificate
    server = start_server(make_app(tmp_path), ssl=create_ssl_context(cert, key))
    client_context = ssl.create_default_context(cafile=str(cert))
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=client_context, timeout=5)
    try:
        conn.request("POST", "/", body=b"hello")
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b'{"scheme":"https","body":"hello"}')
        conn.request("GET", "/file", headers={"Range": "bytes=7-10"})
        response = conn.getresponse()
        assert (response.status, response.read()) == (206, b"page")
        conn.request("GET", "/file")
        assert conn.getresponse().read() == b"secret page " * 5000
        assert conn.sock is not None
        assert conn.sock.version() in ("TLSv1.2", "TLSv1.3")
    finally:
        conn.close()
    # Plain HTTP on the TLS port fails the handshake without harming the server.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as plain:
        plain.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        try:
            assert not plain.recv(1024).startswith(b"HTTP/1.1 200")
        except ConnectionResetError:
            pass
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=client_context, timeout=5)
    try:
        conn.request("POST", "/", body=b"again")
        assert conn.getresponse().status == 200
    finally:
        conn.close()


def test_bad_certificate_paths_raise_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot load the TLS certificate"):
        create_ssl_context(tmp_path / "missing.pem", tmp_path / "missing.key")


def test_load_context_accepts_a_context_paths_or_nothing(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    context = load_context({"cert": str(cert), "key": str(key)})
    assert isinstance(context, ssl.SSLContext)
    assert load_context(context) is context
    assert load_context(None) is None
    with pytest.raises(ConfigError, match="needs both paths"):
        load_context({"cert": str(cert)})
