"""Socket activation end to end: the app adopts fd 3 (server) and fd 4 (inspector)."""

from __future__ import annotations

import http.client
import json
import re
import socket
import sys
from pathlib import Path

from meta_helpers import served, start, wait_until

WRAPPER = Path(__file__).resolve().parent.parent / "_shared" / "listen_wrapper.py"


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=10)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.unix_path)


def test_server_and_inspector_adopt_the_sockets_a_service_manager_passed(
    tmp_path: Path,
) -> None:
    info = tmp_path / "listen.json"
    inspector_path = str(tmp_path / "inspector.sock")
    wrapper = (
        sys.executable,
        str(WRAPPER),
        "--info",
        str(info),
        "--tcp",
        "127.0.0.1:0",
        "server",
        "--unix",
        inspector_path,
        "inspector",
        "--",
    )
    with served("inspected.py", tmp_path=tmp_path, wrapper=wrapper) as server:
        bound = json.loads(info.read_text())
        assert [server.host, server.port] == bound["server"], "serves on the passed fd 3"
        server.wait_acked(2)
        assert server.request("/")[0] == 200
        server.wait_log(r"Adopted the inspector socket")
        server.wait_log(r"Inspector listening on " + inspector_path)

        def inspector_ready() -> int:
            conn = UnixHTTPConnection(inspector_path)
            try:
                conn.request("GET", "/ready")
                return conn.getresponse().status
            except OSError:
                return 0
            finally:
                conn.close()

        wait_until(lambda: inspector_ready() == 200, what="/ready 200 over the passed unix fd 4")
        log = server.log()
        assert "6457" not in log, "the inspector did not bind its default port"


def test_the_server_serves_on_an_inherited_unix_socket(tmp_path: Path) -> None:
    info = tmp_path / "listen.json"
    path = str(tmp_path / "app.sock")
    wrapper = (sys.executable, str(WRAPPER), "--info", str(info), "--unix", path, "app", "--")
    server = start("full.py", "--port", "0", tmp_path=tmp_path, wrapper=wrapper)
    try:
        server.wait_log(r"serving on http\+unix://" + re.escape(path))

        def answer() -> int:
            conn = UnixHTTPConnection(path)
            try:
                conn.request("GET", "/")
                return conn.getresponse().status
            except OSError:
                return 0
            finally:
                conn.close()

        wait_until(lambda: answer() == 200, what="GET / over the passed unix socket")
    finally:
        assert server.stop() == 0
