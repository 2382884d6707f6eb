"""app.run(): single-process serving, signals and the graceful drain, in a real process."""

from __future__ import annotations

import asyncio
import http.client
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from testkit import wait_until

from hurtle_http import HttpApp, HurtleHttpError, ServerError, bind_socket

SCRIPT = textwrap.dedent(
    """
    import asyncio, logging, sys
    from pathlib import Path
    from hurtle_http import HttpApp, text

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    marker = Path(sys.argv[1])
    app = HttpApp("runner")

    @app.get("/")
    def index(request):
        return text("running")

    @app.get("/slow")
    async def slow(request):
        marker.write_text("started")
        await asyncio.sleep(0.5)
        return text("slow done")

    @app.get("/stop")
    def stop(request):
        request.app.stop()
        return text("stopping")

    @app.after_server_stop
    def bye(app):
        print("after_server_stop ran", flush=True)

    if __name__ == "__main__":
        app.run(host="127.0.0.1", port=0, access_log=False)
    """
)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, Path]]:
    script = tmp_path / "app.py"
    script.write_text(SCRIPT)
    marker = tmp_path / "marker"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(marker)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        port = 0
        deadline = time.monotonic() + 20
        seen = []
        while not port and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen.append(line)
            found = re.search(r"serving on http://127\.0\.0\.1:(\d+)", line)
            if found:
                port = int(found.group(1))
        assert port, f"the server did not report its port; stderr: {''.join(seen)}"
        yield proc, port, marker
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_run_serves_and_drains_on_a_signal(
    running: tuple[subprocess.Popen[str], int, Path], sig: signal.Signals
) -> None:
    proc, port, marker = running
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/")
        assert conn.getresponse().read() == b"running"
    finally:
        conn.close()
    result: dict[str, object] = {}

    def slow_request() -> None:
        slow = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            slow.request("GET", "/slow")
            response = slow.getresponse()
            result["status"], result["body"] = response.status, response.read()
            result["connection"] = response.getheader("Connection")
        finally:
            slow.close()

    thread = threading.Thread(target=slow_request)
    thread.start()
    wait_until(marker.exists, what="the slow request to start", timeout=10)
    os.kill(proc.pid, sig)
    thread.join(15)
    assert result == {"status": 200, "body": b"slow done", "connection": "close"}
    assert proc.wait(15) == 0
    assert proc.stdout is not None
    assert "after_server_stop ran" in proc.stdout.read()


def test_app_stop_from_a_handler_ends_run(
    running: tuple[subprocess.Popen[str], int, Path],
) -> None:
    proc, port, _ = running
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/stop")
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b"stopping")
    finally:
        conn.close()
    assert proc.wait(15) == 0
    assert proc.stdout is not None
    assert "after_server_stop ran" in proc.stdout.read()


def test_run_and_stop_misuse_say_what_to_do() -> None:
    app = HttpApp("misuse")
    with pytest.raises(HurtleHttpError, match=r"server\.stop"):
        app.stop()

    async def inside_a_loop() -> None:
        app.run(port=0)

    with pytest.raises(HurtleHttpError, match="serve"):
        asyncio.run(inside_a_loop())


def test_address_in_use_gives_an_actionable_error() -> None:
    taken = bind_socket("127.0.0.1", 0)
    try:
        port = taken.getsockname()[1]
        with pytest.raises(ServerError, match=r"already in use.*__main__"):
            HttpApp("clash").run(port=port)
    finally:
        taken.close()
