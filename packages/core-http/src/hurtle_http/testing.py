"""An in-process test client: requests go straight to the app, with no socket.

Needs httpx (``pip install "hurtle-http[testing]"``)::

    from hurtle_http.testing import TestClient

    async def test_hello():
        async with TestClient(app) as client:  # runs the app's start and stop listeners
            response = await client.get("/")
        assert response.json() == {"hello": "world"}

``HurtleTransport(app)`` is the httpx transport underneath, for an ``httpx.AsyncClient`` of
your own. A request takes the path a socket request takes after parsing: ``on_request_head``
hooks, routing, middleware, handlers, exception handlers, then the response is rendered
(streamed and file bodies are read whole). What only the connection does (timeouts,
keep-alive, pipelining, the wire format, the access log) is not exercised: test those over
a socket.
"""

from __future__ import annotations

import asyncio
import os
from types import TracebackType
from typing import TYPE_CHECKING, Any

try:
    import httpx
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "hurtle_http.testing needs httpx: pip install 'hurtle-http[testing]'"
    ) from exc

from hurtle_http._body import STREAM, BodyStream
from hurtle_http.exceptions import HTTPException, PayloadTooLarge
from hurtle_http.request import ConnInfo, Request
from hurtle_http.response import FileResponse, HTTPResponse, StreamingResponse

if TYPE_CHECKING:
    from hurtle_http.app import HttpApp

__all__ = ["HurtleTransport", "SyncTestClient", "TestClient", "TestResponse"]


class _NoFlow:
    """Flow control for a body that is already whole."""

    def pause_body(self) -> None:
        pass

    def resume_body(self) -> None:
        pass

    def body_wanted(self) -> None:
        pass


class HurtleTransport(httpx.AsyncBaseTransport):
    """An httpx transport that hands each request to ``app`` in this event loop."""

    def __init__(
        self,
        app: HttpApp,
        *,
        client: tuple[str, int] = ("127.0.0.1", 50000),
        server: tuple[str, int] = ("127.0.0.1", 80),
    ) -> None:
        self.app = app
        self.client = client
        self.server = server
        self.last_request: Request | None = None
        """The hurtle ``Request`` of the last request sent (for ``SyncTestClient``)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        app = self.app
        secure = request.url.scheme == "https"
        info = ConnInfo(self.client[0], self.client[1], self.server[0], self.server[1], secure)
        raw_headers = [(name.lower(), value) for name, value in request.headers.raw]
        native = Request(app, request.method, request.url.raw_path, raw_headers, "1.1", info)
        self.last_request = native
        try:
            if len(body) > int(app.config.get("REQUEST_MAX_SIZE", len(body))):
                raise PayloadTooLarge(f"The body exceeds {app.config.REQUEST_MAX_SIZE} bytes")
            mode = app.head_received(native, bool(body))
        except HTTPException as exc:
            response = app.error_response(exc, native)
        else:
            if mode == STREAM:
                stream = native.stream = BodyStream(_NoFlow())
                if body:
                    stream.feed(body)
                stream.finish()
            else:
                native.body = body
            response = await app.handle(native)
        return await _render(response, native)


async def _render(response: HTTPResponse, request: Request) -> httpx.Response:
    headers = list(response.headers.items())
    if response.content_type and "content-type" not in response.headers:
        headers.append(("content-type", response.content_type))
    if isinstance(response, FileResponse):
        content = await asyncio.get_running_loop().run_in_executor(None, _read, response.path)
    elif isinstance(response, StreamingResponse):
        pieces: list[bytes] = []

        async def collect(data: bytes) -> None:
            pieces.append(data)

        await response.stream_to(collect)
        content = b"".join(pieces)
    else:
        content = response.body
    if request.method == "HEAD":
        content = b""
    return httpx.Response(response.status, headers=headers, content=content)


def _read(path: str) -> bytes:
    with open(os.fspath(path), "rb") as handle:
        return handle.read()


class TestClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` bound to ``app``; as a context manager it also runs the
    app's ``before/after_server_start`` and ``before/after_server_stop`` listeners."""

    __test__ = False  # not a pytest test class

    def __init__(self, app: HttpApp, base_url: str = "http://hurtle.test", **kwargs: Any) -> None:
        self.transport = HurtleTransport(app)
        super().__init__(transport=self.transport, base_url=base_url, **kwargs)
        self.app = app

    async def __aenter__(self) -> TestClient:
        await super().__aenter__()
        loop = asyncio.get_running_loop()
        await self.app.dispatch("before_server_start", loop)
        await self.app.dispatch("after_server_start", loop)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            await self.app.dispatch("before_server_stop", loop)
            await self.app.dispatch("after_server_stop", loop)
        finally:
            await super().__aexit__(exc_type, exc, traceback)


class TestResponse:
    """A response as the reference's test client shows it: ``status``, ``body``, ``text``,
    ``json`` (a property), ``headers``, ``cookies``, ``content_type``; ``raw`` is httpx's."""

    __test__ = False

    def __init__(self, raw: httpx.Response) -> None:
        self.raw = raw
        self.status = raw.status_code
        self.body = raw.content
        self.headers = raw.headers
        self.cookies = raw.cookies
        self.content_type = raw.headers.get("content-type", "")

    @property
    def text(self) -> str:
        """The body decoded as text."""
        return self.raw.text

    @property
    def json(self) -> Any:
        """The body decoded as JSON (None when it is not JSON)."""
        try:
            return self.raw.json()
        except ValueError:
            return None


class SyncTestClient:
    """``request, response = app.test_client.get("/")``: the reference's synchronous test
    client. Each call runs in its own event loop with the app's start and stop listeners
    around it, so it suits plain (non-async) tests of apps without long-lived state."""

    __test__ = False

    def __init__(self, app: HttpApp) -> None:
        self.app = app

    def request(self, method: str, uri: str, **kwargs: Any) -> tuple[Request | None, TestResponse]:
        """Send one request; returns the app's ``Request`` and the response."""

        async def run() -> tuple[Request | None, TestResponse]:
            async with TestClient(self.app) as client:
                response = await client.request(method, uri, **kwargs)
                return client.transport.last_request, TestResponse(response)

        return asyncio.run(run())

    def get(self, uri: str, **kwargs: Any) -> tuple[Request | None, TestResponse]:
        """A GET request (``params=``, ``headers=``, ``cookies=`` as httpx takes them)."""
        return self.request("GET", uri, **kwargs)

    def post(self, uri: str, **kwargs: Any) -> tuple[Request | None, TestResponse]:
        """A POST request (``json=``, ``data=``, ``content=``, ``files=``)."""
        return self.request("POST", uri, **kwargs)

    def put(self, uri: str, **kwargs: Any) -> tuple[Request | None, TestResponse]:
        """A PUT request."""
        return self.request("PUT", uri, **kwargs)

    def patch(self, uri: str, **kwargs: Any) -> tuple[Request | None, TestResponse]:
        """A PATCH request."""
        return self.request("PATCH", uri, **kwargs)

    def delete(self, uri: str, **kwargs: Any) -> tuple[Request | None, TestResponse]:
        """A DELETE request."""
        return self.request("DELETE", uri, **kwargs)

    def head(self, uri: str, **kwargs: Any) -> tuple[Request | None, TestResponse]:
        """A HEAD request."""
        return self.request("HEAD", uri, **kwargs)

    def options(self, uri: str, **kwargs: Any) -> tuple[Request | None, TestResponse]:
        """An OPTIONS request."""
        return self.request("OPTIONS", uri, **kwargs)
