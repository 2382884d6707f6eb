"""Serving on a Unix socket (``run(unix=...)``) and inside an existing loop (``create_server``)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from hurtle_http import HttpApp, Request, ServerError, json, text

TESTKIT = os.path.join(os.path.dirname(__file__), "..", "_shared")
if TESTKIT not in sys.path:
    sys.path.insert(0, TESTKIT)

from testkit import wait_until  # noqa: E402


def unix_get(path: str, target: str) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(5)
        client.connect(path)
        client.sendall(
            f"GET {target} HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := client.recv(65536):
            data += chunk
    return data


def test_create_server_inside_a_running_loop_on_tcp_and_unix(tmp_path: Path) -> None:
    app = HttpApp("inloop")
    events: list[str] = []

    @app.after_server_start
    def started(app: HttpApp) -> None:
        events.append("start")

    @app.after_server_stop
    def stopped(app: HttpApp) -> None:
        events.append("stop")

    @app.get("/<name>")
    async def hello(request: Request, name: str) -> Any:
        return json({"peer": request.ip, "path": request.path})

    path = str(tmp_path / "inloop.sock")

    async def main() -> tuple[bytes, bytes]:
        tcp = await app.create_server("127.0.0.1", 0, return_asyncio_server=True)
        unix = await app.create_server(unix=path)
        await tcp.startup()  # the reference's calls work (and do nothing more)
        forever = asyncio.ensure_future(tcp.serve_forever())
        reader, writer = await asyncio.open_connection("127.0.0.1", tcp.port)
        writer.write(b"GET /tcp HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        over_tcp = await reader.read()
        writer.close()
        over_unix = await asyncio.get_running_loop().run_in_executor(None, unix_get, path, "/u")
        assert tcp.is_serving()
        await tcp.close()
        await forever
        await unix.close()
        return over_tcp, over_unix

    over_tcp, over_unix = asyncio.run(main())
    assert over_tcp.startswith(b"HTTP/1.1 200") and b'"path":"/tcp"' in over_tcp
    assert over_unix.startswith(b"HTTP/1.1 200") and b'"path":"/u"' in over_unix
    assert events == ["start", "start", "stop", "stop"]
    assert not os.path.exists(path)  # the socket file is removed at close


def test_unix_socket_in_use_and_foreign_files_are_refused(tmp_path: Path) -> None:
    app = HttpApp("clash")
    taken = str(tmp_path / "taken.sock")
    regular = tmp_path / "file.txt"
    regular.write_text("keep me")

    async def main() -> None:
        first = await app.create_server(unix=taken)
        try:
            with pytest.raises(ServerError, match="already in use"):
                await app.create_server(unix=taken)
            with pytest.raises(ServerError, match="not a socket"):
                await app.create_server(unix=str(regular))
        finally:
            await first.close()

    asyncio.run(main())
    assert regular.read_text() == "keep me"


def test_run_with_unix_serves_until_sigterm(tmp_path: Path) -> None:
    path = str(tmp_path / "run.sock")
    script = textwrap.dedent(
        f"""
        from hurtle_http import HttpApp, text
        app = HttpApp("unixrun")

        @app.get("/")
        async def hello(request):
            return text("over unix")

        app.run(unix={path!r}, access_log=False)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    try:
        wait_until(lambda: os.path.exists(path), what="the Unix socket file")
        response = wait_until(lambda: _try_get(path), what="an answer over the Unix socket")
        assert response.startswith(b"HTTP/1.1 200") and response.endswith(b"over unix")
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
        assert process.stderr is not None
        process.stderr.close()
    assert not os.path.exists(path)


def _try_get(path: str) -> bytes | None:
    try:
        return unix_get(path, "/")
    except OSError:
        return None


def test_run_inside_a_loop_points_to_create_server() -> None:
    app = HttpApp("nested")

    @app.get("/")
    async def hello(request: Request) -> Any:
        return text("x")

    async def main() -> None:
        app.run()

    with pytest.raises(Exception, match="create_server"):
        asyncio.run(main())


def test_an_app_applies_the_log_config_hurtle_serve_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json as jsonlib
    import logging

    config = tmp_path / "log.json"
    config.write_text(
        jsonlib.dumps(
            {
                "version": 1,
                "disable_existing_loggers": False,
                "loggers": {"hurtle.access": {"level": "ERROR"}},
            }
        )
    )
    access = logging.getLogger("hurtle.access")
    before = access.level
    monkeypatch.setenv("HURTLE_LOG_CONFIG", str(config))
    try:
        HttpApp("logcfg")  # what a worker does when it imports the app
        assert access.level == logging.ERROR
    finally:
        access.setLevel(before)
