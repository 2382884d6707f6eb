"""``app.run(unix=...)``: every worker answers on the one Unix socket; the file goes at stop."""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path

from meta_helpers import start, wait_until


def unix_get(path: str) -> dict[str, str] | None:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(5)
            client.connect(path)
            client.sendall(b"GET / HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := client.recv(65536):
                data += chunk
    except OSError:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), data
    answer: dict[str, str] = json.loads(body)
    return answer


def test_two_workers_share_one_unix_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "app.sock")
    server = start("unix_app.py", path, tmp_path=tmp_path)
    try:
        server.wait_log(r"serving on http\+unix://" + re.escape(path))
        server.wait_log(r"Hurtle-Main ready")
        names: set[str] = set()
        wait_until(
            lambda: names.add((unix_get(path) or {}).get("worker", "")) or len(names - {""}) == 2,
            what=lambda: f"both workers answering on {path} (saw {names})",
        )
    finally:
        assert server.stop() == 0
    assert not os.path.exists(path)
