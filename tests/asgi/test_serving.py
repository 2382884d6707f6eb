"""``hurtle serve`` options on ASGI apps: workers, the inspector and its stats, single
process, TLS, factories (spawn), an ``AsgiHost`` with fork and shared_ctx, the access log,
auto-reload, and start failures (a failing lifespan startup, a target that is no app).
"""

from __future__ import annotations

import http.client
import json
import re
import ssl
import textwrap
from pathlib import Path

import pytest
from asgi_helpers import run_to_exit, served
from testkit import make_certificate, wait_until

pytestmark = pytest.mark.slow

INSPECTOR = re.compile(r"Inspector (?:listening )?on (https?)://([\d.]+|localhost):(\d+)")
INSPECTOR_ENV = {"HURTLE_INSPECTOR_HOST": "127.0.0.1", "HURTLE_INSPECTOR_PORT": "0"}


def test_two_workers_and_their_stats_in_the_inspector(tmp_path: Path) -> None:
    with served(
        "probe:app", "--workers", "2", "--inspector", tmp_path=tmp_path, env=INSPECTOR_ENV
    ) as server:
        port = int(server.wait_log(INSPECTOR.pattern).group(3))
        pids = {server.json("/pid")["pid"] for _ in range(40)}
        assert pids <= server.workers() and len(server.workers()) == 2
        assert len(server.children("Inspector")) == 1
        inspector = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

        def served_counts() -> dict[str, int] | None:
            inspector.request("GET", "/")
            workers = json.loads(inspector.getresponse().read())["result"]["workers"]
            counts = {
                name: entry.get("http", {}).get("served", 0)
                for name, entry in workers.items()
                if entry.get("server")
            }
            return counts if sum(counts.values()) >= 40 else None

        counts = wait_until(served_counts, what="40 requests counted in the workers' stats")
        assert len(counts) == 2, counts
        inspector.close()


def test_single_process(tmp_path: Path) -> None:
    with served("probe:app", "--single-process", tmp_path=tmp_path) as server:
        assert server.json("/pid")["pid"] == server.pid
        assert server.children("Server-") == server.children("Inspector") == set()
        got = server.json("/scope/x")
        assert got["state"] == {"probe": "ready"}


def test_tls(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    with served(
        "probe:app", "--tls-cert", str(cert), "--tls-key", str(key), tmp_path=tmp_path
    ) as server:
        assert server.wait_log(r"serving on (https)://").group(1) == "https"
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        conn = http.client.HTTPSConnection(server.host, server.port, timeout=10, context=context)
        conn.request("GET", "/scope/tls")
        assert json.loads(conn.getresponse().read())["scheme"] == "https"
        conn.close()


def test_a_factory_is_called_again_in_each_spawned_worker(tmp_path: Path) -> None:
    with served("probe_factory:make", "--factory", "--workers", "2", tmp_path=tmp_path) as server:
        answers = [server.json("/") for _ in range(30)]
        pids = {answer["pid"] for answer in answers}
        assert pids == server.workers(), "both workers answer"
        assert all(answer["built_in"] == answer["pid"] for answer in answers)


@pytest.mark.parametrize("start_method", ["fork", "forkserver"])
def test_a_host_with_fork_shared_ctx_and_app_m(tmp_path: Path, start_method: str) -> None:
    env = {"HOSTED_START_METHOD": start_method}
    with served("hosted:host", "--workers", "2", tmp_path=tmp_path, env=env) as server:
        answers = [server.json("/") for _ in range(20)]
        assert sorted(answer["hits"] for answer in answers) == list(range(1, 21))
        assert {answer["worker"] for answer in answers} <= set(answers[-1]["servers"])
        assert len(answers[-1]["servers"]) == 2


def test_access_log(tmp_path: Path) -> None:
    with served("probe:app", "--access-log", tmp_path=tmp_path) as server:
        server.json("/scope/access-log-test?x=1")
        server.wait_log(
            r'\[Hurtle-Server-0-0\] .*127\.0\.0\.1 "GET /scope/access-log-test\?x=1 HTTP/1\.1" '
            r"200 [1-9]\d* \d+\.\d{3}ms [0-9a-f-]{36}"
        )


def test_access_log_format_from_the_command_line(tmp_path: Path) -> None:
    fmt = "%(m)s %(U)s q=%(q)s %(s)s bytes=%(B)s id=%(request_id)s"
    with served("probe:app", "--access-log-format", fmt, tmp_path=tmp_path) as server:
        server.json("/scope/formatted?y=2")
        server.wait_log(r"GET /scope/formatted q=y=2 200 bytes=[1-9]\d* id=[0-9a-f-]{36}")


def test_auto_reload_serves_the_new_code(tmp_path: Path) -> None:
    source = tmp_path / "reloaded.py"
    template = textwrap.dedent(
        """
        async def app(scope, receive, send):
            if scope["type"] != "http":
                return
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"version VERSION"})
        """
    )
    source.write_text(template.replace("VERSION", "1"))
    with served("reloaded:app", "--reload", tmp_path=tmp_path, cwd=tmp_path) as server:
        assert server.request("/")[2] == b"version 1"
        source.write_text(template.replace("VERSION", "2"))
        wait_until(
            lambda: server.request("/")[2] == b"version 2", what="the reloaded code", timeout=30
        )


def test_a_failing_lifespan_startup_is_a_start_failure(tmp_path: Path) -> None:
    code, log = run_to_exit(
        "probe:app", "--workers", "2", tmp_path=tmp_path, env={"PROBE_FAIL_STARTUP": "1"}
    )
    assert code == 1, log
    failures = [line for line in log.splitlines() if "could not start" in line]
    assert len(failures) == 1, log
    assert "no database" in failures[0], log


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("probe:EVENTS", "probe:EVENTS is not an app: a list has no run() method"),
        ("probe:scope_report", "probe:scope_report is not an app: a function has no run() "
         "method and is not an ASGI application (a factory? add --factory)"),
    ],
)  # fmt: skip
def test_a_target_that_is_no_app(tmp_path: Path, target: str, message: str) -> None:
    code, log = run_to_exit(target, tmp_path=tmp_path)
    assert (code, log) == (1, f"Error: {message}\n")


def test_root_path_on_a_native_app_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "native.py").write_text("from hurtle import Hurtle\napp = Hurtle('native')\n")
    code, log = run_to_exit("native:app", "--root-path", "/x", tmp_path=tmp_path, cwd=tmp_path)
    assert code == 2
    assert "--root-path is for ASGI apps: native:app's run() takes no root_path" in log


def test_an_asgi2_class(tmp_path: Path) -> None:
    with served("asgi2_app:App", "--workers", "1", tmp_path=tmp_path) as server:
        assert server.request("/double")[2] == b"asgi2 /double"
