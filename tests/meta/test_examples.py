"""The examples run and do what their docstrings say."""

from __future__ import annotations

import os
from pathlib import Path

from meta_helpers import served, wait_until

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ENV = {"HURTLE_DEMO_PORT": "0", "HURTLE_INSPECTOR_PORT": "0", "HURTLE_INSPECTOR_HOST": "127.0.0.1"}


def test_hello_runs_two_workers(tmp_path: Path) -> None:
    with served(str(EXAMPLES / "hello.py"), tmp_path=tmp_path, env=ENV, port_args=()) as server:
        names = set()
        wait_until(
            lambda: names.add(server.get_json("/")["worker"]) or len(names) == 2,
            what=f"both workers answering (saw {names})",
        )
        workers = server.get_json("/workers")
        assert {"Hurtle-Main", "Hurtle-Server-0-0", "Hurtle-Server-1-0"} <= set(workers)


def test_shared_ctx_counts_across_three_workers(tmp_path: Path) -> None:
    with served(str(EXAMPLES / "shared_ctx.py"), tmp_path=tmp_path, env=ENV, port_args=()) as s:
        workers: set[str] = set()
        hits: list[int] = []

        def three_workers_counted() -> bool:
            answer = s.get_json("/hit")
            workers.add(answer["worker"])
            hits.append(answer["hits"])
            return len(workers) == 3

        wait_until(three_workers_counted, what=f"hits from 3 workers (saw {workers})")
        assert hits == list(range(1, len(hits) + 1))
        drained = s.get_json("/jobs")["jobs"]
        assert len(drained) == len(hits)


def test_custom_process_takes_tasks(tmp_path: Path) -> None:
    with served(str(EXAMPLES / "custom_process.py"), tmp_path=tmp_path, env=ENV, port_args=()) as s:
        assert s.request("/tasks", method="POST", body=b"resize a.jpg") == (202, b"queued\n")
        done = wait_until(
            lambda: (d := s.get_json("/done"))["count"] == 1 and d, what="the task done"
        )
        assert done["state"] == "STARTED"
        assert done["done"] == ["photos: resize a.jpg"]


def test_bookshop_in_the_reference_style(tmp_path: Path) -> None:
    import json as jsonlib

    with served(str(EXAMPLES / "bookshop.py"), tmp_path=tmp_path, env=ENV, port_args=()) as s:
        assert s.get_json("/v1/api/books") == []
        status, body = s.request("/v1/api/books", method="POST", body=b'{"title": "Dune"}')
        assert status == 201 and jsonlib.loads(body)["title"] == "Dune"
        assert s.get_json("/v1/api/books/1") == {"id": 1, "title": "Dune"}
        status, body = s.request("/v1/api/books/99")
        assert status == 404 and jsonlib.loads(body)["error"] == "no book 99"
        assert s.request("/v1/api/books", method="PUT")[0] == 405
        assert s.request("/v1/api/nothing")[0] == 404
        stats = wait_until(
            lambda: (d := s.get_json("/v2/api/stats"))["heartbeat"] >= 2 and d,
            what="the heartbeat task to tick",
        )
        assert stats["books"] == 1 and stats["added"] == 1
        assert s.get_json("/links") == {
            "books": "/v1/api/books",
            "book_7": "/v1/api/books/7",
            "stats": "/v2/api/stats",
            "css": "/static/site.css",
        }
        assert s.request("/static/site.css") == (200, b"body { font-family: sans-serif; }\n")
        assert s.request("/static/../bookshop.py")[0] == 404
        s.wait_log(r"book added: Dune")
        s.wait_log(r"request [0-9a-f-]{36} POST /v1/api/books")


def test_live_streams_websockets_and_runs_inside_its_own_loop(tmp_path: Path) -> None:
    import json as jsonlib
    import socket

    from meta_helpers import start
    from websockets.sync.client import connect

    path = str(tmp_path / "live.sock")
    server = start(str(EXAMPLES / "live.py"), path, tmp_path=tmp_path, env=ENV)
    try:
        port = int(server.wait_log(r"live ready on port (\d+)").group(1))

        def over_unix(raw: bytes) -> bytes:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
                client.settimeout(10)
                client.connect(path)
                client.sendall(raw)
                data = b""
                while chunk := client.recv(65536):
                    data += chunk
            return data

        ticks = over_unix(b"GET /ticks?n=3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert ticks.startswith(b"HTTP/1.1 200") and b"transfer-encoding: chunked" in ticks
        assert all(f"tick {n}\n".encode() in ticks for n in range(3))
        body = b"x" * 300_000
        uploaded = over_unix(
            b"PUT /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        assert jsonlib.loads(uploaded.partition(b"\r\n\r\n")[2])["bytes"] == len(body)
        with connect(f"ws://127.0.0.1:{port}/echo") as ws:
            ws.send("hello")
            assert ws.recv(timeout=10) == "HELLO"
    finally:
        assert server.stop() == 0
    assert "live stopped" in server.log()
    assert not os.path.exists(path)
