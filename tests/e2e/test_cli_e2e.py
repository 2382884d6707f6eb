"""``hurtle serve`` a real Hurtle app with 2 workers and the inspector, then drive it with
``hurtle inspect`` (both as child processes, like a user at a shell): info, scale, reload,
stats, a custom command, errors, shutdown; plain and over TLS with an API key. Every
process is stopped by its pid and none may outlive the test.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from testkit import acked_servers, make_certificate, marked, wait_until

SUPPORT = Path(__file__).parent / "support"
HURTLE = str(Path(sys.executable).parent / "hurtle")
API_KEY = "e2e-Secret-42"

pytestmark = pytest.mark.slow

SERVING = re.compile(r"serving on (https?)://([\d.]+):(\d+)")
INSPECTOR = re.compile(r"Inspector (?:listening )?on (https?)://([\d.]+|localhost):(\d+)")


class Served:
    """``hurtle serve`` running in a child process, and ``hurtle inspect`` pointed at it."""

    def __init__(self, tmp_path: Path, env: dict[str, str], args: list[str]) -> None:
        self.mark = uuid.uuid4().hex
        self.log_path = tmp_path / f"serve-{self.mark[:8]}.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("HURTLE_")},
            "PYTHONUNBUFFERED": "1",
            "HURTLE_TEST_MARK": self.mark,
            "HURTLE_INSPECTOR_HOST": "127.0.0.1",
            "HURTLE_INSPECTOR_PORT": "0",
            **env,
        }
        self.cwd = SUPPORT
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [HURTLE, "serve", "cli_e2e_app:app", "--port", "0", *args],
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.inspector_scheme = self.inspector_host = ""
        self.inspector_port = self.http_port = 0

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, regex: re.Pattern[str], timeout: float = 60) -> re.Match[str]:
        def seen() -> re.Match[str] | None:
            match = regex.search(self.log())
            if match is None and self.process.poll() is not None:
                pytest.fail(f"hurtle serve exited ({self.process.returncode}):\n{self.log()}")
            return match

        return wait_until(
            seen, what=lambda: f"no {regex.pattern!r} in:\n{self.log()[-4000:]}", timeout=timeout
        )

    def started(self, inspector: bool) -> Served:
        self.http_port = int(self.wait_log(SERVING)[3])
        if not inspector:
            return self
        match = self.wait_log(INSPECTOR)
        self.inspector_scheme, self.inspector_host = match[1], match[2]
        self.inspector_port = int(match[3])
        return self

    def inspect(
        self, *args: object, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``hurtle inspect ARGS`` with the inspector's address in the environment."""
        child_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("HURTLE_")},
            "HURTLE_TEST_MARK": self.mark,
            "HURTLE_INSPECTOR_HOST": self.inspector_host,
            "HURTLE_INSPECTOR_PORT": str(self.inspector_port),
            **(env or {}),
        }
        return subprocess.run(
            [HURTLE, "inspect", *(str(a) for a in args)],
            env=child_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def ok(self, *args: object, env: dict[str, str] | None = None) -> str:
        result = self.inspect(*args, env=env)
        assert result.returncode == 0, (args, result.stdout, result.stderr, self.log()[-3000:])
        assert result.stderr == "", result.stderr
        return result.stdout

    def info(self, *extra: object, env: dict[str, str] | None = None) -> dict[str, Any]:
        return json.loads(self.ok("--json", *extra, env=env))

    def servers(
        self, *extra: object, env: dict[str, str] | None = None
    ) -> dict[str, dict[str, Any]]:
        return acked_servers(self.info(*extra, env=env)["workers"])

    def get(self, path: str = "/") -> int:
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=10)
        try:
            conn.request("GET", path, headers={"Connection": "close"})
            return conn.getresponse().status
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop the main process by its pid if it still runs; fail if any process survives."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        survivors: set[int] = set()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            survivors = marked(self.mark)
            if not survivors:
                break
            time.sleep(0.05)
        for pid in survivors:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        assert not survivors, f"processes {sorted(survivors)} outlived hurtle serve"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Served]]:
    started: list[Served] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Served:
        served = Served(tmp_path, env or {}, list(args))
        started.append(served)
        return served.started(inspector="--inspector" in args)

    try:
        yield start
    finally:
        for served in started:
            served.stop()


