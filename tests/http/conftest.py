"""Fixtures for hurtle-http tests: a server in a background thread, raw socket clients."""

from __future__ import annotations

import asyncio
import http.client
import socket
import ssl as _ssl
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
import uvloop

from hurtle_http import HttpApp, HttpServer, bind_socket, serve

T = TypeVar("T")


class ServerThread:
    """Serves an app with ``serve()`` in its own uvloop loop on a background thread."""

    def __init__(
        self,
        app: HttpApp,
        *,
        ssl: _ssl.SSLContext | None = None,
        use_uvloop: bool = True,
        sock: socket.socket | None = None,
        close_listener: bool = False,
    ) -> None:
        self.app = app
        self.close_listener = close_listener
        self.ssl = ssl
        self.sock = sock if sock is not None else bind_socket("127.0.0.1", 0)
        self.port: int = self.sock.getsockname()[1]
        self.loop = uvloop.new_event_loop() if use_uvloop else asyncio.new_event_loop()
        self.server: HttpServer | None = None
        self.ready_calls = 0
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="hurtle-test-server", daemon=True)

    def start(self) -> ServerThread:
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("The test server did not start within 10 s")
        if self._error is not None:
            self.close()
            raise self._error
        return self

    def _ready(self) -> None:
        self.ready_calls += 1

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.run_until_complete(self.loop.shutdown_default_executor())
            self.loop.close()

    async def _main(self) -> None:
        try:
            self.server = await serve(
                self.app,
                self.sock,
                ssl=self.ssl,
                ready=self._ready,
                close_listener=self.close_listener,
            )
        except BaseException as exc:
            self._error = exc
            self._started.set()
            return
        self._started.set()
        await self.server.wait_closed()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``coro`` in the server's loop and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self, graceful_timeout: float = 5.0) -> None:
        """Stop the server gracefully (blocks until done)."""
        if self.server is not None and not self.server.closed and not self.loop.is_closed():
            self.call(self.server.stop(graceful_timeout), graceful_timeout + 10)

    def close(self) -> None:
        try:
            if self._thread.is_alive():
                self.stop()
            self._thread.join(10)
        finally:
            self.sock.close()
            if not self.loop.is_closed() and not self._thread.is_alive():
                self.loop.close()

    def client(self, timeout: float = 5.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def raw(self, timeout: float = 5.0) -> RawClient:
        return RawClient(self.port, timeout)


class RawResponse:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def __repr__(self) -> str:
        return f"RawResponse({self.status}, {self.headers!r}, {self.body[:200]!r})"


class RawClient:
    """A plain TCP client that sends exact bytes and parses responses itself."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buffer += data
        return True

    def _read_line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            if not self._fill():
                raise ConnectionError(f"Closed while reading a line; buffer={self.buffer!r}")
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def _read_exact(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not self._fill():
                raise ConnectionError(f"Closed after {len(self.buffer)} of {size} bytes")
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def read_response(self, method: str = "GET") -> RawResponse:
        """Read one response (Content-Length, chunked or close-delimited)."""
        status_line = self._read_line()
        parts = status_line.split(b" ", 2)
        assert parts[0] == b"HTTP/1.1", status_line
        status = int(parts[1])
        headers: list[tuple[str, str]] = []
        while True:
            line = self._read_line()
            if not line:
                break
            name, _, value = line.partition(b":")
            headers.append((name.decode(), value.strip().decode("latin-1")))
        response = RawResponse(status, headers, b"")
        if method == "HEAD" or status < 200 or status in (204, 304):
            return response
        length = response.header("content-length")
        if length is not None:
            response.body = self._read_exact(int(length))
        elif (response.header("transfer-encoding") or "").lower() == "chunked":
            body = b""
            while True:
                size = int(self._read_line().split(b";")[0], 16)
                if size == 0:
                    while self._read_line():
                        pass
                    break
                body += self._read_exact(size)
                self._read_exact(2)
            response.body = body
        else:
            while self._fill():
                pass
            response.body, self.buffer = self.buffer, b""
        return response

    def is_closed(self, timeout: float = 5.0) -> bool:
        """True if the server closes the connection (EOF or reset) within ``timeout``."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
                self.buffer += data
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False


@pytest.fixture
def start_server() -> Iterator[Callable[..., ServerThread]]:
    """Start ``app`` on a fresh port; every server is stopped at teardown."""
    servers: list[ServerThread] = []

    def start(app: HttpApp, **kwargs: Any) -> ServerThread:
        server = ServerThread(app, **kwargs)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.close()
