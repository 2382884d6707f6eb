"""Routing by decorator, middleware, exception handlers and the error responses."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hurtle_http import (
    BadRequest,
    Forbidden,
    HttpApp,
    HTTPException,
    HTTPResponse,
    HurtleHttpError,
    MethodNotAllowed,
    NotFound,
    Request,
    RouteError,
    Unauthorized,
    empty,
    json,
    text,
)


def make_app() -> HttpApp:
    app = HttpApp("routes")

    @app.get("/")
    async def index(request: Request) -> Any:
        return json({"hello": "world"})

    for method in ("post", "put", "patch", "delete", "options"):

        async def echo_method(request: Request) -> Any:
            return text(request.method)

        getattr(app, method)("/m")(echo_method)

    @app.head("/h")
    def explicit_head(request: Request) -> Any:
        return empty(200, headers={"X-Head": "explicit"})

    @app.route("/multi", methods=["GET", "POST"])
    def multi(request: Request) -> Any:
        return text(f"multi {request.method}")

    @app.get("/sync")
    def sync_handler(request: Request) -> Any:
        return text("sync")

    return app


def test_each_method_decorator_routes_its_method(start_server: Any) -> None:
    server = start_server(make_app())
    conn = server.client()
    try:
        for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            conn.request(method, "/m")
            response = conn.getresponse()
            assert (response.status, response.read()) == (200, method.encode())
        conn.request("GET", "/sync")
        assert conn.getresponse().read() == b"sync"
        conn.request("POST", "/multi")
        assert conn.getresponse().read() == b"multi POST"
    finally:
        conn.close()


def test_head_is_automatic_for_get_routes(start_server: Any) -> None:
    server = start_server(make_app())
    with server.raw() as raw:
        raw.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n")
        response = raw.read_response("HEAD")
        assert response.status == 200
        assert response.header("content-length") == str(len(b'{"hello":"world"}'))
        raw.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert raw.read_response().body == b'{"hello":"world"}'
        raw.send(b"HEAD /h HTTP/1.1\r\nHost: t\r\n\r\n")
        assert raw.read_response("HEAD").header("x-head") == "explicit"


def test_unknown_path_is_404_and_wrong_method_405_with_allow(start_server: Any) -> None:
    server = start_server(make_app())
    conn = server.client()
    try:
        conn.request("GET", "/missing")
        response = conn.getresponse()
        assert response.status == 404
        assert b"/missing" in response.read()
        conn.request("DELETE", "/")
        response = conn.getresponse()
        response.read()
        assert response.status == 405
        assert response.getheader("Allow") == "GET, HEAD"
    finally:
        conn.close()


def test_request_middleware_can_answer_and_response_middleware_can_change(
    start_server: Any,
) -> None:
    app = HttpApp("mw")
    order: list[str] = []

    @app.on_request
    async def guard(request: Request) -> Any:
        order.append("request")
        if request.path == "/blocked":
            return text("blocked by middleware", 403)
        request.ctx.seen = True
        return None

    @app.middleware("response")
    def first(request: Request, response: Any) -> None:
        order.append("first")
        response.headers["X-First"] = "1"

    @app.on_response
    async def second(request: Request, response: Any) -> Any:
        order.append("second")
        if request.path == "/replace":
            return text("replaced")
        return None

    @app.get("/ok")
    def ok(request: Request) -> Any:
        return text(f"seen={request.ctx.seen}")

    @app.get("/replace")
    def replace(request: Request) -> Any:
        return text("original")

    server = start_server(app)
    conn = server.client()
    try:
        conn.request("GET", "/blocked")
        response = conn.getresponse()
        assert (response.status, response.read()) == (403, b"blocked by middleware")
        assert response.getheader("X-First") == "1"
        conn.request("GET", "/ok")
        assert conn.getresponse().read() == b"seen=True"
        conn.request("GET", "/replace")
        assert conn.getresponse().read() == b"replaced"
    finally:
        conn.close()
    assert order[:3] == ["request", "second", "first"], "response middleware runs in reverse"


class TeapotError(Exception):
    pass


class SmallTeapotError(TeapotError):
    pass


def test_exception_handlers_match_by_class_and_subclass(start_server: Any) -> None:
    app = HttpApp("errors")

    @app.exception(TeapotError)
    async def teapot(request: Request, exc: Exception) -> Any:
        return text(f"teapot: {type(exc).__name__}", 418)

    @app.exception(NotFound)
    def custom_404(request: Request, exc: Exception) -> Any:
        return json({"missing": request.path}, 404)

    @app.get("/teapot")
    def raises(request: Request) -> Any:
        raise SmallTeapotError

    server = start_server(app)
    conn = server.client()
    try:
        conn.request("GET", "/teapot")
        response = conn.getresponse()
        assert (response.status, response.read()) == (418, b"teapot: SmallTeapotError")
        conn.request("GET", "/nowhere")
        response = conn.getresponse()
        assert (response.status, response.read()) == (404, b'{"missing":"/nowhere"}')
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (BadRequest("bad input"), 400),
        (Unauthorized("who are you", scheme="Bearer"), 401),
        (Forbidden(), 403),
        (NotFound(), 404),
        (MethodNotAllowed(allowed=["GET"]), 405),
        (HTTPException("custom", 409), 409),
    ],
)
def test_http_exceptions_become_their_status(
    start_server: Any, exc: HTTPException, status: int
) -> None:
    app = HttpApp("family")

    @app.get("/")
    def raises(request: Request) -> Any:
        raise exc

    server = start_server(app)
    conn = server.client()
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        body = response.read()
        assert response.status == status
        assert exc.message.encode() in body
        if status == 401:
            assert response.getheader("WWW-Authenticate") == "Bearer"
        if status == 405:
            assert response.getheader("Allow") == "GET"
    finally:
        conn.close()
    assert isinstance(exc, HurtleHttpError)


@pytest.mark.parametrize("debug", [False, True])
def test_handler_crash_is_500_with_traceback_only_in_debug(
    start_server: Any, debug: bool, caplog: pytest.LogCaptureFixture
) -> None:
    app = HttpApp("crash")
    app.config.DEBUG = debug

    @app.get("/")
    async def crash(request: Request) -> Any:
        raise ZeroDivisionError("secret detail")

    @app.get("/not-a-response")
    def wrong(request: Request) -> Any:
        return {"not": "a response"}

    server = start_server(app)
    conn = server.client()
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        body = response.read()
        assert response.status == 500
        assert (b"secret detail" in body) is debug
        assert (b"Traceback" in body) is debug
        conn.request("GET", "/not-a-response")
        response = conn.getresponse()
        assert response.status == 500
        response.read()
        conn.request("GET", "/nowhere")  # the worker still serves
        assert conn.getresponse().status == 404
    finally:
        conn.close()
    assert any("secret detail" in r.getMessage() or r.exc_info for r in caplog.records)


def test_json_error_format(start_server: Any) -> None:
    app = HttpApp("jsonerr")
    app.config.FALLBACK_ERROR_FORMAT = "json"
    server = start_server(app)
    conn = server.client()
    try:
        conn.request("GET", "/x")
        response = conn.getresponse()
        assert response.getheader("Content-Type") == "application/json"
        assert response.read() == b'{"status":404,"message":"Requested URL /x not found"}'
    finally:
        conn.close()


def test_misuse_raises_clear_errors() -> None:
    app = HttpApp("misuse")
    with pytest.raises(RouteError, match="must start with '/'"):
        app.add_route(lambda r: text(""), "nope")
    with pytest.raises(HurtleHttpError, match="Unknown HTTP method"):
        app.route("/x", methods=["FETCH"])(lambda r: text(""))
    with pytest.raises(HurtleHttpError, match="Unknown listener event"):
        app.listener("before_everything")(lambda a: None)
    with pytest.raises(HurtleHttpError, match="Unknown middleware kind"):
        app.middleware("sideways")
    with pytest.raises(HurtleHttpError, match="Invalid app name"):
        HttpApp("bad name!")


def test_a_failure_inside_error_handling_still_answers_500(start_server: Any) -> None:
    class BrokenErrors(HttpApp):
        def error_response(self, exc: BaseException, request: Request | None = None) -> Any:
            raise RuntimeError("error rendering is broken too")

    app = BrokenErrors("broken")

    @app.get("/")
    async def crash(request: Request) -> Any:
        raise ValueError("first failure")

    @app.get("/later")
    async def crash_later(request: Request) -> Any:
        await asyncio.sleep(0.01)
        raise ValueError("failure after suspending")

    server = start_server(app)
    for path in ("/", "/later"):
        with server.raw() as client:
            client.send(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            response = client.read_response()
            assert response.status == 500
            assert response.header("connection") == "close"
            assert client.is_closed()
    assert server.server.stats.errors == 2


def test_a_response_the_server_cannot_encode_is_a_500(start_server: Any) -> None:
    app = HttpApp("badstatus")

    @app.get("/")
    def bad(request: Request) -> Any:
        return HTTPResponse(b"x", status="200")  # type: ignore[arg-type]

    server = start_server(app)
    with server.raw() as client:
        client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.read_response().status == 500
        client.send(b"GET /missing HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.read_response().status == 404


def test_a_broken_error_renderer_still_answers_protocol_errors(start_server: Any) -> None:
    class BrokenErrors(HttpApp):
        def error_response(self, exc: BaseException, request: Request | None = None) -> Any:
            raise RuntimeError("no rendering today")

    server = start_server(BrokenErrors("broken"))
    with server.raw() as client:
        client.send(b"GET / HTTP/1.1\r\nHost : t\r\n\r\n")
        response = client.read_response()
        assert response.status == 400
        assert client.is_closed()
