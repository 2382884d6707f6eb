"""Responses and their helpers: ``json``, ``text``, ``html``, ``raw``, ``empty``, ``redirect``,
``file`` and ``stream``.

A plain ``HTTPResponse`` has its whole body in memory, so it always carries a
``Content-Length``. A ``StreamingResponse`` is sent with chunked transfer coding (HTTP/1.1)
and a ``FileResponse`` is sent by the server with sendfile where the transport allows it,
honouring ``Range``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, Awaitable, Callable, Generator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import msgspec

from hurtle_http._mypyc import mypyc_attr
from hurtle_http.cookies import CookieJar
from hurtle_http.headers import Headers, HeaderSource

_json_encode = msgspec.json.Encoder().encode

JSON_TYPE = "application/json"
TEXT_TYPE = "text/plain; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
OCTET_TYPE = "application/octet-stream"


@mypyc_attr(allow_interpreted_subclasses=True)
class HTTPResponse:
    """A response whose whole body is known: status, headers, content type and bytes."""

    __slots__ = ("_headers", "body", "content_type", "status")

    def __init__(
        self,
        body: bytes | str | None = None,
        status: int = 200,
        headers: HeaderSource | None = None,
        content_type: str | None = None,
    ) -> None:
        if isinstance(body, str):
            body = body.encode()
        self.body: bytes = body or b""
        self.status = status
        self.content_type = content_type
        self._headers: Headers | None = Headers(headers) if headers else None

    @property
    def headers(self) -> Headers:
        """The response headers (``Content-Type`` and ``Content-Length`` are set by the server)."""
        if self._headers is None:
            self._headers = Headers()
        return self._headers

    def add_cookie(
        self,
        key: str,
        value: str,
        *,
        path: str = "/",
        domain: str | None = None,
        secure: bool = True,
        max_age: int | None = None,
        expires: datetime | None = None,
        httponly: bool = False,
        samesite: str | None = "Lax",
        partitioned: bool = False,
        comment: str | None = None,
        host_prefix: bool = False,
        secure_prefix: bool = False,
    ) -> str:
        """Add a ``Set-Cookie`` header; returns the header's value.

        Secure by default (``secure=True``, ``SameSite=Lax``). ``host_prefix=True`` names
        it ``__Host-key`` (then it must be secure, ``path="/"`` and have no domain);
        ``secure_prefix=True`` names it ``__Secure-key``. ``samesite="None"`` and
        ``partitioned=True`` require ``secure``.
        """
        return self.cookies.add_cookie(
            key,
            value,
            path=path,
            domain=domain,
            secure=secure,
            max_age=max_age,
            expires=expires,
            httponly=httponly,
            samesite=samesite,
            partitioned=partitioned,
            comment=comment,
            host_prefix=host_prefix,
            secure_prefix=secure_prefix,
        )

    def delete_cookie(
        self,
        key: str,
        *,
        path: str = "/",
        domain: str | None = None,
        host_prefix: bool = False,
        secure_prefix: bool = False,
    ) -> None:
        """Tell the client to drop cookie ``key`` (an expired ``Set-Cookie``)."""
        self.cookies.delete_cookie(
            key, path=path, domain=domain, host_prefix=host_prefix, secure_prefix=secure_prefix
        )

    @property
    def cookies(self) -> CookieJar:
        """The cookies this response sets (``add_cookie``, ``delete_cookie``, ``get_cookie``)."""
        return CookieJar(self.headers)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} status={self.status} content_type={self.content_type!r}>"


StreamingFunction = Callable[["StreamingResponse"], Awaitable[None]]


@mypyc_attr(allow_interpreted_subclasses=True)
class StreamingResponse(HTTPResponse):
    """A response whose body is produced while it is sent (chunked transfer coding).

    ``source`` is an async function given this response (call ``await response.write(data)``)
    or an async iterable of ``bytes``/``str``.
    """

    __slots__ = ("_send", "source")

    def __init__(
        self,
        source: StreamingFunction | AsyncIterable[bytes | str],
        status: int = 200,
        headers: HeaderSource | None = None,
        content_type: str | None = TEXT_TYPE,
    ) -> None:
        super().__init__(None, status, headers, content_type)
        self.source = source
        self._send: Callable[[bytes], Awaitable[None]] | None = None

    async def write(self, data: bytes | str) -> None:
        """Send one piece of the body (waits while the client reads slowly)."""
        if self._send is None:
            raise RuntimeError("write() is only available while the server sends this response")
        if isinstance(data, str):
            data = data.encode()
        if data:
            await self._send(data)

    async def stream_to(self, send: Callable[[bytes], Awaitable[None]]) -> None:
        """Produce the whole body, giving each piece to ``send`` (what a server does)."""
        self._send = send
        try:
            source = self.source
            if callable(source):
                await source(self)
            else:
                async for piece in source:
                    await self.write(piece)
        finally:
            self._send = None


@mypyc_attr(allow_interpreted_subclasses=True)
class FileResponse(HTTPResponse):
    """A file sent from disk by the server, with ``Range`` support and a guessed type.

    Awaiting it returns itself, so ``return file(p)`` and ``return await file(p)`` both work.
    """

    __slots__ = ("chunk_size", "path")

    def __init__(
        self,
        path: str | os.PathLike[str],
        status: int = 200,
        headers: HeaderSource | None = None,
        content_type: str | None = None,
        chunk_size: int = 256 * 1024,
    ) -> None:
        self.path = os.fspath(path)
        if content_type is None:
            import mimetypes  # here: only file responses need it (~4 ms at start)

            guessed, _ = mimetypes.guess_type(self.path)
            content_type = guessed or OCTET_TYPE
            if content_type.startswith("text/") and "charset" not in content_type:
                content_type += "; charset=utf-8"
        super().__init__(None, status, headers, content_type)
        self.chunk_size = chunk_size

    def __await__(self) -> Generator[Any, None, FileResponse]:
        return self
        yield  # type: ignore[unreachable]  # makes this function a generator


def json(
    body: object,
    status: int = 200,
    headers: HeaderSource | None = None,
    content_type: str = JSON_TYPE,
    dumps: Callable[..., bytes | str] | None = None,
    **kwargs: Any,
) -> HTTPResponse:
    """A JSON response encoded with msgspec (or with ``dumps(body, **kwargs)`` when given).

    ``default=fn`` (without ``dumps``) converts objects msgspec cannot encode.
    """
    if dumps is not None:
        data = dumps(body, **kwargs)
    elif kwargs:
        default = kwargs.pop("default", None)
        if kwargs:
            raise TypeError(
                f"json() got {sorted(kwargs)}: pass dumps= to use another encoder's options"
            )
        data = msgspec.json.encode(body, enc_hook=default)
    else:
        data = _json_encode(body)
    return HTTPResponse(data, status, headers, content_type)


def text(
    body: str, status: int = 200, headers: HeaderSource | None = None, content_type: str = TEXT_TYPE
) -> HTTPResponse:
    """A UTF-8 ``text/plain`` response."""
    if not isinstance(body, str):
        raise TypeError(f"text() takes a str, not {type(body).__name__}: use raw() for bytes")
    return HTTPResponse(body.encode(), status, headers, content_type)


def html(body: str | bytes, status: int = 200, headers: HeaderSource | None = None) -> HTTPResponse:
    """A UTF-8 ``text/html`` response (objects with ``__html__`` are rendered with it)."""
    render = getattr(body, "__html__", None)
    if render is not None:
        body = render()
    return HTTPResponse(body, status, headers, HTML_TYPE)


def raw(
    body: bytes,
    status: int = 200,
    headers: HeaderSource | None = None,
    content_type: str = OCTET_TYPE,
) -> HTTPResponse:
    """A response with these exact bytes."""
    return HTTPResponse(body, status, headers, content_type)


def empty(status: int = 204, headers: HeaderSource | None = None) -> HTTPResponse:
    """A response with no body (204 by default)."""
    return HTTPResponse(None, status, headers, None)


def redirect(
    to: str, status: int = 302, headers: HeaderSource | None = None, content_type: str = HTML_TYPE
) -> HTTPResponse:
    """A redirect to ``to`` (unsafe characters are percent-encoded)."""
    response = HTTPResponse(None, status, headers, content_type)
    response.headers["Location"] = quote(to, safe=":/%#?&=@[]!$&'()*+,;")
    return response


def file(
    location: str | os.PathLike[str],
    status: int = 200,
    mime_type: str | None = None,
    headers: HeaderSource | None = None,
    filename: str | None = None,
    chunk_size: int = 256 * 1024,
) -> FileResponse:
    """A file from disk; ``filename`` makes it a download (``Content-Disposition``)."""
    response = FileResponse(location, status, headers, mime_type, chunk_size)
    if filename is not None:
        response.headers.setdefault(
            "Content-Disposition", f"attachment; filename*=UTF-8''{quote(filename)}"
        )
    return response


def stream(
    source: StreamingFunction | AsyncIterable[bytes | str],
    status: int = 200,
    headers: HeaderSource | None = None,
    content_type: str = TEXT_TYPE,
) -> StreamingResponse:
    """A response streamed with chunked transfer coding; see ``StreamingResponse``."""
    return StreamingResponse(source, status, headers, content_type)


__all__ = [
    "FileResponse",
    "HTTPResponse",
    "StreamingResponse",
    "empty",
    "file",
    "html",
    "json",
    "raw",
    "redirect",
    "stream",
    "text",
]
