"""A stop right after the loop accepted a connection, before ``connection_made`` ran.

The drain must count the connections the server has accepted but not yet made (a TLS
handshake in progress, or an accept whose callback is still queued): it used to look only
at made connections, close, and let the process end with those sockets unanswered, an
EOF without a response (issue 16 item 6).
"""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path
from typing import Any

import pytest
from testkit import make_certificate, wait_until

from hurtle_http import HttpApp, Request, create_ssl_context, text


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


def accept_queue(port: int) -> int | None:
    """How many connections wait in the accept queue of the listener on ``port`` (Linux)."""
    with open("/proc/net/tcp") as table:
        for line in table.readlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:
                return int(fields[4].split(":")[1], 16)
    return None


def make_app() -> HttpApp:
    app = HttpApp("accepted")

    @app.get("/")
    def index(request: Request) -> Any:
        return text("ok")

    return app


@pytest.mark.parametrize("use_uvloop", [True, False], ids=["uvloop", "asyncio"])
def test_a_connection_accepted_before_the_stop_is_answered(
    start_server: Any, certificate: tuple[Path, Path], use_uvloop: bool
) -> None:
    cert, key = certificate
    server = start_server(make_app(), ssl=create_ssl_context(cert, key), use_uvloop=use_uvloop)
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    try:
        # The loop takes it off the queue and waits for the TLS handshake (not made yet).
        wait_until(
            lambda: accept_queue(server.port) == 0, what="the server to accept the connection"
        )
        stopper = threading.Thread(target=server.stop, args=(5.0,))
        stopper.start()
        wait_until(lambda: server.server.draining, what="the drain to begin")
        context = ssl.create_default_context(cafile=str(cert))
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
        stopper.join(10)
    finally:
        raw.close()
    assert data.startswith(b"HTTP/1.1 200 OK\r\n"), data
    assert b"\r\nconnection: close\r\n" in data.lower()
    assert data.endswith(b"ok")
    assert server.server.closed
