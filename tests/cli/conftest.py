"""Fixtures for the hurtle-cli tests; helpers live in support/ (put on sys.path here)."""

from __future__ import annotations

import socket
import ssl
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SUPPORT = Path(__file__).parent / "support"
if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))

from fake_inspector import API_KEY, Running, State  # noqa: E402
from testkit import make_certificate  # noqa: E402


@pytest.fixture
def inspector() -> Iterator[Running]:
    """A plain-HTTP fake inspector with no API key."""
    running = Running(State())
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1, made with openssl."""
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_inspector(certificate: tuple[Path, Path]) -> Iterator[Running]:
    """An HTTPS fake inspector (self-signed certificate) that requires ``API_KEY``."""
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    running = Running(State(api_key=API_KEY), context)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port bound but not listening: connecting to it is refused (and nobody can take it)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections but never answers (the kernel completes the handshake)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()
