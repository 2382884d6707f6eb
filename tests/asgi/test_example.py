"""examples/fastapi_app.py does what its docstring says: two workers share a counter, the
inspector's custom commands read and reset it, and the app can scale itself."""

from __future__ import annotations

import http.client
import json
import re
from pathlib import Path
from typing import Any

import pytest
from asgi_helpers import served
from testkit import acked_servers, wait_until

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fastapi_app.py"
INSPECTOR = re.compile(r"Inspector (?:listening )?on (https?)://([\d.]+|localhost):(\d+)")
ENV = {"HURTLE_INSPECTOR_HOST": "127.0.0.1", "HURTLE_INSPECTOR_PORT": "0"}


def inspect(port: int, command: str) -> Any:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(
            "POST", f"/{command}", body=b"{}", headers={"content-type": "application/json"}
        )
        response = conn.getresponse()
        body = json.loads(response.read())
        assert response.status == 200, body
        return body["result"]
    finally:
        conn.close()


def test_the_fastapi_example(tmp_path: Path) -> None:
    with served(
        f"{EXAMPLE}:host", "--workers", "2", "--inspector", tmp_path=tmp_path, env=ENV, cwd=tmp_path
    ) as server:
        port = int(server.wait_log(INSPECTOR.pattern).group(3))
        workers: set[str] = set()
        hits: list[int] = []

        def both_workers_counted() -> bool:
            answer = server.json("/hit")
            workers.add(answer["worker"])
            hits.append(answer["hits"])
            return len(workers) == 2

        wait_until(both_workers_counted, what=f"hits from 2 workers (saw {workers})")
        assert hits == list(range(1, len(hits) + 1))
        assert inspect(port, "hits") == {"hits": len(hits)}
        assert inspect(port, "reset") == {"was": len(hits)}
        assert server.json("/hit")["hits"] == 1
        state = server.json("/workers")["workers"]
        assert {"Hurtle-Server-0-0", "Hurtle-Server-1-0", "Hurtle-Inspector-0"} <= set(state)

        status, _, body = server.request("/scale/1", method="POST")
        assert status == 200, body
        wait_until(
            lambda: len(acked_servers(server.json("/workers")["workers"])) == 1,
            what="1 acked server after the app scaled itself down",
            timeout=30,
        )
