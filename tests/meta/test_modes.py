"""Single-process mode and auto-reload, on real processes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from meta_helpers import APPS, make_certificate, run_to_exit, served, wait_until


def test_single_process_serves_without_manager_or_main_listeners(tmp_path: Path) -> None:
    events_file = tmp_path / "events.txt"
    with served(
        "full.py",
        "--single-process",
        "--workers",
        "1",
        tmp_path=tmp_path,
        env={"EVENTS_FILE": str(events_file)},
        ready=False,
    ) as server:
        status, body = server.request("/")
        assert status == 500  # app.m does not exist without a manager
        status, body = server.request("/manager")
        assert status == 500 and b"app.manager exists only in the main process" in body
        assert server.children() == set(), "single-process mode starts no process"
    events = [line.split()[0] for line in events_file.read_text().splitlines()]
    assert events == [
        "before_server_start",
        "after_server_start",
        "before_server_stop",
        "after_server_stop",
    ]


@pytest.mark.parametrize("start_method", ["spawn", "fork", "forkserver"])
def test_workers_serve_https(tmp_path: Path, start_method: str) -> None:
    cert, key = make_certificate(tmp_path)
    env = {"TLS_CERT": str(cert), "TLS_KEY": str(key)}
    with served(
        "full.py", "--start-method", start_method, tmp_path=tmp_path, env=env, cafile=cert
    ) as server:
        names: set[str] = set()
        wait_until(
            lambda: names.add(server.get_json("/")["name"]) or len(names) == 2,
            what=f"both workers over HTTPS (saw {names})",
        )
    assert "serving on https://127.0.0.1:" in server.log()


def test_a_bad_certificate_is_a_startup_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate")
    code, log, _ = run_to_exit(
        "full.py",
        "--port",
        "0",
        tmp_path=tmp_path,
        env={"TLS_CERT": str(bogus), "TLS_KEY": str(bogus)},
    )
    assert code == 1, log
    assert "could not start: Cannot load the TLS certificate" in log
    assert "Traceback" not in log


def rewrite(path: Path, old: str, new: str) -> None:
    """Replace text in ``path`` and move its mtime forward (coarse file systems)."""
    stat = path.stat()
    path.write_text(path.read_text().replace(old, new))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


@pytest.mark.slow
@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_auto_reload_picks_up_edits_and_survives_broken_code(
    tmp_path: Path, start_method: str
) -> None:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    script = app_dir / "reloadable.py"
    shutil.copy(APPS / "reloadable.py", script)
    env = {"HURTLE_RELOAD_INTERVAL": "0.1"}
    with served(str(script), "--start-method", start_method, tmp_path=tmp_path, env=env) as server:
        assert server.request("/") == (200, b"v1")
        assert "Auto-reload starts workers with spawn" not in server.log()
        workers = server.log
        assert "Hurtle-Reloader-0" in workers()

        rewrite(script, '"v1"', '"v2"')
        wait_until(lambda: server.request("/") == (200, b"v2"), what="the edit served")
        assert server.request("/reloaded") == (200, str(script.resolve()).encode())

        rewrite(script, 'VERSION = "v2"', 'VERSION = "v2" +')  # a syntax error
        server.wait_log(r"SyntaxError")
        assert server.request("/") == (200, b"v2"), "the running worker keeps serving"

        rewrite(script, 'VERSION = "v2" +', 'VERSION = "v3"')
        wait_until(lambda: server.request("/") == (200, b"v3"), what="the fixed code served")
