"""The framework a Sanic app expects: blueprints, views, url_for, route forms, signals, tasks."""

from __future__ import annotations

import asyncio
import datetime
import json as jsonlib
from pathlib import Path
from typing import Any, ClassVar

import pytest
from testkit import wait_until

from hurtle_http import (
    Blueprint,
    HttpApp,
    HTTPMethodView,
    HurtleHttpError,
    NotFound,
    Request,
    RouteError,
    ServerError,
    URLBuildError,
    json,
    text,
)


def get(server: Any, path: str, method: str = "GET", headers: dict[str, str] | None = None) -> Any:
    conn = server.client()
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        response.body = response.read()
        return response
    finally:
        conn.close()


def test_blueprint_group_versions_prefixes_and_scoped_middleware(start_server: Any) -> None:
    app = HttpApp("bps")
    seen: list[str] = []
    users = Blueprint("users", url_prefix="/users")
    items = Blueprint("items", url_prefix="/items", version=3)

    @users.get("/<uid:int>")
    async def user(request: Request, uid: int) -> Any:
        return json({"uid": uid, "mw": getattr(request.ctx, "mw", [])})

    @users.get("/old", version=1)
    async def old(request: Request) -> Any:
        return text("old")

    @items.get("/")
    async def all_items(request: Request) -> Any:
        return text("items")

    @users.on_request
    def users_only(request: Request) -> None:
        request.ctx.mw = [*getattr(request.ctx, "mw", []), "users"]

    @users.on_response
    def tag(request: Request, response: Any) -> None:
        response.headers["X-Blueprint"] = "users"

    api = Blueprint.group(users, items, url_prefix="/api", version=2)

    @api.on_request
    def group_mw(request: Request) -> None:
        seen.append(request.path)
        request.ctx.mw = ["group"]

    app.blueprint(api)

    @app.get("/plain")
    async def plain(request: Request) -> Any:
        return text("plain")

    server = start_server(app)
    response = get(server, "/v2/api/users/7")
    assert response.status == 200
    assert jsonlib.loads(response.body) == {"uid": 7, "mw": ["group", "users"]}
    assert response.getheader("X-Blueprint") == "users"
    assert get(server, "/v1/api/users/old").body == b"old"  # the route's version wins
    assert get(server, "/v3/api/items").body == b"items"  # the blueprint's version wins
    assert get(server, "/v2/api/items").status == 404
    plain_response = get(server, "/plain")
    assert plain_response.body == b"plain" and plain_response.getheader("X-Blueprint") is None
    assert seen == ["/v2/api/users/7", "/v1/api/users/old", "/v3/api/items"]
    assert app.url_for("users.user", uid=5) == "/v2/api/users/5"
    assert app.url_for("items.all_items") == "/v3/api/items"


def test_blueprint_exception_handler_applies_to_its_routes_only(start_server: Any) -> None:
    app = HttpApp("bperr")
    bp = Blueprint("shop", url_prefix="/shop")

    @bp.get("/missing")
    async def missing(request: Request) -> Any:
        raise NotFound("no such item")

    @bp.exception(NotFound)
    def shop_not_found(request: Request, exc: Exception) -> Any:
        return json({"shop": str(exc)}, 404)

    @app.get("/missing")
    async def app_missing(request: Request) -> Any:
        raise NotFound("plain")

    app.blueprint(bp)
    server = start_server(app)
    assert jsonlib.loads(get(server, "/shop/missing").body) == {"shop": "no such item"}
    assert b"plain" in get(server, "/missing").body
    with pytest.raises(HurtleHttpError, match="already registered"):
        app.blueprint(Blueprint("shop"))


def test_class_based_view_routes_its_methods(start_server: Any) -> None:
    app = HttpApp("views")
    calls: list[str] = []

    def logged(view: Any) -> Any:
        def wrapper(request: Request, *args: Any, **kwargs: Any) -> Any:
            calls.append(request.method)
            return view(request, *args, **kwargs)

        return wrapper

    class Item(HTTPMethodView):
        decorators: ClassVar[list[Any]] = [logged]

        async def get(self, request: Request, key: str) -> Any:
            return text(f"get {key}")

        def post(self, request: Request, key: str) -> Any:
            return text(f"post {key}", 201)

    class Attached(HTTPMethodView, attach=app, uri="/attached"):
        async def get(self, request: Request) -> Any:
            return text("attached")

    app.add_route(Item.as_view(), "/items/<key>")
    server = start_server(app)
    assert get(server, "/items/a").body == b"get a"
    created = get(server, "/items/b", "POST")
    assert (created.status, created.body) == (201, b"post b")
    refused = get(server, "/items/c", "DELETE")
    assert refused.status == 405 and refused.getheader("Allow") == "GET, HEAD, POST"
    assert get(server, "/attached").body == b"attached"
    assert calls == ["GET", "POST"]
    assert app.url_for("Item", key="z") == "/items/z"


