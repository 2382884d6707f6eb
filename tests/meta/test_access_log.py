"""The access log of a Hurtle app with workers: a formatter in the reference's style reads
each record's fields, ``run(access_log_format=...)`` reaches every worker, a bad format is
refused before anything starts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from meta_helpers import served, wait_until

from hurtle import Hurtle
from hurtle.errors import HurtleError


def test_workers_log_the_fields_a_sanic_formatter_uses(tmp_path: Path) -> None:
    access = tmp_path / "access.log"
    sizes: dict[int, int] = {}
    workers: set[str] = set()
    with served("access_app.py", tmp_path=tmp_path, env={"ACCESS_FILE": str(access)}) as server:
        # Until both workers answered (each applied the config and the format itself).
        while len(workers) < 2 and len(sizes) < 300:
            n = len(sizes)
            status, body = server.request(f"/items/{n}?page={n}")
            assert status == 200, body
            sizes[n] = len(body)
            workers.add(json.loads(body)["worker"])
        assert len(workers) == 2, f"one worker answered all {len(sizes)} requests: {workers}"

        def every_line() -> list[str] | None:
            lines = access.read_text().splitlines()
            return lines if len(lines) >= len(sizes) else None

        lines = wait_until(every_line, timeout=10, what=f"{len(sizes)} access lines")
    pattern = re.compile(
        rf"\[127\.0\.0\.1:\d+\]: GET http://127\.0\.0\.1:{server.port}/items/(\d+)\?page=\1 "
        r"200 (\d+) \| (\d+\.\d{3}) [0-9a-f-]{36} \| GET /items/\1 200 worker-format"
    )
    seen = []
    for line in lines:
        match = pattern.fullmatch(line)
        assert match, line
        item = int(match.group(1))
        assert int(match.group(2)) == sizes[item]
        assert float(match.group(3)) > 0
        seen.append(item)
    assert sorted(seen) == list(range(len(sizes)))


def test_a_bad_access_log_format_is_refused_at_run() -> None:
    app = Hurtle("badformat")
    with pytest.raises(HurtleError, match=r"unknown field %\(x\)s"):
        app.run(port=0, access_log_format="%(h)s %(x)s")
