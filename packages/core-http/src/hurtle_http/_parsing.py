"""Building requests from httptools' callbacks: the parsing half of ``HttpProtocol``.

The callbacks collect the request line and header fields, check framing, Host, Expect and
credentials when the head is complete (an error raised here becomes a 4xx), ask the app what
to do with the body (buffer, discard or stream) and queue the finished request. Trailer
fields are kept apart from the header fields.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING

import httptools

from hurtle_http._access import now
from hurtle_http._body import BUFFER, STREAM, BodyStream
from hurtle_http.exceptions import (
    BadRequest,
    ExpectationFailed,
    HeaderFieldsTooLarge,
    HTTPException,
    HTTPVersionNotSupported,
    PayloadTooLarge,
    URITooLong,
)
from hurtle_http.headers import TOKEN_CHARS, VALUE_CHARS, parser_checks_fields
from hurtle_http.request import ConnInfo, Request, valid_authority

if TYPE_CHECKING:
    from hurtle_http._access import AccessLog
    from hurtle_http.app import HttpApp
    from hurtle_http.asgi import AsgiApp
    from hurtle_http.server import Limits

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_METHODS = {m.encode(): m for m in ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")}
# Header names the protocol checks itself (framing, Host, Expect), and their lengths.
_SPECIAL_NAMES = frozenset(
    {b"host", b"content-length", b"transfer-encoding", b"expect", b"authorization", b"upgrade"}
)
_SPECIAL_LENGTHS = frozenset(len(name) for name in _SPECIAL_NAMES)


# Validate header fields in Python only when the installed parser does not.
_CHECK_FIELDS = not parser_checks_fields()


def fields_size(fields: list[tuple[bytes, bytes]]) -> int:
    """The size of header fields as counted against ``REQUEST_MAX_HEADER_SIZE``."""
    return sum(len(name) + len(value) + 4 for name, value in fields)


def check_field(name: bytes, value: bytes) -> None:
    """Raise 400 for a header field RFC 9112 forbids (when the parser does not check)."""
    if not name or name.translate(None, TOKEN_CHARS):
        raise BadRequest(f"Invalid header name {name!r}")
    if value.translate(None, VALUE_CHARS):
        raise BadRequest(f"Invalid character in the value of header {name!r}")


class _Refused(Exception):
    """An ``on_request_head`` hook refused a request (raised out of the parser callback)."""

    def __init__(self, request: Request, refusal: HTTPException) -> None:
        super().__init__(refusal.message)
        self.request = request
        self.refusal = refusal


# Host values already found valid (a server sees few): checked once, not per request.
_GOOD_HOSTS: set[bytes] = set()


class RequestParsing(asyncio.Protocol):
    """The httptools callbacks of ``HttpProtocol`` (which owns every attribute used here).

    The first class of the connection's single chain of inheritance (``RequestParsing`` <-
    ``_sink.ResponseWriting`` <- ``HttpProtocol``), so that mypyc can compile it to native
    attribute slots (see ``docs/design-notes.md``). The methods below are provided further
    down that chain.
    """

    def write(self, data: bytes) -> None:
        raise NotImplementedError  # ResponseWriting's

    def _update_reading(self) -> None:
        raise NotImplementedError  # HttpProtocol's

    def pause_body(self) -> None:
        raise NotImplementedError  # HttpProtocol's

    def resume_body(self) -> None:
        raise NotImplementedError  # HttpProtocol's

    def body_wanted(self) -> None:
        raise NotImplementedError  # HttpProtocol's

    _app: HttpApp | AsgiApp
    _loop: asyncio.AbstractEventLoop
    _limits: Limits
    _parser: httptools.HttpRequestParser
    _conn_info: ConnInfo | None
    _access_log: AccessLog | None
    _queue: deque[Request | HTTPException]
    _current: Request | None
    _max_header_size: int
    _max_headers: int
    _in_message: bool
    _in_head: bool
    _head_began: bool
    _continue_pending: bool
    _discard: bool
    _message_started: float
    _url: bytes
    _raw_headers: list[tuple[bytes, bytes]]
    _head_bytes: int
    _read_size: int
    _request: Request | None
    _body: list[bytes]
    _body_size: int
    _stream: BodyStream | None

    def on_message_begin(self) -> None:
        self._in_message = self._in_head = self._head_began = True
        self._continue_pending = self._discard = False
        self._url = b""
        if self._raw_headers:  # left over by a message that never completed its head
            self._raw_headers = []
        self._head_bytes = self._body_size = 0
        self._message_started = self._loop.time()

    def on_url(self, part: bytes) -> None:
        self._url += part
        if len(self._url) > self._limits.max_url:
            raise URITooLong(f"The request target exceeds {self._limits.max_url} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        # The hot path: one append. The fields are checked when the head is complete (and,
        # for a head that spans reads, after each read: see ``check_partial_head``); the
        # fields parsed after the head are trailers, which the same list collects.
        self._raw_headers.append((name, value))

    def check_partial_head(self) -> None:
        """Raise 431 if the head being received already has too many or too large fields."""
        fields = self._raw_headers
        if len(fields) > self._max_headers or fields_size(fields) > self._max_header_size:
            raise HeaderFieldsTooLarge(
                f"The request headers exceed {self._max_headers} fields"
                f" or {self._max_header_size} bytes"
            )

    def on_headers_complete(self) -> None:
        self._in_head = False
        fields = self._raw_headers
        self._raw_headers = []  # collects the trailers, if any
        parser = self._parser
        version = parser.get_http_version()
        if version != "1.1" and version != "1.0":
            raise HTTPVersionNotSupported(f"HTTP/{version} is not supported: use HTTP/1.1")
        if b"#" in self._url:
            raise BadRequest("A request target cannot contain a fragment ('#')")
        if len(fields) > self._max_headers or (
            # Only a head that may exceed the size limit is measured (this read plus what
            # earlier reads brought of it).
            self._head_bytes + self._read_size > self._max_header_size
            and fields_size(fields) > self._max_header_size
        ):
            raise HeaderFieldsTooLarge(
                f"The request headers exceed {self._max_headers} fields"
                f" or {self._max_header_size} bytes"
            )
        if _CHECK_FIELDS:
            for name, value in fields:
                check_field(name, value)
        hosts = credentials = 0
        length: bytes | None = None
        expect: bytes | None = None
        upgrade: bytes | None = None
        chunked = False
        for name, value in fields:
            if len(name) not in _SPECIAL_LENGTHS:
                continue
            name = name.lower()
            if name == b"host":
                hosts += 1
                if value not in _GOOD_HOSTS:
                    if not valid_authority(value):
                        raise BadRequest(f"Invalid Host header {value!r}: use host[:port]")
                    if len(_GOOD_HOSTS) < 64:
                        _GOOD_HOSTS.add(value)
            elif name == b"upgrade":
                upgrade = value
            elif name == b"authorization":
                credentials += 1
                if credentials > 1:
                    raise BadRequest("Repeated Authorization header")
            elif name == b"content-length":
                if length is not None:
                    raise BadRequest("Repeated Content-Length header")
                if chunked:
                    raise BadRequest("Content-Length and Transfer-Encoding together")
                length = value
            elif name == b"transfer-encoding":
                if length is not None:
                    raise BadRequest("Content-Length and Transfer-Encoding together")
                chunked = True
            elif name == b"expect":
                expect = value.strip().lower()
        if hosts > 1 or (hosts == 0 and version == "1.1"):
            raise BadRequest("A request needs exactly one Host header (HTTP/1.1 requires it)")
        if length is not None and int(length) > self._limits.max_body:
            raise PayloadTooLarge(f"The body exceeds {self._limits.max_body} bytes")
        raw_method = parser.get_method()
        method = _METHODS.get(raw_method) or raw_method.decode("ascii", "replace")
        assert self._conn_info is not None
        request = Request(self._app, method, self._url, fields, version, self._conn_info)
        request._keep_alive = parser.should_keep_alive()
        if self._access_log is not None:
            request._started = now()
        if upgrade is not None:
            request._websocket = method == "GET" and b"websocket" in upgrade.lower()
        self._request = request
        try:
            has_body = chunked or (length is not None and length != b"0")
            mode = self._app.head_received(request, has_body)
        except HTTPException as exc:
            raise _Refused(request, exc) from exc  # stops the parser: no body is read
        if expect is not None:
            if expect != b"100-continue":
                raise ExpectationFailed(f"Unsupported expectation {expect!r}")
            if version == "1.1":
                if mode != STREAM and self._current is None and not self._queue:
                    self.write(_CONTINUE)
                else:
                    self._continue_pending = True  # a streamed body: when it is read
        if mode == BUFFER:
            return
        if mode == STREAM:
            request.stream = self._stream = BodyStream(self)
            self._request = None
            self._queue.append(request)  # its handler runs while the body arrives
        else:
            self._discard = True

    def _take_trailers(self) -> list[tuple[bytes, bytes]]:
        """The trailer fields of the message just complete (never merged into its headers)."""
        trailers, self._raw_headers = self._raw_headers, []
        if len(trailers) > self._max_headers or fields_size(trailers) > self._max_header_size:
            raise HeaderFieldsTooLarge(
                f"The request trailers exceed {self._max_headers} fields"
                f" or {self._max_header_size} bytes"
            )
        if _CHECK_FIELDS:
            for name, value in trailers:
                check_field(name, value)
        return trailers

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > self._limits.max_body:
            raise PayloadTooLarge(f"The body exceeds {self._limits.max_body} bytes")
        if self._discard:
            return
        if self._stream is not None:
            self._stream.feed(body)
        else:
            self._body.append(body)

    def on_message_complete(self) -> None:
        stream = self._stream
        if stream is not None:
            if self._raw_headers:
                stream.trailers = self._take_trailers()
            self._stream = None
            self._in_message = False
            stream.finish()
            return
        request = self._request
        if request is None:
            return  # refused on its head
        body = self._body
        if body:
            request.body = body[0] if len(body) == 1 else b"".join(body)
            body.clear()  # the chunks are the request's now: keep none of them here
        if self._raw_headers:
            request.raw_trailers = self._take_trailers()
        self._in_message = False
        self._request = None
        self._queue.append(request)
        if len(self._queue) >= self._limits.pipeline:
            self._update_reading()