def test_url_for_query_anchor_external_and_errors() -> None:
    app = HttpApp("urls")

    @app.get("/posts/<post_id:int>/<slug:slug>")
    async def post(request: Request, post_id: int, slug: str) -> Any:
        return text("")

    @app.get("/hosted", host="example.com")
    async def hosted(request: Request) -> Any:
        return text("")

    url = app.url_for("post", post_id=3, slug="a-b", page=[1, 2], q="x y", _anchor="top")
    assert url == "/posts/3/a-b?page=1&page=2&q=x+y#top"
    assert app.url_for("post", post_id=3, slug="c", _external=True, _server="api.test") == (
        "http://api.test/posts/3/c"
    )
    assert app.url_for("post", post_id=3, slug="c", _scheme="https", _server="h") == (
        "https://h/posts/3/c"
    )
    assert app.url_for("hosted", _external=True) == "http://example.com/hosted"
    with pytest.raises(URLBuildError, match="No route named"):
        app.url_for("nope")
    with pytest.raises(URLBuildError, match="needs the parameter 'slug'"):
        app.url_for("post", post_id=1)
    with pytest.raises(URLBuildError, match="does not match"):
        app.url_for("post", post_id="abc", slug="x")
    with pytest.raises(URLBuildError, match="URL_HOST"):
        app.url_for("post", post_id=1, slug="x", _external=True)
    app.config.URL_HOST = "site.test"
    assert app.url_for("post", post_id=1, slug="x", _external=True).startswith("http://site.test/")


def test_strict_slashes_like_the_reference(start_server: Any) -> None:
    app = HttpApp("slashes")

    @app.get("/loose")
    async def loose(request: Request) -> Any:
        return text("loose")

    @app.get("/loose-dir/")
    async def loose_dir(request: Request) -> Any:
        return text("loose-dir")

    @app.get("/strict", strict_slashes=True)
    async def strict(request: Request) -> Any:
        return text("strict")

    @app.get("/typed/<n:int>")
    async def typed(request: Request, n: int) -> Any:
        return text(str(n))

    strict_app = HttpApp("strict-app", strict_slashes=True)

    @strict_app.get("/only")
    async def only(request: Request) -> Any:
        return text("only")

    server = start_server(app)
    assert get(server, "/loose").body == b"loose"
    assert get(server, "/loose/").body == b"loose"
    assert get(server, "/loose-dir").body == b"loose-dir"
    assert get(server, "/loose-dir/").body == b"loose-dir"
    assert get(server, "/strict").body == b"strict"
    assert get(server, "/strict/").status == 404
    assert get(server, "/typed/4/").body == b"4"
    assert get(server, "/loose/", "POST").status == 405
    strict_server = start_server(strict_app)
    assert get(strict_server, "/only").status == 200
    assert get(strict_server, "/only/").status == 404


def test_parameter_types_and_regex_parameters(start_server: Any) -> None:
    app = HttpApp("params")

    @app.get("/alpha/<word:alpha>")
    async def alpha(request: Request, word: str) -> Any:
        return text(word)

    @app.get("/day/<day:ymd>")
    async def day(request: Request, day: datetime.date) -> Any:
        return json({"type": type(day).__name__, "next": (day + datetime.timedelta(1)).isoformat()})

    @app.get("/file/<name:ext>")
    async def any_ext(request: Request, name: str, ext: str) -> Any:
        return json([name, ext])

    @app.get("/img/<name=int:ext=png|jpg>")
    async def image(request: Request, name: int, ext: str) -> Any:
        return json([name, ext])

    @app.get("/opt/<value:strorempty>/end")
    async def optional(request: Request, value: str) -> Any:
        return text(f"[{value}]")

    @app.get("/code/<code:[a-z]{3}>")
    async def code(request: Request, code: str) -> Any:
        return text(code)

    @app.get("/anchored/<code:^\\d{2}-\\d{2}$>")
    async def anchored(request: Request, code: str) -> Any:
        return text(code)

    server = start_server(app)
    assert get(server, "/alpha/Hello").body == b"Hello"
    assert get(server, "/alpha/h3llo").status == 404
    assert jsonlib.loads(get(server, "/day/2024-02-28").body) == {
        "type": "date",
        "next": "2024-02-29",
    }
    assert get(server, "/day/2024-02-31").status == 404  # not a date
    assert jsonlib.loads(get(server, "/file/report.tar.gz").body) == ["report.tar", "gz"]
    assert jsonlib.loads(get(server, "/img/42.png").body) == [42, "png"]
    assert get(server, "/img/42.gif").status == 404
    assert get(server, "/img/x.png").status == 404
    assert get(server, "/opt//end").body == b"[]"
    assert get(server, "/opt/v/end").body == b"[v]"
    assert get(server, "/code/abc").body == b"abc"
    assert get(server, "/code/abcd").status == 404
    assert get(server, "/anchored/12-34").body == b"12-34"
    with pytest.raises(RouteError, match="Invalid regular expression"):
        app.add_route(alpha, "/bad/<x:[a-z>")


