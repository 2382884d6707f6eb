"""Serving helpers beside ``app.run``: Unix sockets and ``create_server`` in your own loop."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import stat
from typing import TYPE_CHECKING

from hurtle_http.exceptions import ServerError

if TYPE_CHECKING:
    from hurtle_http.server import HttpServer


def bind_unix(path: str, *, backlog: int = 1024, mode: int = 0o660) -> socket.socket:
    """A listening Unix socket at ``path``, replacing a stale socket file (never another file).

    Raises ``ServerError`` when a server already listens there.
    """
    try:
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            raise ServerError(f"{path} exists and is not a socket: refusing to replace it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # nobody listens: left over from an earlier run
        else:
            raise ServerError(
                f"Unix socket {path} is already in use: another server is running there"
            )
        finally:
            probe.close()
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, mode)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServerError(f"Unix socket {path} is already in use") from None
        raise
    return sock


def unix_path(sock: socket.socket) -> str | None:
    """The file of a listening Unix socket (None for TCP); ask before the socket closes."""
    if sock.family == socket.AF_UNIX:
        name = sock.getsockname()
        if isinstance(name, str) and name:
            return name
    return None


def remove_unix(path: str | None) -> None:
    """Remove the file of a Unix socket we bound (nothing for None)."""
    if path:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def describe(sock: socket.socket, secure: bool) -> str:
    """``http://host:port`` or ``unix:/path`` for a log line."""
    name = sock.getsockname()
    if isinstance(name, str):
        return f"unix:{name}"
    host, port = name[:2]
    return f"{'https' if secure else 'http'}://{host}:{port}"


class AsyncioServer:
    """A server started by ``await app.create_server(...)`` in your running loop.

    It already accepts connections (and ran the start listeners). ``await
    server.serve_forever()`` waits until it stops; ``await server.close()`` stops it
    gracefully (the stop listeners run); ``startup``, ``before_start`` and ``after_start``
    exist for code written for the reference and do nothing more.
    """

    def __init__(
        self, server: HttpServer, sock: socket.socket, graceful_timeout: float, owned: bool
    ) -> None:
        self.server = server
        self.sock = sock
        self._owned = owned  # we bound the socket: we close it (and remove its file)
        self._unix_path = unix_path(sock) if owned else None
        self._graceful_timeout = graceful_timeout

    @property
    def port(self) -> int:
        """The TCP port it listens on (0 for a Unix socket)."""
        return self.server.port

    async def startup(self) -> None:
        """Nothing to do: the server started in ``create_server``."""

    async def before_start(self) -> None:
        """Nothing to do: ``before_server_start`` ran in ``create_server``."""

    async def after_start(self) -> None:
        """Nothing to do: ``after_server_start`` ran in ``create_server``."""

    def is_serving(self) -> bool:
        """Whether it still accepts connections."""
        return not self.server.closed and not self.server.draining

    async def serve_forever(self) -> None:
        """Wait until the server is stopped (``close()``, or the task is cancelled)."""
        try:
            await self.server.wait_closed()
        except asyncio.CancelledError:
            await self.close()
            raise

    async def close(self, graceful_timeout: float | None = None) -> None:
        """Stop gracefully: finish in-flight requests, run the stop listeners, close."""
        if not self.server.closed:
            timeout = self._graceful_timeout if graceful_timeout is None else graceful_timeout
            await self.server.stop(timeout)
        if self._owned:
            remove_unix(self._unix_path)
            self.sock.close()

    async def wait_closed(self) -> None:
        """Wait until the server is closed."""
        await self.server.wait_closed()
