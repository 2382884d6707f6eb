"""An exec wrapper that does what systemd socket activation does, for tests.

    python listen_wrapper.py --info FILE [--tcp HOST:PORT NAME | --unix PATH NAME]... -- CMD...

Binds and listens on each socket, moves them to fds 3, 4, ..., sets ``LISTEN_FDS``,
``LISTEN_PID`` (its own pid, which ``exec`` keeps) and ``LISTEN_FDNAMES``, writes the bound
addresses as JSON ``{name: [host, port] or path}`` to FILE, then execs CMD.
"""

from __future__ import annotations

import json
import os
import socket
import sys


def main(argv: list[str]) -> None:
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1 :]
    info_path = ""
    sockets: list[tuple[str, socket.socket]] = []
    index = 0
    while index < len(options):
        option = options[index]
        if option == "--info":
            info_path = options[index + 1]
            index += 2
            continue
        value, name = options[index + 1], options[index + 2]
        if option == "--tcp":
            host, port = value.rsplit(":", 1)
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, int(port)))
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind(value)
        sock.listen(128)
        sockets.append((name, sock))
        index += 3
    info = {}
    for number, (name, sock) in enumerate(sockets):
        fd = 3 + number
        address = sock.getsockname()
        info[name] = list(address) if isinstance(address, tuple) else address
        if sock.fileno() != fd:
            os.dup2(sock.fileno(), fd)  # dup2 makes fd inheritable
            sock.close()
        else:
            os.set_inheritable(fd, True)
    os.environ["LISTEN_FDS"] = str(len(sockets))
    os.environ["LISTEN_PID"] = str(os.getpid())
    os.environ["LISTEN_FDNAMES"] = ":".join(name for name, _ in sockets)
    with open(info_path + ".tmp", "w") as file:
        json.dump(info, file)
    os.replace(info_path + ".tmp", info_path)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
