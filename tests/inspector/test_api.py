"""The HTTP API against a running app: wire format, custom commands, every error case.

These tests share one app (2 fork server workers + the inspector with a custom class)
and never change its workers; the control commands are in test_control.py.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
from insp_helpers import RunningApp, raw_exchange, wait_until

import hurtle_inspector
from hurtle_inspector import Inspector

HTTP_COUNTERS = {"served", "in_flight", "errors", "bad_requests", "connections"}


def test_info_is_wire_compatible_with_the_reference(shared_app: RunningApp) -> None:
    reply = shared_app.call("GET", "/")
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    body = reply.json
    assert set(body) == {"meta", "result"}
    assert body["meta"] == {"action": "info"}
    info = body["result"]["info"]
    assert info["app"] == "ProbeApp"
    assert info["mode"] == "production, w/ test workers"
    assert info["server"] == "hurtle-http"
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", info["python"])
    assert info["platform"]
    assert info["extra"] == {"suite": "inspector"}
    assert f"hurtle-inspector=={hurtle_inspector.__version__}" in info["packages"]
    assert all(re.fullmatch(r"[\w.-]+==\S+", package) for package in info["packages"])
    workers = body["result"]["workers"]
    assert workers["Hurtle-Main"] == {"pid": shared_app.pid}
    for name in ("Hurtle-Server-0-0", "Hurtle-Server-1-0"):
        entry = workers[name]
        assert entry["server"] is True and entry["state"] == "ACKED"
        assert entry["starts"] == 1 and entry["generation"] == 1
        start_at = datetime.fromisoformat(entry["start_at"])  # ISO 8601, as isoformat() writes
        assert start_at.utcoffset() is not None
        assert set(entry["http"]) == {
            "served",
            "in_flight",
            "errors",
            "bad_requests",
            "connections",
        }
    inspector = workers["Hurtle-Inspector-0"]
    assert inspector["server"] is False
    assert inspector["pid"] not in {workers[n]["pid"] for n in workers if n != "Hurtle-Inspector-0"}


def test_the_inspector_process_is_acked(shared_app: RunningApp) -> None:
    wait_until(
        lambda: shared_app.info()["workers"]["Hurtle-Inspector-0"]["state"] == "ACKED",
        what="Hurtle-Inspector-0 to be ACKED",
    )


def test_health_and_ready(shared_app: RunningApp) -> None:
    health = shared_app.call("GET", "/health")
    assert (health.status, health.json) == (200, {"meta": {"action": "health"}, "result": "ok"})
    ready = shared_app.call("GET", "/ready")
    assert (ready.status, ready.json) == (200, {"meta": {"action": "ready"}, "result": "ready"})
    assert shared_app.call("POST", "/health").status == 405


def test_custom_command_gets_positional_and_keyword_arguments(shared_app: RunningApp) -> None:
    body = {"args": ["one", "two", "three"], "four": True, "five": False, "six": "6"}
    reply = shared_app.call("POST", "/hello", body)
    assert reply.status == 200
    assert reply.json == {
        "meta": {"action": "hello"},
        "result": {
            "args": ["one", "two", "three"],
            "kwargs": {"four": True, "five": False, "six": "6"},
        },
    }
    no_body = shared_app.call("POST", "/hello")
    assert no_body.json["result"] == {"args": [], "kwargs": {}}
    wait_until(
        lambda: (
            "hello ('one', 'two', 'three') {'four': True, 'five': False, 'six': '6'}"
            in shared_app.log()
        ),
        what="the command's output in the app log",
    )


def test_custom_commands_typed_async_and_struct_bodies(shared_app: RunningApp) -> None:
    greet = shared_app.call("POST", "/greet", {"args": ["ada"], "times": 2})
    assert (greet.status, greet.json["result"]) == (200, "hello ada, hello ada")
    assert shared_app.call("POST", "/greet", {"name": "bob"}).json["result"] == "hello bob"
    probe = shared_app.call("POST", "/probe", {"level": 3, "tags": ["a"]})
    assert (probe.status, probe.json["result"]) == (200, {"level": 3, "tags": ["a"]})
    names = shared_app.call("POST", "/names").json["result"]
    assert {"Hurtle-Main", "Hurtle-Inspector-0", "Hurtle-Server-0-0"} <= set(names)


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/greet", {"args": [1]}, "Expected `str`, got `int`"),
        ("/greet", {"name": "x", "times": "2"}, "Expected `int`, got `str`"),
        ("/greet", {}, "missing a required argument: 'name'"),
        ("/greet", {"name": "x", "loud": True}, "unexpected keyword argument 'loud'"),
        ("/greet", {"args": ["a", 2, 3]}, "too many positional arguments"),
        ("/greet", {"args": "ada"}, '"args" must be a JSON array'),
        ("/probe", {"level": 1, "extra": 2}, "unknown field `extra`"),
        ("/probe", {}, "missing required field `level`"),
        ("/probe", {"level": "high"}, "Expected `int`, got `str`"),
        ("/names", {"args": ["x"]}, "too many positional arguments"),
        ("/scale", {"replicas": "2"}, "Expected `int`, got `str`"),
        ("/scale", {"replicas": 0}, "Expected `int` >= 1"),
        ("/scale", {"replicas": -3}, "Expected `int` >= 1"),
        ("/scale", {"replicas": 2.5}, "Expected `int`, got `float`"),
        ("/scale", {"replicas": True}, "Expected `int`, got `bool`"),
        ("/scale", {"replicas": 7}, "Cannot scale to 7 workers: choose 1 to 6"),
        ("/scale", {}, "missing required field `replicas`"),
        ("/scale", {"replicas": 2, "timeout": 0}, "Expected `float` > 0.0"),
        ("/reload", {"zero_downtime": "yes"}, "Expected `bool`, got `str`"),
        ("/reload", {"zero_downtime": True, "now": 1}, "unknown field `now`"),
        ("/restart", {"names": []}, "length >= 1"),
        ("/restart", {"names": ["Hurtle-Nope-0"]}, "No process named Hurtle-Nope-0"),
        ("/restart", {}, "missing required field `names`"),
        ("/shutdown", {"force": True}, "unexpected keyword argument 'force'"),
        ("/stats", {"args": [1]}, "too many positional arguments"),
    ],
)
def test_bad_arguments_are_400_with_a_message(
    shared_app: RunningApp, path: str, body: object, message: str
) -> None:
    reply = shared_app.call("POST", path, body)
    assert reply.status == 400, reply
    assert reply.json["meta"] == {"action": path.strip("/")}
    assert message in reply.json["error"]
    assert "result" not in reply.json


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{", "not valid JSON"),
        (b"{'a': 1}", "not valid JSON"),
        (b"\xff\xfe\x00", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"text"', "must be a JSON object"),
        (b"null", "must be a JSON object"),
        (b"3", "must be a JSON object"),
    ],
)
@pytest.mark.parametrize("path", ["/hello", "/scale", "/reload"])
def test_invalid_json_and_non_object_bodies_are_400(
    shared_app: RunningApp, path: str, raw: bytes, message: str
) -> None:
    reply = shared_app.call("POST", path, raw=raw, headers={"Content-Type": "application/json"})
    assert reply.status == 400, reply
    assert message in reply.json["error"]


def test_deeply_nested_json_is_400(shared_app: RunningApp) -> None:
    deep = b'{"a": ' + b"[" * 50000 + b"]" * 50000 + b"}"
    reply = shared_app.call("POST", "/hello", raw=deep)
    assert (reply.status, reply.json["error"]) == (400, "The request body is nested too deeply")
    typed = shared_app.call("POST", "/scale", raw=b'{"replicas": ' + b"[" * 50000 + b"]" * 50000)
    assert typed.status == 400


def test_query_parameters_are_checked(shared_app: RunningApp) -> None:
    assert "takes no query parameters" in shared_app.call("POST", "/hello?x=1").json["error"]
    unknown = shared_app.call("POST", "/scale?replicas=2&now=1", {"replicas": 2})
    assert (unknown.status, unknown.json["error"]) == (400, "Query parameter 'now' is not known")
    bad = shared_app.call("POST", "/reload?wait=maybe")
    assert bad.status == 400 and "Query parameter 'wait'" in bad.json["error"]
    twice = shared_app.call("POST", "/reload?wait=true&wait=false")
    assert (twice.status, twice.json["error"]) == (400, "Query parameter 'wait' is given twice")


def test_unknown_command_is_404_and_wrong_method_405(shared_app: RunningApp) -> None:
    for path in ("/nope", "/info", "/hello/extra", "/label", "/prop", "/static"):
        reply = shared_app.call("POST", path)
        assert reply.status == 404, (path, reply)
        assert reply.json["meta"] == {"action": path.strip("/")}
        assert "Unknown command" in reply.json["error"]
        available = reply.json["available"]
        assert {"reload", "scale", "shutdown", "stats", "restart", "info"} <= set(available)
        assert not any(name.startswith("_") for name in available)
    for method, path, allowed in [
        ("GET", "/reload", "POST"),
        ("GET", "/hello", "POST"),
        ("PUT", "/scale", "POST"),
        ("DELETE", "/shutdown", "POST"),
        ("POST", "/", "GET, HEAD"),
    ]:
        reply = shared_app.call(method, path)
        assert reply.status == 405, (method, path, reply)
        assert reply.headers["allow"] == allowed
        assert "takes" in reply.json["error"]


def _dunders() -> list[str]:
    names = {name for klass in Inspector.__mro__ for name in dir(klass) if name.startswith("__")}
    return sorted(names | {"__dir__", "__setattr__", "__getattribute__", "__class__", "__dict__"})


def test_nothing_private_or_inherited_from_object_is_a_command(shared_app: RunningApp) -> None:
    paths = [f"/{name}" for name in _dunders()]
    paths += ["/_anything", "/_secret", "/_control", "/_outcome", "/_app_info", "/multiplexer"]
    paths += ["/settings", "/%5F%5Fdir%5F%5F", "/__init__/x"]
    for path in paths:
        for method in ("POST", "GET"):
            reply = shared_app.call(method, path, {"args": ["app_info", {"app": "PWNED"}]})
            assert reply.status == 404, (method, path, reply)
    assert shared_app.info()["info"]["app"] == "ProbeApp"


def test_a_raising_command_is_500_and_everything_keeps_running(shared_app: RunningApp) -> None:
    before = shared_app.info()["workers"]
    reply = shared_app.call("POST", "/boom")
    assert reply.status == 500
    assert reply.json == {"meta": {"action": "boom"}, "error": "boom failed: kaboom"}
    unencodable = shared_app.call("POST", "/unencodable")
    assert unencodable.status == 500 and "cannot be encoded as JSON" in unencodable.json["error"]
    refused = shared_app.call("POST", "/refuse")
    assert (refused.status, refused.json["error"]) == (409, "not today")
    after = shared_app.info()["workers"]
    assert after["Hurtle-Inspector-0"]["pid"] == before["Hurtle-Inspector-0"]["pid"]
    assert shared_app.app_pid() in {e["pid"] for n, e in after.items() if e.get("server")}


def test_stats_merge_the_manager_numbers_with_http_counters(shared_app: RunningApp) -> None:
    for _ in range(6):
        shared_app.app_pid()

    def served() -> object:
        workers = shared_app.call("POST", "/stats").json["result"]["workers"]
        total = sum(w["http"]["served"] for w in workers.values() if w["http"])
        return workers if total >= 6 else None

    workers = wait_until(served, what="6 requests in the servers' counters")
    state = shared_app.info()["workers"]
    assert set(workers) == {"Hurtle-Server-0-0", "Hurtle-Server-1-0", "Hurtle-Inspector-0"}
    for name, row in workers.items():
        assert row["pid"] == state[name]["pid"]
        assert row["state"] == "ACKED" and row["generation"] == 1 and row["starts"] == 1
        assert row["uptime"] > 0 and row["rss"] > 1_000_000 and row["cpu_seconds"] >= 0
        assert row["server"] is (name != "Hurtle-Inspector-0")
        if row["server"]:
            assert set(row["http"]) == HTTP_COUNTERS
        else:
            assert row["http"] is None


def test_hostile_input_leaves_the_inspector_and_the_app_serving(shared_app: RunningApp) -> None:
    inspector_pid = shared_app.info()["workers"]["Hurtle-Inspector-0"]["pid"]
    port = shared_app.inspector_port
    attacks = [
        b"GARBAGE\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # a TLS hello
        b"POST /reload HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n{}",
        b"POST /reload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{}",
        b"POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + b"X-Big: " + b"b" * 20000 + b"\r\n\r\n",
        b"POST /scale HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nConnection: close\r\n\r\n"
        + b'{"replica',
        b"POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\nConnection: close\r\n\r\n"
        + b'{"a":\xff}',
        b"GET / HTTP/9.9\r\n\r\n",
        b"\x00" * 4096,
    ]
    for attack in attacks:
        answer = raw_exchange(port, attack, timeout=3)
        if answer:
            status = int(answer.split(b" ", 2)[1])
            assert 400 <= status < 600, answer[:200]
            _, _, body = answer.partition(b"\r\n\r\n")
            if body:
                assert "error" in json.loads(body), body
    huge = shared_app.call("POST", "/hello", raw=b'{"a": "' + b"x" * (2 * 1024 * 1024) + b'"}')
    assert huge.status == 413 and "error" in huge.json
    assert shared_app.call("GET", "/health").status == 200
    after = shared_app.info()["workers"]
    assert after["Hurtle-Inspector-0"]["pid"] == inspector_pid
    assert after["Hurtle-Inspector-0"]["state"] == "ACKED"
    assert shared_app.app_pid() in {
        after[n]["pid"] for n in ("Hurtle-Server-0-0", "Hurtle-Server-1-0")
    }