def test_host_routing(start_server: Any) -> None:
    app = HttpApp("hosts")

    @app.get("/", host="api.example.com")
    async def api(request: Request) -> Any:
        return text("api")

    @app.get("/", host=["a.test", "b.test:8080"])
    async def ab(request: Request) -> Any:
        return text("ab")

    @app.get("/")
    async def default(request: Request) -> Any:
        return text("default")

    server = start_server(app)
    assert get(server, "/", headers={"Host": "api.example.com"}).body == b"api"
    assert get(server, "/", headers={"Host": "API.example.com:8000"}).body == b"api"
    assert get(server, "/", headers={"Host": "b.test:8080"}).body == b"ab"
    assert get(server, "/", headers={"Host": "a.test"}).body == b"ab"
    assert get(server, "/", headers={"Host": "other.test"}).body == b"default"


def test_signals_dispatch_condition_and_event(start_server: Any) -> None:
    app = HttpApp("signals")
    received: list[Any] = []

    @app.signal("shop.order.<state>")
    async def on_order(state: str, order: int) -> None:
        received.append((state, order))

    @app.signal("shop.audit.done", condition={"level": "high"})
    def audit(**context: Any) -> None:
        received.append(("audit", context))

    @app.signal("server.init.after")
    async def started(app: HttpApp, loop: Any) -> None:
        received.append(("started", app.name))

    @app.post("/orders/<order:int>")
    async def place(request: Request, order: int) -> Any:
        await app.dispatch("shop.order.placed", context={"order": order}, inline=True)
        await app.dispatch("shop.audit.done", context={"n": 1}, where={"level": "low"}, inline=True)
        await app.dispatch(
            "shop.audit.done", context={"n": 2}, where={"level": "high"}, inline=True
        )
        return text("ok")

    @app.get("/wait")
    async def wait(request: Request) -> Any:
        waiter = asyncio.ensure_future(app.event("shop.order.shipped", timeout=5))
        await asyncio.sleep(0)
        task = await app.dispatch("shop.order.shipped", context={"order": 9})
        context = await waiter
        await task
        return json(context)

    with pytest.raises(HurtleHttpError, match="three dot-separated"):
        app.signal("too.short")(audit)
    with pytest.raises(HurtleHttpError, match="not offered"):
        app.signal("http.lifecycle.request")(audit)

    server = start_server(app)
    assert get(server, "/orders/5", "POST").body == b"ok"
    assert jsonlib.loads(get(server, "/wait").body) == {"order": 9}
    assert ("started", "signals") in received
    assert ("placed", 5) in received and ("shipped", 9) in received
    assert ("audit", {"n": 2}) in received and ("audit", {"n": 1}) not in received


def test_background_tasks_start_with_the_server_and_stop_with_it(start_server: Any) -> None:
    app = HttpApp("tasks")
    ticks: list[int] = []
    stopped = asyncio.Event()

    async def ticker(app: HttpApp) -> None:
        try:
            while True:
                ticks.append(len(ticks))
                await asyncio.sleep(0.01)
        finally:
            ticks.append(-1)

    app.add_task(ticker, name="ticker")

    @app.get("/tasks")
    async def tasks(request: Request) -> Any:
        async def quick() -> None:
            stopped.set()

        await app.add_task(quick(), name="quick")  # type: ignore[misc]
        return json(sorted(app.tasks))

    server = start_server(app)
    wait_until(lambda: len(ticks) >= 3, what="the ticker task to run")
    names = jsonlib.loads(get(server, "/tasks").body)
    assert "ticker" in names
    server.stop()
    assert ticks[-1] == -1  # cancelled when the server stopped


def test_json_dumps_and_default_and_server_error(start_server: Any) -> None:
    app = HttpApp("jsonopts")

    @app.get("/dumps")
    async def dumps(request: Request) -> Any:
        return json({"b": 1, "a": 2}, dumps=jsonlib.dumps, sort_keys=True, indent=1)

    @app.get("/default")
    async def default(request: Request) -> Any:
        return json({"when": datetime.time(1, 2)}, default=str)

    @app.get("/server-error")
    async def server_error(request: Request) -> Any:
        raise ServerError("database down")

    server = start_server(app)
    assert get(server, "/dumps").body == b'{\n "a": 2,\n "b": 1\n}'
    assert jsonlib.loads(get(server, "/default").body) == {"when": "01:02:00"}
    failed = get(server, "/server-error")
    assert failed.status == 500 and b"database down" in failed.body


