"""Bytes on the wire: cached status lines, the once-a-second Date header, response heads."""

from __future__ import annotations

import time
from http import HTTPStatus
from typing import TYPE_CHECKING

from hurtle_http.headers import Headers, valid_name, valid_value

if TYPE_CHECKING:
    from hurtle_http.request import Request
    from hurtle_http.response import HTTPResponse

CRLF = b"\r\n"

_STATUS_LINES: dict[int, bytes] = {
    int(status): f"HTTP/1.1 {int(status)} {status.phrase}\r\n".encode() for status in HTTPStatus
}

# Headers the server computes itself; a handler's values for them are ignored.
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection"})


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(seconds: float) -> str:
    """``seconds`` since the epoch as an HTTP date (IMF-fixdate, RFC 9110 5.6.7), in English
    whatever the locale: ``Sun, 06 Nov 1994 08:49:37 GMT``."""
    t = time.gmtime(seconds)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def status_line(status: int) -> bytes:
    """``HTTP/1.1 <status> <phrase>\\r\\n``, cached for every known status."""
    line = _STATUS_LINES.get(status)
    if line is None:
        if not 100 <= status <= 999:
            raise ValueError(f"Invalid HTTP status {status}: use a number from 100 to 999")
        line = _STATUS_LINES[status] = f"HTTP/1.1 {status} Unknown\r\n".encode()
    return line


def has_body(status: int, method: str) -> bool:
    """False for responses that never carry a body (HEAD, 1xx, 204, 304)."""
    return method != "HEAD" and status >= 200 and status != 204 and status != 304


class Clock:
    """The ``Date`` and ``Server`` header lines; ``tick`` refreshes Date once a second.

    ``prefix`` is both lines together, the start of every response head.
    """

    __slots__ = ("_second", "date_line", "heads", "prefix", "server_line")

    def __init__(self, server_name: str = "hurtle") -> None:
        self.server_line = b"server: " + server_name.encode("latin-1") + CRLF
        self._second = -1
        self.date_line = self.prefix = b""
        # The heads of plain responses this second, up to their Content-Length (see head).
        self.heads: dict[tuple[int, str | None], bytes] = {}
        self.tick()

    def tick(self) -> None:
        """Refresh the Date line if the second has changed."""
        now = int(time.time())
        if now != self._second:
            self._second = now
            self.date_line = b"date: " + http_date(now).encode() + CRLF
            self.prefix = self.date_line + self.server_line
            self.heads = {}

    def head(self, status: int, content_type: str | None) -> bytes:
        """The start of the head of a response with no headers of its own: status line,
        Date, Server and Content-Type (cached until the next second; raises ValueError for
        a bad status or content type)."""
        head = self.heads.get((status, content_type))
        if head is None:
            head = status_line(status) + self.prefix
            if content_type is not None:
                head += content_type_line(content_type)
            if len(self.heads) < 64:
                self.heads[status, content_type] = head
        return head


_TYPE_LINES: dict[str, bytes] = {}


def content_type_line(content_type: str) -> bytes:
    """``content-type: <value>\r\n``, cached for the types an app uses."""
    line = _TYPE_LINES.get(content_type)
    if line is None:
        raw = content_type.encode("latin-1")
        if not valid_value(raw):
            raise ValueError(f"Invalid content type {content_type!r} (no CR, LF or CTL)")
        line = b"content-type: " + raw + CRLF
        if len(_TYPE_LINES) < 256:
            _TYPE_LINES[content_type] = line
    return line


def encode_headers(headers: Headers, content_type: str | None, clock: Clock) -> bytes:
    """The Date, Server, Content-Type and handler headers of a response, validated."""
    out = bytearray()
    own_date = own_server = own_type = False
    for name, value in headers._items:
        lname = name.lower()
        if lname in _FRAMING:
            continue
        if lname == "date":
            own_date = True
        elif lname == "server":
            own_server = True
        elif lname == "content-type":
            own_type = True
        raw_name = name.encode("latin-1")
        raw_value = str(value).encode("latin-1")
        if not valid_name(raw_name) or not valid_value(raw_value):
            raise ValueError(f"Invalid response header {name!r}: {value!r} (no CR, LF or CTL)")
        out += raw_name + b": " + raw_value + CRLF
    head = b""
    if not own_date:
        head += clock.date_line
    if not own_server:
        head += clock.server_line
    if content_type is not None and not own_type:
        head += content_type_line(content_type)
    return head + bytes(out)


_CLOSE = b"connection: close\r\n"
_KEEP_ALIVE = b"connection: keep-alive\r\n"


def response_head(response: HTTPResponse, clock: Clock, keep_alive: bool, version: str) -> bytes:
    """Status line and headers of ``response``, without its length or the blank line.

    Raises ValueError for a header value a client could misread (CR, LF, controls).
    """
    headers = response._headers
    content_type = response.content_type
    status = response.status
    if headers:
        head = status_line(status) + encode_headers(headers, content_type, clock)
    else:  # the common case: a head cached by the clock until the next second
        head = clock.heads.get((status, content_type)) or clock.head(status, content_type)
    if not keep_alive:
        head += _CLOSE
    elif version == "1.0":
        head += _KEEP_ALIVE
    return head


def encode_response(
    response: HTTPResponse, clock: Clock, keep_alive: bool, request: Request | None = None
) -> bytes:
    """A whole in-memory response: head, ``Content-Length`` and body (none for HEAD)."""
    head = response_head(response, clock, keep_alive, request.version if request else "1.1")
    status = response.status
    if status < 200 or status == 204 or status == 304:
        return head + CRLF
    body = response.body
    head += b"content-length: %d\r\n\r\n" % len(body)
    if request is not None and request.method == "HEAD":
        return head
    return head + body
