"""Socket activation: listening sockets a service manager opened and passed to us.

systemd (and ``systemd-socket-activate``, s6, ...) starts the service with the sockets
already bound, as file descriptors 3, 4, ... and describes them in ``$LISTEN_FDS`` (how
many), ``$LISTEN_PID`` (the process they are meant for: ignored unless it is us, so a
child never adopts its parent's sockets) and ``$LISTEN_FDNAMES`` (colon-separated names,
``FileDescriptorName=`` in a ``.socket`` unit). The main process adopts them instead of
binding; TCP and unix stream sockets both work, like those ``bind_tcp``/``bind_unix`` open.
"""

from __future__ import annotations

import os
import socket
from collections.abc import MutableMapping
from dataclasses import dataclass

from hurtle_worker_manager.errors import WorkerManagerError

__all__ = ["LISTEN_FDS_START", "InheritedSocket", "inherited_sockets"]

LISTEN_FDS_START = 3
_VARIABLES = ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES")


@dataclass(frozen=True)
class InheritedSocket:
    """One adopted listening socket and its ``$LISTEN_FDNAMES`` name ("" when unnamed)."""

    name: str
    sock: socket.socket


def inherited_sockets(
    environ: MutableMapping[str, str] | None = None, *, unset: bool = True
) -> list[InheritedSocket]:
    """The listening sockets passed by a service manager, in fd order (empty when none).

    ``unset`` removes the three variables from ``environ`` (as ``sd_listen_fds(1)`` does)
    so that processes we start do not try to adopt them too. Raises
    ``WorkerManagerError`` when a passed descriptor is not a listening stream socket:
    a unit file that hands over something else is a configuration error to fix.
    """
    env = os.environ if environ is None else environ
    count_text, pid_text = env.get("LISTEN_FDS", ""), env.get("LISTEN_PID", "")
    names_text = env.get("LISTEN_FDNAMES", "")
    if unset:
        for name in _VARIABLES:
            env.pop(name, None)
    if not count_text:
        return []
    try:
        count, pid = int(count_text), int(pid_text or os.getpid())
    except ValueError:
        raise WorkerManagerError(
            f"LISTEN_FDS={count_text!r} / LISTEN_PID={pid_text!r} are not numbers: the "
            "service manager's socket activation variables are garbled"
        ) from None
    if pid != os.getpid() or count <= 0:
        return []
    names = names_text.split(":") if names_text else []
    adopted = []
    for index in range(count):
        fd = LISTEN_FDS_START + index
        name = names[index] if index < len(names) else ""
        try:
            sock = socket.socket(fileno=fd)
        except OSError as exc:
            raise WorkerManagerError(
                f"Socket activation passed fd {fd} ({name or 'unnamed'}) but it is not a "
                f"socket: {exc}"
            ) from None
        if sock.type != socket.SOCK_STREAM or not sock.getsockopt(
            socket.SOL_SOCKET, socket.SO_ACCEPTCONN
        ):
            sock.detach()
            raise WorkerManagerError(
                f"Socket activation passed fd {fd} ({name or 'unnamed'}), which is not a "
                "listening stream socket: use ListenStream= (with Accept=no) in the .socket unit"
            )
        sock.set_inheritable(True)
        adopted.append(InheritedSocket(name, sock))
    return adopted
