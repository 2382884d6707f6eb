"""hurtle_http.testing: the in-process client runs the app as a socket request would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from hurtle_http import (
    Blueprint,
    HttpApp,
    Request,
    Unauthorized,
    file,
    json,
    stream,
    text,
)
from hurtle_http.testing import TestClient


def make_app(tmp_path: Path) -> HttpApp:
    app = HttpApp("testing")
    app.ctx.events = []

    @app.before_server_start
    def starting(app: HttpApp) -> None:
        app.ctx.events.append("start")

    @app.after_server_stop
    def stopped(app: HttpApp) -> None:
        app.ctx.events.append("stop")

    @app.on_request_head
    def guard(request: Request) -> None:
        if request.path == "/private":
            raise Unauthorized("no", scheme="Bearer")

    @app.get("/hello/<name>")
    async def hello(request: Request, name: str) -> Any:
        response = json({"hello": name, "q": request.args.get("q"), "ip": request.ip})
        response.add_cookie("seen", "1")
        return response

    @app.post("/upload", stream=True)
    async def upload(request: Request) -> Any:
        assert request.stream is not None
        return text(str(len(await request.stream.read())))

    @app.post("/json")
    async def echo_json(request: Request) -> Any:
        return json(request.json)

    async def numbers() -> AsyncIterator[str]:
        for n in range(3):
            yield str(n)

    @app.get("/stream")
    async def streamed(request: Request) -> Any:
        return stream(numbers())

    (tmp_path / "a.txt").write_text("file body")

    @app.get("/file")
    async def a_file(request: Request) -> Any:
        return file(tmp_path / "a.txt")

    bp = Blueprint("api", url_prefix="/api", version=1)

    @bp.get("/ping")
    async def ping(request: Request) -> Any:
        return text("pong")

    @bp.on_response
    def tag(request: Request, response: Any) -> None:
        response.headers["X-Api"] = "1"

    app.blueprint(bp)
    return app


def test_the_test_client_covers_the_request_path(tmp_path: Path) -> None:
    app = make_app(tmp_path)

    async def main() -> None:
        async with TestClient(app) as client:
            response = await client.get("/hello/ana", params={"q": "x"})
            assert response.status_code == 200
            assert response.json() == {"hello": "ana", "q": "x", "ip": "127.0.0.1"}
            assert response.cookies["seen"] == "1"
            assert "Secure" in response.headers["set-cookie"]
            assert (await client.post("/upload", content=b"x" * 5000)).text == "5000"
            assert (await client.post("/json", json={"a": [1, 2]})).json() == {"a": [1, 2]}
            assert (await client.get("/stream")).text == "012"
            got = await client.get("/file")
            assert got.text == "file body" and got.headers["content-type"].startswith("text/")
            pong = await client.get("/v1/api/ping/")
            assert (pong.text, pong.headers["x-api"]) == ("pong", "1")
            refused = await client.get("/private")
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"] == "Bearer"
            assert (await client.get("/nowhere")).status_code == 404
            assert (await client.delete("/hello/x")).status_code == 405
        assert app.ctx.events == ["start", "stop"]

    asyncio.run(main())


def test_the_references_synchronous_test_client(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    request, response = app.test_client.get("/hello/bo", params={"q": "1"})
    assert response.status == 200
    assert response.json == {"hello": "bo", "q": "1", "ip": "127.0.0.1"}
    assert request is not None and request.args.get("q") == "1" and request.name == "hello"
    request, response = app.test_client.post("/json", json=[1, 2])
    assert (response.status, response.json) == (200, [1, 2])
    assert response.content_type == "application/json"
    _, response = app.test_client.get("/file")
    assert (response.body, response.text) == (b"file body", "file body")
    _, missing = app.test_client.get("/nowhere")
    assert missing.status == 404 and missing.json is None
    assert app.ctx.events == ["start", "stop"] * 4  # listeners around each call
