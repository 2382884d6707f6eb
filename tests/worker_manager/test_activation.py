"""Socket activation: sockets passed as fd 3, 4... through an exec wrapper are adopted."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hurtle_worker_manager import WorkerManagerError
from hurtle_worker_manager.activation import inherited_sockets

WRAPPER = Path(__file__).resolve().parent.parent / "_shared" / "listen_wrapper.py"

# Adopts the sockets, reports them, then answers one connection on each.
CHILD = """
import json, os, sys
from hurtle_worker_manager.activation import inherited_sockets
found = inherited_sockets()
print(json.dumps({
    "sockets": [[s.name, s.sock.fileno(), s.sock.family.name] for s in found],
    "env_left": [k for k in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES") if k in os.environ],
}), flush=True)
for item in found:
    conn, _ = item.sock.accept()
    conn.sendall(item.name.encode())
    conn.close()
"""


def test_tcp_and_unix_sockets_passed_as_fd_3_and_4_are_adopted(tmp_path: Path) -> None:
    info = tmp_path / "info.json"
    unix_path = str(tmp_path / "app.sock")
    child = subprocess.Popen(
        [
            sys.executable,
            str(WRAPPER),
            "--info",
            str(info),
            "--tcp",
            "127.0.0.1:0",
            "server",
            "--unix",
            unix_path,
            "inspector",
            "--",
            sys.executable,
            "-c",
            CHILD,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        report = json.loads(child.stdout.readline())
        assert report["sockets"] == [["server", 3, "AF_INET"], ["inspector", 4, "AF_UNIX"]]
        assert report["env_left"] == [], "the variables are removed for the processes we start"
        addresses = json.loads(info.read_text())
        with socket.create_connection(tuple(addresses["server"]), timeout=5) as conn:
            assert conn.recv(100) == b"server"
        with socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(5)
            conn.connect(unix_path)
            assert conn.recv(100) == b"inspector"
        assert child.wait(10) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()


def test_sockets_meant_for_another_pid_are_ignored() -> None:
    env = {"LISTEN_FDS": "1", "LISTEN_PID": str(os.getpid() + 1), "LISTEN_FDNAMES": "x"}
    assert inherited_sockets(env) == []
    assert env == {}


def test_no_variables_no_sockets() -> None:
    assert inherited_sockets({}) == []


def test_garbled_variables_are_a_clear_error() -> None:
    with pytest.raises(WorkerManagerError, match="garbled"):
        inherited_sockets({"LISTEN_FDS": "two", "LISTEN_PID": str(os.getpid())})


def test_a_passed_fd_that_is_not_listening_is_refused(tmp_path: Path) -> None:
    # fd 3 in a child is a connected-but-not-listening UDP socket: a unit file mistake.
    code = (
        "import os, socket\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "os.dup2(s.fileno(), 3)\n"
        "from hurtle_worker_manager import WorkerManagerError\n"
        "from hurtle_worker_manager.activation import inherited_sockets\n"
        "try:\n"
        "    inherited_sockets({'LISTEN_FDS': '1', 'LISTEN_PID': str(os.getpid())})\n"
        "except WorkerManagerError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert "not a listening stream socket" in out.stdout, out
