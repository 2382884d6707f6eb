"""The listening sockets ``app.run`` binds (TCP and Unix), and the one message for a
taken address.

A Unix socket file left by an earlier run is replaced; any other file never is.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat

from hurtle_http.exceptions import ServerError

__all__ = [
    "address_in_use",
    "bind_socket",
    "bind_unix",
    "describe",
    "listen",
    "remove_unix",
    "unix_path",
]


def address_in_use(address: str, *, guard_hint: bool = True) -> str:
    """The one message for a taken address: what happened and what to do.

    ``guard_hint`` adds the advice for a script whose server start runs again when the
    module is imported a second time.
    """
    message = f"{address} is already in use: another server is running there"
    if guard_hint:
        message += ', or run your app under `if __name__ == "__main__":`'
    return message


def bind_socket(host: str, port: int, *, backlog: int = 1024) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv6 when ``host`` contains ':')."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServerError(address_in_use(f"Address {host}:{port}")) from exc
        raise ServerError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sock


def bind_unix(path: str, *, backlog: int = 1024, mode: int = 0o660) -> socket.socket:
    """A listening Unix socket at ``path``, replacing a stale socket file (never another file).

    Raises ``ServerError`` when a server already listens there.
    """
    in_use = address_in_use(f"Unix socket {path}", guard_hint=False)
    try:
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            raise ServerError(f"{path} exists and is not a socket: refusing to replace it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # nobody listens: left over from an earlier run
        else:
            raise ServerError(in_use)
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
            raise ServerError(in_use) from None
        raise
    return sock


def listen(host: str, port: int, unix: str | None, *, backlog: int) -> socket.socket:
    """The socket ``app.run`` and ``create_server`` serve on: ``unix`` when given, else TCP."""
    return bind_unix(unix, backlog=backlog) if unix else bind_socket(host, port, backlog=backlog)


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
