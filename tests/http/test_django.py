"""Django's ASGI handler on hurtle-http: routing, a JSON body, a streamed upload, a
streaming response, an exception, over real sockets."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import path

from hurtle_http import AsgiApp


def echo(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"method": request.method, "got": json.loads(request.body or b"null")})


def items(request: HttpRequest, item: int) -> HttpResponse:
    return JsonResponse({"item": item, "q": request.GET.getlist("q"), "host": request.get_host()})


def stream(request: HttpRequest) -> HttpResponse:
    async def lines() -> AsyncIterator[str]:
        for n in range(3):
            yield f"line {n}\n"

    return StreamingHttpResponse(lines())  # under ASGI, Django streams async iterators


def fail(request: HttpRequest) -> HttpResponse:
    raise ValueError("a view bug")


urlpatterns = [
    path("echo", echo),
    path("items/<int:item>", items),
    path("stream", stream),
    path("fail", fail),
]


def django_app() -> Any:
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="test-only",
            ROOT_URLCONF=__name__,
            ALLOWED_HOSTS=["*"],
            MIDDLEWARE=[],
            INSTALLED_APPS=[],
            LOGGING_CONFIG=None,
        )
        django.setup()
    from django.core.asgi import get_asgi_application

    return get_asgi_application()


def test_django_asgi(start_server: Any) -> None:
    server = start_server(AsgiApp(django_app()))
    with server.raw(timeout=10) as client:
        client.send(b"GET /items/7?q=a&q=b HTTP/1.1\r\nHost: example.com\r\n\r\n")
        assert json.loads(client.read_response().body) == {
            "item": 7,
            "q": ["a", "b"],
            "host": "example.com",
        }
        body = json.dumps({"k": [1, 2]}).encode()
        client.send(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        )
        assert json.loads(client.read_response().body) == {"method": "POST", "got": {"k": [1, 2]}}
        client.send(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.read_response().body == b"line 0\nline 1\nline 2\n"
        client.send(b"GET /fail HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.read_response().status == 500
        client.send(b"GET /missing HTTP/1.1\r\nHost: t\r\n\r\n")
        assert client.read_response().status == 404
