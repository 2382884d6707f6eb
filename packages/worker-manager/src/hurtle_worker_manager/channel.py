"""Length-prefixed frames over a stream socket: the transport of every message.

Runs in: both sides (``frame``/``FrameDecoder`` in the main process,
``BlockingChannel`` in managed processes).

Each managed process has its own socket pair with the manager, so every channel has
exactly one writer at each end and frames never interleave. A frame is a 4-byte
big-endian length followed by that many bytes of MessagePack (see ``messages``).
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator

from hurtle_worker_manager.errors import WorkerManagerError

__all__ = ["MAX_FRAME", "BlockingChannel", "FrameDecoder", "FrameError", "frame"]

MAX_FRAME = 16 * 1024 * 1024
_HEADER = struct.Struct("!I")


class FrameError(WorkerManagerError):
    """The peer sent bytes that are not a valid frame; the channel must be closed."""


def frame(payload: bytes) -> bytes:
    """Prefix ``payload`` with its length."""
    if len(payload) > MAX_FRAME:
        raise FrameError(f"frame of {len(payload)} bytes exceeds the {MAX_FRAME} byte limit")
    return _HEADER.pack(len(payload)) + payload


class FrameDecoder:
    """Accumulates received bytes and yields the complete frames they contain."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Add ``data`` and yield every frame now complete; raises ``FrameError``."""
        buffer = self._buffer
        buffer += data
        while len(buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(buffer)
            if size > MAX_FRAME:
                raise FrameError(f"peer announced a {size} byte frame (limit {MAX_FRAME})")
            end = _HEADER.size + size
            if len(buffer) < end:
                return
            payload = bytes(buffer[_HEADER.size : end])
            del buffer[:end]
            yield payload


class BlockingChannel:
    """The process side of a channel: thread-safe sends, a reader thread for receives.

    ``on_frame`` runs in the reader thread for every frame; ``on_close`` runs once when
    the manager's end closes (the manager exited) or the frames became garbage.
    """

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(True)
        self._sock = sock
        self._send_lock = threading.Lock()
        self._reader: threading.Thread | None = None
        self.closed = False

    def send(self, payload: bytes) -> None:
        """Send one frame; raises ``OSError`` if the manager is gone."""
        data = frame(payload)
        with self._send_lock:
            self._sock.sendall(data)

    def start_reader(self, on_frame: Callable[[bytes], None], on_close: Callable[[], None]) -> None:
        """Start the daemon thread that delivers received frames."""
        self._reader = threading.Thread(
            target=self._read_forever, args=(on_frame, on_close), name="hurtle-channel", daemon=True
        )
        self._reader.start()

    def _read_forever(
        self, on_frame: Callable[[bytes], None], on_close: Callable[[], None]
    ) -> None:
        decoder = FrameDecoder()
        try:
            while True:
                data = self._sock.recv(65536)
                if not data:
                    break
                for payload in decoder.feed(data):
                    on_frame(payload)
        except (OSError, FrameError):
            pass
        finally:
            if not self.closed:
                on_close()

    def close(self) -> None:
        """Close the socket; the reader thread ends without calling ``on_close``."""
        self.closed = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
