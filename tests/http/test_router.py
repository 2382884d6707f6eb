"""The router: static paths, typed parameters, 404/405 and registration errors."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from hurtle_http import BadRequest, HttpApp, MethodNotAllowed, NotFound, Request, RouteError, text
from hurtle_http.router import Router


def handler(request: Any, **params: Any) -> Any:
    return None


def test_static_and_typed_parameters_resolve() -> None:
    router = Router()
    router.add("/users", handler, ["GET"])
    router.add("/users/<id:int>", handler, ["GET"])
    router.add("/prices/<amount:float>", handler, ["GET"])
    router.add("/things/<key:uuid>", handler, ["GET"])
    router.add("/posts/<slug:slug>", handler, ["GET"])
    router.add("/files/<rest:path>", handler, ["GET"])
    router.add("/names/<name>", handler, ["GET"])
    key = uuid.uuid4()
    assert router.resolve("GET", "/users")[1] == {}
    assert router.resolve("GET", "/users/42")[1] == {"id": 42}
    assert router.resolve("GET", "/users/-3")[1] == {"id": -3}
    assert router.resolve("GET", "/prices/9.5")[1] == {"amount": 9.5}
    assert router.resolve("GET", f"/things/{key}")[1] == {"key": key}
    assert router.resolve("GET", "/posts/hello-world-2")[1] == {"slug": "hello-world-2"}
    assert router.resolve("GET", "/files/a/b/c.txt")[1] == {"rest": "a/b/c.txt"}
    assert router.resolve("GET", "/names/J%C3%B6rg")[1] == {"name": "Jörg"}
    for path in ("/users/abc", "/posts/Not_A_Slug", "/things/123", "/users/1/extra"):
        with pytest.raises(NotFound):
            router.resolve("GET", path)


def test_wrong_method_lists_allowed_methods_including_automatic_head() -> None:
    router = Router()
    router.add("/a", handler, ["GET"])
    router.add("/a", handler, ["POST"])
    router.add("/b/<x:int>", handler, ["PUT"])
    with pytest.raises(MethodNotAllowed) as info:
        router.resolve("DELETE", "/a")
    assert info.value.headers["Allow"] == "GET, HEAD, POST"
    with pytest.raises(MethodNotAllowed) as info:
        router.resolve("GET", "/b/1")
    assert info.value.allowed == ("PUT",)


def test_first_matching_pattern_with_the_method_wins() -> None:
    router = Router()
    first = router.add("/v/<n:int>", handler, ["GET"])
    second = router.add("/v/<name>", handler, ["GET", "POST"])
    assert router.resolve("GET", "/v/1")[0] is first
    assert router.resolve("POST", "/v/1")[0] is second
    assert router.resolve("GET", "/v/x")[0] is second


def test_registration_errors_say_what_to_do() -> None:
    router = Router()
    router.add("/dup", handler, ["GET"])
    with pytest.raises(RouteError, match="already registered"):
        router.add("/dup", handler, ["GET"])
    router.add("/dup", handler, ["HEAD"])  # an explicit HEAD replaces the automatic one
    with pytest.raises(RouteError, match="Unknown parameter type 'date'"):
        router.add("/x/<d:date>", handler, ["GET"])
    with pytest.raises(RouteError, match="appears twice"):
        router.add("/x/<a>/<a>", handler, ["GET"])
    with pytest.raises(RouteError, match="Malformed parameter"):
        router.add("/x/<a", handler, ["GET"])
    with pytest.raises(RouteError, match="has no methods"):
        router.add("/none", handler, [])


def test_bad_percent_encoding_is_a_bad_request() -> None:
    router = Router()
    router.add("/n/<name>", handler, ["GET"])
    with pytest.raises(BadRequest):
        router.resolve("GET", "/n/%ff%fe")


def test_typed_parameters_reach_the_handler_over_http(start_server: Any) -> None:
    app = HttpApp("params")

    @app.get("/items/<item_id:int>/<label:slug>")
    async def item(request: Request, item_id: int, label: str) -> Any:
        assert request.match_info == {"item_id": item_id, "label": label}
        return text(f"{type(item_id).__name__}:{item_id + 1}:{label}")

    server = start_server(app)
    conn = server.client()
    try:
        conn.request("GET", "/items/41/blue-box")
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b"int:42:blue-box")
        conn.request("GET", "/items/x/blue-box")
        response = conn.getresponse()
        assert response.status == 404
        response.read()
    finally:
        conn.close()


def test_registration_order_holds_across_literal_and_dynamic_first_segments() -> None:
    router = Router()
    wild = router.add("/<lang>/about", handler, ["GET"])
    docs = router.add("/docs/<page>", handler, ["GET"])
    glued = router.add("/v<version:int>/status", handler, ["GET"])
    assert router.resolve("GET", "/docs/about") == (wild, {"lang": "docs"})
    assert router.resolve("GET", "/docs/intro") == (docs, {"page": "intro"})
    assert router.resolve("GET", "/v2/status") == (glued, {"version": 2})
    with pytest.raises(NotFound):
        router.resolve("GET", "/nothing/here/at/all")


def test_a_single_method_may_be_given_as_a_string() -> None:
    app = HttpApp("single")
    app.route("/x", methods="post")(lambda request: text("x"))
    route, _ = app.router.resolve("POST", "/x")
    assert route.methods == frozenset({"POST"})