def test_static_files_stay_inside_their_directory(start_server: Any, tmp_path: Path) -> None:
    root = tmp_path / "public"
    (root / "css").mkdir(parents=True)
    (root / "css" / "site.css").write_text("body{}")
    (root / "index.html").write_text("<h1>home</h1>")
    (tmp_path / "secret.txt").write_text("secret")
    (root / "escape").symlink_to(tmp_path / "secret.txt")
    app = HttpApp("static")
    app.static("/static", root, index="index.html")
    app.static("/favicon.ico", root / "css" / "site.css", name="favicon")
    server = start_server(app)
    css = get(server, "/static/css/site.css")
    assert (css.status, css.body) == (200, b"body{}")
    assert css.getheader("Content-Type", "").startswith("text/css")
    assert get(server, "/static").body == b"<h1>home</h1>"
    assert get(server, "/favicon.ico").body == b"body{}"
    for attack in (
        "/static/../secret.txt",
        "/static/%2e%2e/secret.txt",
        "/static/escape",
        "/static/css/../../secret.txt",
        "/static/nope.css",
        "/static/%00",
        "/static/css%00/site.css",
        "/static/..%2f..%2fsecret.txt",
        "/static//etc/passwd",
    ):
        assert get(server, attack).status == 404, attack
    assert app.url_for("static", filename="css/site.css") == "/static/css/site.css"
    assert app.url_for("static", name="favicon") == "/favicon.ico"


def test_protocol_errors_reach_exception_handlers(start_server: Any) -> None:
    from hurtle_http import BadRequest, PayloadTooLarge, RequestTimeout

    app = HttpApp("protoerr")
    app.config.update(REQUEST_TIMEOUT=0.3, REQUEST_MAX_SIZE=100)
    seen: list[str] = []

    @app.exception(RequestTimeout)
    async def timeout(request: Request, exc: Exception) -> Any:
        seen.append(f"timeout {request.path}")
        return json({"error": "too slow"}, 408)

    @app.exception(PayloadTooLarge)
    def too_large(request: Request, exc: Exception) -> Any:
        seen.append(f"large {request.path}")
        return json({"error": "too big"}, 413)

    @app.exception(BadRequest)
    async def bad(request: Request, exc: Exception) -> Any:
        await asyncio.sleep(0.01)  # awaits: cannot answer a protocol error, the default does
        return text("unreachable", 400)

    @app.post("/upload")
    async def upload(request: Request) -> Any:
        return text("stored")

    server = start_server(app)
    with server.raw() as client:
        client.send(b"GET / HTTP/1.1\r\nHost: x\r\n")  # the head never ends
        response = client.read_response()
        assert response.status == 408 and jsonlib.loads(response.body) == {"error": "too slow"}
    with server.raw() as client:
        client.send(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n" + b"x" * 500)
        response = client.read_response()
        assert response.status == 413 and jsonlib.loads(response.body) == {"error": "too big"}
    with server.raw() as client:
        client.send(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
        response = client.read_response()
        assert response.status == 400 and b"unreachable" not in response.body
    assert seen[0] == "timeout /" and seen[1].startswith("large")


def test_blueprint_websocket_routes_take_prefix_and_version(start_server: Any) -> None:
    from websockets.sync.client import connect

    from hurtle_http import WebSocket

    app = HttpApp("bpws")
    chat = Blueprint("chat", url_prefix="/chat")

    @chat.websocket("/<room>")
    async def room(request: Request, ws: WebSocket, room: str) -> None:
        message = await ws.recv()
        await ws.send(f"{room}: {message}")

    app.blueprint(Blueprint.group(chat, url_prefix="/live", version=2))
    server = start_server(app)
    with connect(f"ws://127.0.0.1:{server.port}/v2/live/chat/lobby") as ws:
        ws.send("hi")
        assert ws.recv(timeout=5) == "lobby: hi"
    assert app.url_for("chat.room", room="x") == "/v2/live/chat/x"


def test_request_knows_its_route(start_server: Any) -> None:
    app = HttpApp("routeinfo")
    bp = Blueprint("users", url_prefix="/users")

    @bp.get("/<uid:int>")
    async def show(request: Request, uid: int) -> Any:
        return json([request.name, request.endpoint, request.uri_template])

    app.blueprint(bp)
    server = start_server(app)
    assert jsonlib.loads(get(server, "/users/3").body) == [
        "users.show",
        "routeinfo.users.show",
        "/users/<uid:int>",
    ]
