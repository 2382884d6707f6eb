"""``create_server`` in your own loop: the ``AsyncioServer`` it returns."""

from __future__ import annotations

import asyncio
import socket
from typing import TYPE_CHECKING

from hurtle_http._sockets import remove_unix, unix_path

if TYPE_CHECKING:
    from hurtle_http.server import HttpServer


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
