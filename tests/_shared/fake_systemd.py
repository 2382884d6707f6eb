"""A fake systemd notify socket: collects the datagrams a service sends to $NOTIFY_SOCKET.

Only the standard library. ``FakeNotifySocket`` binds a datagram socket (a path, or an
abstract ``@name``), and a thread records every message with its arrival time, so tests
can wait for one (``wait_for("READY=1")``) and compare its timing with what they saw.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field

__all__ = ["FakeNotifySocket", "Notification"]


@dataclass
class Notification:
    """One datagram: its ``KEY=value`` fields and when it arrived (time.monotonic())."""

    fields: dict[str, str]
    at: float
    raw: bytes = b""
    lines: list[str] = field(default_factory=list)

    def has(self, line: str) -> bool:
        """Whether ``line`` (e.g. ``READY=1``) is one of its lines."""
        return line in self.lines


class FakeNotifySocket:
    """A listening notify socket; ``address`` is what goes into ``$NOTIFY_SOCKET``."""

    def __init__(self, directory: str | None = None, *, abstract: bool = False) -> None:
        self.messages: list[Notification] = []
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"hurtle-test-{uuid.uuid4().hex}"
            self._sock.bind("\0" + name)
            self.address = "@" + name
        else:
            assert directory is not None
            self.address = os.path.join(directory, f"notify-{uuid.uuid4().hex[:8]}.sock")
            self._sock.bind(self.address)
        self._sock.settimeout(0.1)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._closed.is_set():
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            lines = data.decode(errors="replace").split("\n")
            fields = dict(line.split("=", 1) for line in lines if "=" in line)
            with self._lock:
                self.messages.append(Notification(fields, time.monotonic(), data, lines))

    def snapshot(self) -> list[Notification]:
        """Every message received so far, in order."""
        with self._lock:
            return list(self.messages)

    def with_line(self, line: str) -> list[Notification]:
        """The messages that carry ``line``."""
        return [message for message in self.snapshot() if message.has(line)]

    def wait_for(self, line: str, *, count: int = 1, timeout: float = 20.0) -> Notification:
        """The ``count``-th message carrying ``line``; fails the test after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.with_line(line)
            if len(found) >= count:
                return found[count - 1]
            time.sleep(0.01)
        raise AssertionError(
            f"no {line!r} (#{count}) within {timeout} s; received: "
            f"{[m.lines for m in self.snapshot()]}"
        )

    def close(self) -> None:
        """Stop reading and remove the socket file."""
        self._closed.set()
        self._thread.join(timeout=2)
        self._sock.close()
        if not self.address.startswith("@"):
            try:
                os.unlink(self.address)
            except OSError:
                pass
