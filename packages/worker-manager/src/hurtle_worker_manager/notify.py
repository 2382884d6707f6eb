"""The systemd notification protocol, with the standard library alone (no libsystemd).

A service manager that starts us with ``$NOTIFY_SOCKET`` listens there for datagrams of
``KEY=value`` lines: ``READY=1``, ``RELOADING=1`` (with ``MONOTONIC_USEC=``),
``STOPPING=1``, ``STATUS=...``, ``WATCHDOG=1``. An address starting with ``@`` is in the
abstract namespace (a leading NUL byte). Sending never raises: a service manager that went
away must not take the server down, so a failed send is logged once and dropped.

``Notifier.from_environ()`` reads (and by default removes, as ``sd_notify`` does when asked
to) ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID``, so that the processes we start
do not believe the service manager is theirs to talk to.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import MutableMapping

__all__ = ["Notifier", "monotonic_usec"]

logger = logging.getLogger("hurtle.manager")

_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


def monotonic_usec() -> int:
    """CLOCK_MONOTONIC in microseconds, the clock ``MONOTONIC_USEC=`` is read against."""
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


class Notifier:
    """Sends notifications to one service-manager socket; does nothing without one.

    ``address`` is the ``$NOTIFY_SOCKET`` value (a path, or ``@name`` for the abstract
    namespace); ``watchdog_usec`` the ``$WATCHDOG_USEC`` interval (0: no watchdog).
    """

    def __init__(self, address: str | None = None, *, watchdog_usec: int = 0) -> None:
        self.address = address or None
        self.watchdog_usec = watchdog_usec if self.address else 0
        self._sock: socket.socket | None = None
        self._warned = False

    @classmethod
    def from_environ(
        cls, environ: MutableMapping[str, str] | None = None, *, unset: bool = True
    ) -> Notifier:
        """The notifier ``$NOTIFY_SOCKET`` describes (a disabled one when unset).

        The watchdog is on when ``$WATCHDOG_USEC`` is a positive integer and
        ``$WATCHDOG_PID`` is unset or names this process. ``unset`` removes the three
        variables from ``environ`` so that child processes do not inherit them.
        """
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET") or None
        watchdog = _positive_int(env.get("WATCHDOG_USEC"))
        pid = env.get("WATCHDOG_PID")
        if pid and _positive_int(pid) != os.getpid():
            watchdog = 0  # the watchdog is another process's to feed
        if unset:
            for name in _VARIABLES:
                env.pop(name, None)
        return cls(address, watchdog_usec=watchdog)

    @property
    def enabled(self) -> bool:
        """Whether there is a service manager to notify."""
        return self.address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between ``WATCHDOG=1`` pings (half ``$WATCHDOG_USEC``), or None."""
        return self.watchdog_usec / 2_000_000 if self.watchdog_usec > 0 else None

    def send(self, *lines: str) -> bool:
        """Send ``KEY=value`` lines as one datagram; False if nothing was sent."""
        if self.address is None or not lines:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        data = "\n".join(line.replace("\n", " ") for line in lines).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(data, target)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                logger.warning("Cannot notify the service manager at %s: %s", self.address, exc)
            return False
        return True

    def ready(self, status: str = "") -> bool:
        """``READY=1``: the service is up (and, after a reload, up again)."""
        return self.send("READY=1", *_status(status))

    def reloading(self, status: str = "") -> bool:
        """``RELOADING=1`` with ``MONOTONIC_USEC=``, for ``Type=notify-reload``."""
        return self.send("RELOADING=1", f"MONOTONIC_USEC={monotonic_usec()}", *_status(status))

    def stopping(self, status: str = "") -> bool:
        """``STOPPING=1``: a shutdown began."""
        return self.send("STOPPING=1", *_status(status))

    def status(self, status: str) -> bool:
        """``STATUS=``: one line for ``systemctl status``."""
        return self.send(*_status(status))

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: the main loop is alive (only when the watchdog is on)."""
        return self.watchdog_usec > 0 and self.send("WATCHDOG=1")

    def close(self) -> None:
        """Close the datagram socket (a later send opens a new one)."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _status(text: str) -> tuple[str, ...]:
    return (f"STATUS={text}",) if text else ()


def _positive_int(value: str | None) -> int:
    try:
        number = int(value or 0)
    except ValueError:
        return 0
    return number if number > 0 else 0
