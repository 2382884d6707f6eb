"""``hurtle inspect`` against a real HTTP(S) server that speaks the inspector wire format."""

from __future__ import annotations

import json
import re

import pytest
from cli_helpers import hurtle, run_hurtle
from fake_inspector import API_KEY, Running

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_info_shows_app_and_an_aligned_process_table(inspector: Running) -> None:
    result = hurtle("inspect", "--port", inspector.port)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert not ANSI.search(out), "no colours when stdout is not a terminal"
    assert f"Hurtle inspector at http://localhost:{inspector.port}" in out
    assert re.search(r"^  app +FakeApp$", out, re.M)
    assert re.search(r"^  packages +hurtle==0\.1\.0, hurtle-http==0\.1\.0$", out, re.M)
    assert re.search(r"^  auto-reload +disabled$", out, re.M)
    assert re.search(r"^  region +eu-1$", out, re.M), "extra info is listed too"
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("NAME"))
    header = lines[head]
    assert header.split() == [
        "NAME", "PID", "STATE", "GEN", "STARTS", "UPTIME", "RSS", "REQUESTS"
    ]  # fmt: skip
    rows = {line.split()[0]: line for line in lines[head + 1 :]}
    assert set(rows) == {
        "Hurtle-Server-0-0", "Hurtle-Server-1-0", "Hurtle-Inspector-0", "Hurtle-Main"
    }  # fmt: skip
    server = rows["Hurtle-Server-1-0"]
    assert re.fullmatch(r"Hurtle-Server-1-0 +5001 +ACKED +1 +1 +1h 02m +41\.1 MiB +1201", server), (
        server
    )
    assert re.fullmatch(r"Hurtle-Main +4000( +-){6}", rows["Hurtle-Main"]), rows["Hurtle-Main"]
    # Aligned: every right-aligned column ends where its heading ends.
    end = header.index("PID") + len("PID")
    assert all(row[end - 4 : end] in {"5000", "5001", "4999", "4000"} for row in rows.values())
    assert inspector.requests()[0].method == "GET"
    assert inspector.requests()[0].path == "/"


def test_info_with_colours_on_a_terminal(inspector: Running) -> None:
    result = hurtle("inspect", "-p", inspector.port, color=True)
    assert result.exit_code == 0, result.output
    assert "\x1b[32mACKED" in result.stdout, "ACKED is green"
    assert "\x1b[33mSTARTED" in result.stdout, "STARTED is yellow"
    # Without the colours it is exactly the plain output (the fake's uptimes are fixed).
    assert ANSI.sub("", result.stdout) == hurtle("inspect", "-p", inspector.port).stdout


def test_json_prints_the_raw_result(inspector: Running) -> None:
    result = hurtle("inspect", "--json", "--port", inspector.port)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 1, "one line when not a terminal"
    data = json.loads(result.stdout)
    assert set(data) == {"info", "workers"}
    assert data["workers"]["Hurtle-Server-0-0"]["an_unknown_field"] == [1, 2]
    assert data["workers"]["Hurtle-Main"] == {"pid": 4000}


@pytest.mark.parametrize(
    "args",
    [
        ("--port", "{port}", "--json", "scale", "3"),
        ("scale", "3", "--port", "{port}", "--json"),
        ("--json", "scale", "--port", "{port}", "3"),
        ("-p{port}", "scale", "3", "--json"),
        ("scale", "--port={port}", "3", "--json"),
    ],
)
def test_options_are_honoured_wherever_they_stand(
    inspector: Running, args: tuple[str, ...]
) -> None:
    result = hurtle("inspect", *(a.format(port=inspector.port) for a in args))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "replicas": 3,
        "workers": ["Hurtle-Server-0-0", "Hurtle-Server-1-0", "Hurtle-Server-2-0"],
    }
    assert inspector.requests("/scale")[0].body == {"replicas": 3}