def test_serve_and_inspect_end_to_end(serve: Callable[..., Served]) -> None:
    app = serve("--workers", "2", "--inspector")
    assert app.get() == 200

    # info, for people and as JSON
    table = app.ok()
    assert "clie2e" in table
    for name in ("Hurtle-Main", "Hurtle-Server-0-0", "Hurtle-Server-1-0", "Hurtle-Inspector-0"):
        assert re.search(rf"^{name} +\d+ ", table, re.M), table
    assert re.search(r"^Hurtle-Server-0-0 +\d+ +ACKED +1 +1 ", table, re.M), table
    assert set(app.servers()) == {"Hurtle-Server-0-0", "Hurtle-Server-1-0"}

    # scale 3 --wait: returns once the third worker is up
    out = app.ok("scale", "3", "--wait")
    assert out.startswith("scale: 3 replicas: "), out
    assert set(app.servers()) == {f"Hurtle-Server-{i}-0" for i in range(3)}
    assert app.get() == 200

    # reload --zero-downtime --wait: every worker replaced, generation 2
    before = {name: entry["pid"] for name, entry in app.servers().items()}
    out = app.ok("reload", "--zero-downtime", "--wait")
    assert out.startswith("reload: restarted 3: "), out
    after = app.servers()
    assert set(after) == set(before)
    assert all(entry["generation"] == 2 for entry in after.values()), after
    assert all(after[name]["pid"] != pid for name, pid in before.items())
    assert app.get() == 200

    # stats: RSS and CPU read from the OS
    stats = app.ok("stats")
    row = re.search(r"^Hurtle-Server-0-0 +\d+ +ACKED +2 .* MiB +[\d.]+s ", stats, re.M)
    assert row, stats

    # a custom command with the reference's example arguments
    echoed = json.loads(
        app.ok("something", "one", "two", "three", "--four", "--no-five", "--six=6", "--json")
    )
    assert echoed == {
        "args": ["one", "two", "three"],
        "kwargs": {"four": True, "five": False, "six": "6"},
    }

    # errors and their exit codes
    unknown = app.inspect("nothing_here")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("Error: unknown command nothing_here (available: "), (
        unknown.stderr
    )
    assert "reload" in unknown.stderr and "something" in unknown.stderr
    bad = app.inspect("scale", "0")
    assert bad.returncode == 1
    assert bad.stderr.startswith("Error: scale failed (HTTP 400): "), bad.stderr
    assert "Traceback" not in unknown.stderr + bad.stderr

    # shutdown: the server stops, every process exits, the inspector is gone
    assert app.ok("shutdown") == "shutdown: the server is stopping\n"
    wait_until(lambda: app.process.poll() is not None, what=lambda: app.log()[-3000:], timeout=30)
    assert app.process.returncode == 0, app.log()[-3000:]
    wait_until(lambda: not marked(app.mark), what=lambda: f"left: {marked(app.mark)}", timeout=15)
    gone = app.inspect()
    assert gone.returncode == 3
    assert gone.stderr.startswith("Error: cannot reach the inspector at "), gone.stderr


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


def test_tls_inspector_with_an_api_key(
    serve: Callable[..., Served], certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    app = serve(
        "--workers",
        "2",
        "--inspector",
        env={
            "HURTLE_INSPECTOR_TLS_CERT": str(cert),
            "HURTLE_INSPECTOR_TLS_KEY": str(key),
            "HURTLE_INSPECTOR_API_KEY": API_KEY,
        },
    )
    assert app.inspector_scheme == "https"
    trusted = {"HURTLE_INSPECTOR_CAFILE": str(cert)}

    no_key = app.inspect(env=trusted)
    assert no_key.returncode == 4
    assert no_key.stderr == "Error: authentication failed: check --api-key (none was given)\n"
    wrong = app.inspect("--api-key", "wrong", env=trusted)
    assert wrong.returncode == 4
    assert wrong.stderr == "Error: authentication failed: check --api-key\n"
    untrusted = app.inspect("--secure", "--api-key", API_KEY)
    assert untrusted.returncode == 3
    assert "TLS certificate not trusted" in untrusted.stderr
    plain = app.inspect("--api-key", API_KEY)
    assert plain.returncode == 3, plain.stderr
    assert "cannot reach the inspector" in plain.stderr

    host = f"https://localhost:{app.inspector_port}"
    keyed = {**trusted, "HURTLE_INSPECTOR_API_KEY": API_KEY}
    table = app.ok("--host", host, env={**keyed, "HURTLE_INSPECTOR_PORT": ""})
    assert f"Hurtle inspector at https://localhost:{app.inspector_port}" in table
    assert set(app.servers("--secure", env=keyed)) == {"Hurtle-Server-0-0", "Hurtle-Server-1-0"}
    out = app.ok("scale", "3", "--wait", "--secure", env=keyed)
    assert out.startswith("scale: 3 replicas: "), out
    assert app.ok("shutdown", "--secure", env=keyed) == "shutdown: the server is stopping\n"
    wait_until(lambda: app.process.poll() is not None, what=lambda: app.log()[-3000:], timeout=30)
    assert app.process.returncode == 0


def test_serve_errors_exit_1_without_a_traceback(
    serve: Callable[..., Served], tmp_path: Path
) -> None:
    missing = subprocess.run(
        [HURTLE, "serve", "no_such_module_here:app"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 1
    assert missing.stderr == (
        "Error: could not import 'no_such_module_here': No module named 'no_such_module_here'\n"
    )
    app = serve("--workers", "1")
    taken = subprocess.run(
        [HURTLE, "serve", "cli_e2e_app:app", "--port", str(app.http_port)],
        cwd=SUPPORT,
        env={**app.env, "HURTLE_TEST_MARK": app.mark},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert taken.returncode == 1, taken.stderr
    assert "already in use" in taken.stderr, taken.stderr
    assert "Traceback" not in taken.stderr
    assert app.get() == 200
