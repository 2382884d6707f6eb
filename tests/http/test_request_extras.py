"""request.id, cookies (getlist, delete_cookie, response.cookies, secure defaults) and
proxy headers, with spoofing attempts: an untrusted client must not set remote_addr."""

from __future__ import annotations

import json as jsonlib
import uuid
from typing import Any

import pytest

from hurtle_http import HttpApp, HurtleHttpError, Request, json, text


def get(server: Any, path: str, headers: list[tuple[str, str]] | None = None) -> Any:
    conn = server.client()
    try:
        conn.putrequest("GET", path, skip_host=True)
        names = {k.lower() for k, _ in headers or []}
        if "host" not in names:
            conn.putheader("Host", "localhost")
        for key, value in headers or []:
            conn.putheader(key, value)
        conn.endheaders()
        response = conn.getresponse()
        response.body = response.read()
        return response
    finally:
        conn.close()


def echo_app(**config: Any) -> HttpApp:
    app = HttpApp("proxy")
    app.config.update(config)

    @app.get("/who")
    async def who(request: Request) -> Any:
        return json(
            {
                "remote_addr": request.remote_addr,
                "client_ip": request.client_ip,
                "ip": request.ip,
                "scheme": request.scheme,
                "host": request.host,
                "url": request.url,
            }
        )

    return app


def test_request_id_is_stable_and_taken_from_the_header(start_server: Any) -> None:
    app = HttpApp("ids")

    @app.get("/id")
    async def the_id(request: Request) -> Any:
        assert request.id == request.id
        return text(str(request.id))

    server = start_server(app)
    generated = get(server, "/id").body.decode()
    assert uuid.UUID(generated)
    assert get(server, "/id").body.decode() != generated
    assert get(server, "/id", [("X-Request-ID", "abc-123")]).body == b"abc-123"


def test_cookies_getlist_delete_and_secure_defaults(start_server: Any) -> None:
    app = HttpApp("cookies")

    @app.get("/read")
    async def read_cookies(request: Request) -> Any:
        return json(
            {
                "first": request.cookies.get("a"),
                "all": request.cookies.getlist("a"),
                "item": request.cookies["a"],
                "host": request.cookies.get("s", host_prefix=True),
                "none": request.cookies.getlist("zz"),
            }
        )

    @app.get("/set")
    async def set_cookies(request: Request) -> Any:
        response = text("set")
        response.add_cookie("session", "v1", httponly=True)
        response.cookies.add_cookie("theme", "dark", secure=False, samesite="strict")
        response.add_cookie("s", "x", host_prefix=True)
        response.add_cookie("session", "v2", httponly=True)  # replaces v1
        response.delete_cookie("old")
        assert response.cookies.has_cookie("theme")
        return response

    server = start_server(app)
    read = get(server, "/read", [("Cookie", "a=1; a=2; __Host-s=h"), ("Cookie", "a=3")])
    assert jsonlib.loads(read.body) == {
        "first": "1",
        "all": ["1", "2", "3"],
        "item": "1",
        "host": "h",
        "none": [],
    }
    cookies = get(server, "/set").headers.get_all("Set-Cookie")
    assert len(cookies) == 4, cookies
    session = next(c for c in cookies if c.startswith("session="))
    assert session.startswith("session=v2;")
    assert "Secure" in session and "HttpOnly" in session and "SameSite=Lax" in session
    theme = next(c for c in cookies if c.startswith("theme="))
    assert "Secure" not in theme and "SameSite=Strict" in theme
    assert any(c.startswith("__Host-s=x;") and "Path=/" in c for c in cookies)
    old = next(c for c in cookies if c.startswith("old="))
    assert "Max-Age=0" in old and "1970" in old


def test_unsafe_cookies_are_refused() -> None:
    response = text("x")
    with pytest.raises(HurtleHttpError, match="__Host-"):
        response.add_cookie("s", "x", host_prefix=True, path="/app")
    with pytest.raises(HurtleHttpError, match="secure"):
        response.add_cookie("s", "x", samesite="None", secure=False)
    with pytest.raises(HurtleHttpError, match="__Secure-"):
        response.add_cookie("s", "x", secure_prefix=True, secure=False)


def test_without_trusted_proxies_forwarded_headers_are_ignored(start_server: Any) -> None:
    server = start_server(echo_app())
    spoof = [
        ("X-Forwarded-For", "6.6.6.6"),
        ("X-Real-IP", "6.6.6.6"),
        ("Forwarded", "for=6.6.6.6;proto=https;host=evil.test"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "evil.test"),
    ]
    seen = jsonlib.loads(get(server, "/who", spoof).body)
    assert seen["remote_addr"] == ""
    assert seen["client_ip"] == seen["ip"] == "127.0.0.1"
    assert seen["scheme"] == "http" and seen["host"] == "localhost"


def test_proxies_count_takes_the_address_the_last_proxy_saw(start_server: Any) -> None:
    server = start_server(echo_app(PROXIES_COUNT=1))
    # The client forged an entry; the trusted proxy appended the real address.
    seen = jsonlib.loads(
        get(
            server,
            "/who",
            [
                ("X-Forwarded-For", "6.6.6.6, 203.0.113.9"),
                ("X-Forwarded-Proto", "https"),
                ("X-Forwarded-Host", "shop.example"),
            ],
        ).body
    )
    assert seen["remote_addr"] == "203.0.113.9" and seen["client_ip"] == "203.0.113.9"
    assert seen["ip"] == "127.0.0.1"
    assert seen["scheme"] == "https" and seen["url"] == "https://shop.example/who"
    two = start_server(echo_app(PROXIES_COUNT=2))
    seen = jsonlib.loads(get(two, "/who", [("X-Forwarded-For", "1.1.1.1, 2.2.2.2, 3.3.3.3")]).body)
    assert seen["remote_addr"] == "2.2.2.2"
    # Fewer entries than proxies: the chain is not trusted at all.
    seen = jsonlib.loads(get(two, "/who", [("X-Forwarded-For", "6.6.6.6")]).body)
    assert seen["remote_addr"] == ""


def test_real_ip_header_and_forwarded_secret(start_server: Any) -> None:
    real = start_server(echo_app(REAL_IP_HEADER="X-Real-IP"))
    seen = jsonlib.loads(get(real, "/who", [("X-Real-IP", "198.51.100.7")]).body)
    assert seen["remote_addr"] == "198.51.100.7"
    secret = start_server(echo_app(FORWARDED_SECRET="s3cret"))
    forwarded = 'for=6.6.6.6;secret=s3cret-guess, for="[2001:db8::1]:443";proto=https;secret=s3cret'
    seen = jsonlib.loads(get(secret, "/who", [("Forwarded", forwarded)]).body)
    assert seen["remote_addr"] == "2001:db8::1" and seen["scheme"] == "https"
    # The client's own Forwarded without the secret is ignored, as is X-Forwarded-For.
    seen = jsonlib.loads(
        get(secret, "/who", [("Forwarded", "for=6.6.6.6"), ("X-Forwarded-For", "6.6.6.6")]).body
    )
    assert seen["remote_addr"] == ""