def test_every_option_from_the_environment(tls_inspector: Running, certificate: tuple) -> None:
    cert, _ = certificate
    env = {
        "HURTLE_INSPECTOR_HOST": "127.0.0.1",
        "HURTLE_INSPECTOR_PORT": str(tls_inspector.port),
        "HURTLE_INSPECTOR_SECURE": "1",
        "HURTLE_INSPECTOR_API_KEY": API_KEY,
        "HURTLE_INSPECTOR_CAFILE": str(cert),
        "HURTLE_INSPECTOR_TIMEOUT": "5",
    }
    result = hurtle("inspect", "--json", "echo", "x", env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"args": ["x"], "kwargs": {}}
    seen = tls_inspector.requests("/echo")[0]
    assert seen.headers["Authorization"] == f"Bearer {API_KEY}"


def test_command_line_beats_the_environment(inspector: Running, closed_port: int) -> None:
    env = {"HURTLE_INSPECTOR_PORT": str(closed_port)}
    assert hurtle("inspect", "--port", inspector.port, env=env).exit_code == 0
    assert hurtle("inspect", env=env).exit_code == 3


def test_custom_command_arguments(inspector: Running) -> None:
    result = hurtle(
        "inspect", "echo", "one", "two", "three", "--four", "--no-five", "--six=6",
        "--seven", "7", "--with-dash", "--json", "--port", inspector.port,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    body = inspector.requests("/echo")[0].body
    assert body == {
        "args": ["one", "two", "three"],
        "four": True,
        "five": False,
        "six": "6",
        "seven": "7",
        "with_dash": True,
    }
    assert json.loads(result.stdout)["kwargs"]["six"] == "6"
    assert inspector.requests("/echo")[0].headers["Content-Type"] == "application/json"


def test_words_after_double_dash_belong_to_the_command(inspector: Running) -> None:
    result = hurtle(
        "inspect", "--port", inspector.port, "echo", "--", "--host=db1", "--json", "--port",
        "5432", "--help", "--", "-x",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert inspector.requests("/echo")[0].body == {
        "args": ["-x"],
        "host": "db1",
        "json": True,
        "port": "5432",
        "help": True,
    }
    # Without --json for inspect itself the result is shown for people.
    assert "args" in result.stdout
    assert "kwargs" in result.stdout


def test_custom_command_result_for_people(inspector: Running) -> None:
    result = hurtle("inspect", "-p", inspector.port, "echo", "a", "--b=c")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["args    a", 'kwargs  {"b":"c"}']
    shaped = hurtle("inspect", "-p", inspector.port, "shaped")
    assert shaped.stdout == "a plain string result\n"
    assert hurtle("inspect", "-p", inspector.port, "shutdown").stdout == (
        "shutdown: the server is stopping\n"
    )


def test_builtin_commands_send_their_bodies(inspector: Running) -> None:
    port = inspector.port
    reload = hurtle("inspect", "reload", "--zero-downtime", "--wait", "-p", port)
    assert reload.exit_code == 0, reload.output
    assert reload.stdout == "reload: restarted 2: Hurtle-Server-0-0, Hurtle-Server-1-0\n"
    assert inspector.requests("/reload")[0].body == {"zero_downtime": True, "wait": True}
    assert hurtle("inspect", "reload", "-p", port).exit_code == 0
    assert inspector.requests("/reload")[1].body == {}
    scale = hurtle("inspect", "scale", "3", "--wait", "-p", port)
    assert scale.stdout == (
        "scale: 3 replicas: Hurtle-Server-0-0, Hurtle-Server-1-0, Hurtle-Server-2-0\n"
    )
    assert inspector.requests("/scale")[0].body == {"replicas": 3, "wait": True}
    restart = hurtle("inspect", "restart", "Hurtle-Server-2-0", "-p", port)
    assert restart.stdout == "restart: restarted 1: Hurtle-Server-2-0\n"
    assert inspector.requests("/restart")[0].body == {"names": ["Hurtle-Server-2-0"]}
    assert hurtle("inspect", "shutdown", "-p", port).exit_code == 0
    assert inspector.requests("/shutdown")[0].method == "POST"
    assert inspector.requests("/shutdown")[0].body is None


def test_stats_table(inspector: Running) -> None:
    result = hurtle("inspect", "stats", "-p", inspector.port)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"http://localhost:{inspector.port}  ")
    assert lines[1].split() == [
        "NAME", "PID", "STATE", "GEN", "STARTS", "UPTIME", "RSS", "CPU", "REQUESTS", "IN-FLIGHT"
    ]  # fmt: skip
    assert re.fullmatch(
        r"Hurtle-Server-0-0 +5000 +ACKED +1 +1 +1m 05s +48\.0 MiB +1\.25s +10 +0", lines[2]
    ), lines[2]
    assert re.fullmatch(r"Hurtle-Main +4000 +ACKED +- +- +1m 10s( +-){4}", lines[4]), lines[4]
    assert inspector.requests("/stats")[0].method == "POST"


def test_wrong_api_key_exits_4(tls_inspector: Running, certificate: tuple) -> None:
    cert, _ = certificate
    base = ("inspect", "--host", f"https://localhost:{tls_inspector.port}", "--cafile", cert)
    missing = hurtle(*base)
    assert missing.exit_code == 4
    assert missing.stderr == "Error: authentication failed: check --api-key (none was given)\n"
    wrong = hurtle(*base, "--api-key", "nope")
    assert wrong.exit_code == 4
    assert wrong.stderr == "Error: authentication failed: check --api-key\n"
    right = hurtle(*base, "-k", API_KEY)
    assert right.exit_code == 0, right.output
    assert "FakeApp" in right.stdout


def test_self_signed_certificate_is_refused_without_cafile(tls_inspector: Running) -> None:
    result = hurtle("inspect", "--secure", "-p", tls_inspector.port, "-k", API_KEY)
    assert result.exit_code == 3
    assert result.stderr.startswith(
        f"Error: cannot reach the inspector at localhost:{tls_inspector.port}: "
        "TLS certificate not trusted ("
    ), result.stderr
    assert "pass --cafile" in result.stderr
    insecure = hurtle("inspect", "--insecure", "-p", tls_inspector.port, "-k", API_KEY)
    assert insecure.exit_code == 0, insecure.output


def test_plain_http_to_a_tls_inspector_says_try_secure(tls_inspector: Running) -> None:
    result = hurtle("inspect", "-p", tls_inspector.port)
    assert result.exit_code == 3
    assert "try --secure or an https:// host" in result.stderr, result.stderr
    assert "Traceback" not in result.output


def test_https_to_a_plain_inspector_says_drop_secure(inspector: Running) -> None:
    result = hurtle("inspect", "--insecure", "-p", inspector.port)
    assert result.exit_code == 3
    assert "TLS failed" in result.stderr, result.stderr
    assert "try without --secure" in result.stderr


def test_connection_refused_exits_3(closed_port: int) -> None:
    result = hurtle("inspect", "--host", "127.0.0.1", "--port", closed_port)
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: cannot reach the inspector at 127.0.0.1:{closed_port}: connection refused; "
        "is the app running with the inspector enabled on this port?\n"
    )
    assert result.stdout == ""


