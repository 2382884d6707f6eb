"""Listening sockets bound once in the main process and inherited by every worker.

Runs in: the main process (the sockets are inherited by server processes).
"""

from __future__ import annotations

import errno
import os
import socket
import stat

from hurtle_worker_manager.errors import AddressInUseError

__all__ = ["address_in_use", "bind_tcp", "bind_unix"]


def address_in_use(address: str, *, guard_hint: bool = True) -> str:
    """The one message for a taken address: what happened and what to do.

    ``guard_hint`` adds the advice for a script whose server start runs again in every
    spawned worker (leave it out when the caller knows the script is guarded).
    """
    advice = "another server is running there: stop it or choose another address"
    if guard_hint:
        advice += (
            "; if this is a script started under the spawn or forkserver start method, the code "
            "that starts the server runs again in every worker: put it under "
            '`if __name__ == "__main__":`'
        )
    return f"{address} is already in use: {advice}"


def bind_tcp(
    host: str, port: int, *, backlog: int = 1024, reuse_port: bool = False
) -> socket.socket:
    """Bind and listen on ``host:port`` (port 0 picks a free one; read it back).

    Raises ``AddressInUseError`` with advice when the address is taken.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port and hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise AddressInUseError(
                errno.EADDRINUSE, address_in_use(f"Address {host}:{port}")
            ) from None
        raise
    sock.set_inheritable(True)
    return sock


def bind_unix(path: str, *, backlog: int = 1024, mode: int = 0o660) -> socket.socket:
    """Bind and listen on a unix socket at ``path``, replacing a stale socket file.

    Every worker shares this one socket (unlike a per-worker bind, which would leave only
    the last worker reachable). Refuses to replace a file that is not a socket.
    """
    try:
        if stat.S_ISSOCK(os.stat(path).st_mode):
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(path)
            except OSError:
                os.unlink(path)  # nobody listens: a stale file from a previous run
            else:
                raise AddressInUseError(errno.EADDRINUSE, address_in_use(f"Unix socket {path}"))
            finally:
                probe.close()
        else:
            raise FileExistsError(f"{path} exists and is not a socket; refusing to replace it")
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, mode)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock
