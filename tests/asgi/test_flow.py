"""Flow control and disconnects through ``hurtle serve`` on the raw probe app.

- A client uploading 200 MB to an app that reads slowly: reading from the socket pauses
  while the app does not consume, so the worker's RSS stays bounded (sampled throughout).
- A client that goes away in the middle of a streamed response: the app's ``receive()``
  returns ``http.disconnect``.
"""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest
from asgi_helpers import rss_kib, served
from testkit import wait_until

pytestmark = pytest.mark.slow

UPLOAD = 200 * 1024 * 1024
RSS_GROWTH_LIMIT_KIB = 48 * 1024  # the upload is 200 MiB: buffering it all would show


def test_a_slow_reader_keeps_a_200_mb_upload_out_of_memory(tmp_path: Path) -> None:
    env = {"HURTLE_REQUEST_MAX_SIZE": str(UPLOAD + 1)}  # the default limit is 100 MiB
    with served("probe:app", tmp_path=tmp_path, env=env) as server:
        (worker,) = server.workers()
        server.json("/pid")  # warm up: imports and first allocations are done
        baseline = rss_kib(worker)
        peak = baseline
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.wait(0.02):
                peak = max(peak, rss_kib(worker))

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            with socket.create_connection((server.host, server.port), timeout=60) as sock:
                sock.sendall(
                    b"POST /slow-upload HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                    b"Content-Length: %d\r\n\r\n" % UPLOAD
                )
                block = b"u" * (1 << 20)
                for _ in range(UPLOAD // len(block)):
                    sock.sendall(block)
                reply = b""
                while chunk := sock.recv(65536):
                    reply += chunk
        finally:
            done.set()
            sampler.join()
        head, _, body = reply.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), reply[:500]
        assert json.loads(body) == {"size": UPLOAD}
        growth = peak - baseline
        print(f"worker RSS: baseline {baseline // 1024} MiB, peak {peak // 1024} MiB")
        assert growth < RSS_GROWTH_LIMIT_KIB, (
            f"the worker grew by {growth // 1024} MiB while receiving 200 MiB "
            f"(baseline {baseline // 1024} MiB, peak {peak // 1024} MiB)"
        )


def test_a_client_leaving_mid_stream_gives_the_app_http_disconnect(tmp_path: Path) -> None:
    with served("probe:app", tmp_path=tmp_path) as server:
        assert server.json("/events") == []
        sock = socket.create_connection((server.host, server.port), timeout=10)
        try:
            sock.sendall(b"GET /forever HTTP/1.1\r\nHost: t\r\n\r\n")
            received = 0
            while received < 256 * 1024:
                received += len(sock.recv(65536))
        finally:
            sock.close()
        events = wait_until(
            lambda: "http.disconnect" in server.json("/events") and server.json("/events"),
            what="http.disconnect in the app",
        )
        assert events[0] == "http.disconnect", events
        assert server.json("/pid")["pid"] in server.workers()