def test_unknown_host_exits_3() -> None:
    result = hurtle("inspect", "--host", "no-such-host.invalid")
    assert result.exit_code == 3
    assert "cannot reach the inspector at no-such-host.invalid:6457: unknown host" in result.stderr


def test_no_answer_in_time_exits_3(silent_port: int) -> None:
    result = hurtle("inspect", "-p", silent_port, "--timeout", "0.3")
    assert result.exit_code == 3
    assert result.stderr == (
        f"Error: the inspector at localhost:{silent_port} did not answer info within 0.3 s "
        "(a slow command may need a larger --timeout)\n"
    )


def test_slow_command_times_out(inspector: Running) -> None:
    result = hurtle("inspect", "slow", "-p", inspector.port, "--timeout", "0.2")
    assert result.exit_code == 3
    assert "did not answer slow within 0.2 s" in result.stderr


def test_unknown_command_lists_the_available_ones(inspector: Running) -> None:
    result = hurtle("inspect", "-p", inspector.port, "nope")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: unknown command nope (available: info, reload, restart, scale, shutdown, "
        "stats, echo, boom, slow, shaped)\n"
    )


def test_unknown_command_when_the_server_does_not_list_them(inspector: Running) -> None:
    inspector.state.list_available = False
    result = hurtle("inspect", "-p", inspector.port, "nope")
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: unknown command nope (the server did not list its commands; "
        "the built-in ones are reload, restart, scale, shutdown, stats)\n"
    )


def test_bad_value_shows_the_server_message(inspector: Running) -> None:
    result = hurtle("inspect", "-p", inspector.port, "scale", "0")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: scale failed (HTTP 400): replicas must be a whole number from 1 to 64, not 0\n"
    )


def test_command_that_raised_shows_the_server_message(inspector: Running) -> None:
    result = hurtle("inspect", "-p", inspector.port, "boom")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: boom failed (HTTP 500): the command raised RuntimeError: kaboom\n"
    )
    assert "Traceback" not in result.output


def test_not_an_inspector_exits_1(inspector: Running) -> None:
    # The fake answers /health with a non-envelope? No: point at a plain HTTP server instead.
    import http.server
    import threading

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    server.RequestHandlerClass.log_message = lambda *a: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = hurtle("inspect", "-p", server.server_address[1], "nope")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
    assert result.exit_code == 1
    assert "answered HTTP 501" in result.stderr, result.stderr
    assert "not like a Hurtle inspector: is this the inspector's port?" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--host", "ftp://x"), "only http:// and https:// are understood"),
        (("--host", "http://x", "--secure"), "says http:// but --secure, --cafile or"),
        (("--host", "http://x", "--insecure"), "says http:// but --secure, --cafile or"),
        (("--host", "x:7000", "--port", "7001"), "names port 7000 but --port is 7001"),
        (("--host", "http://x/path"), "give a host name, not a URL path"),
        (("--port", "70000"), "70000 is not in the range 1<=x<=65535"),
        (("--timeout", "0"), "0.0 is not in the range x>0"),
        (("reload", "--zero-downtme"), "reload has no option --zero-downtme"),
        (("scale", "x"), "'x' is not a whole number"),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...], message: str) -> None:
    result = hurtle("inspect", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("key", ["ключ", "clé", "a key"])
def test_an_api_key_no_inspector_can_accept_is_a_usage_error(inspector: Running, key: str) -> None:
    for result in (
        hurtle("inspect", "-p", inspector.port, "-k", key),
        hurtle("inspect", "-p", inspector.port, env={"HURTLE_INSPECTOR_API_KEY": key}),
    ):
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("Error: --api-key has a "), result.stderr
        assert "carries only visible ASCII" in result.stderr
        assert "Traceback" not in result.output
    child = run_hurtle("inspect", "-p", inspector.port, "-k", key)
    assert child.returncode == 2, child.stderr
    assert child.stderr.startswith("Error: --api-key has a "), child.stderr
    assert inspector.requests("/") == [], "nothing was sent"


def test_host_forms(inspector: Running) -> None:
    port = inspector.port
    for host in (f"127.0.0.1:{port}", f"http://127.0.0.1:{port}/", f"http://localhost:{port}"):
        result = hurtle("inspect", "--json", "--host", host)
        assert result.exit_code == 0, (host, result.output)
    same = hurtle("inspect", "--json", "--host", f"localhost:{port}", "--port", port)
    assert same.exit_code == 0, same.output


def test_api_key_over_plain_http_to_a_remote_host_warns(closed_port: int) -> None:
    result = hurtle("inspect", "--host", "192.0.2.1", "--timeout", "0.2", "-k", "k")
    assert result.exit_code == 3
    assert result.stderr.startswith(
        "warning: sending the API key to 192.0.2.1:6457 without TLS (use --secure or https://)\n"
    )
    local = hurtle("inspect", "--host", "127.0.0.1", "-p", closed_port, "-k", "k")
    assert "warning" not in local.stderr
