"""``from hurtle import response``: the response helpers (``response.json(...)``, ...)."""

from hurtle_http.cookies import CookieJar
from hurtle_http.response import (
    FileResponse,
    HTTPResponse,
    StreamingResponse,
    empty,
    file,
    html,
    json,
    raw,
    redirect,
    stream,
    text,
)

file_stream = file
"""A file sent from disk in chunks: ``file`` already streams (sendfile where possible)."""

ResponseStream = StreamingResponse

__all__ = [
    "CookieJar",
    "FileResponse",
    "HTTPResponse",
    "ResponseStream",
    "StreamingResponse",
    "empty",
    "file",
    "file_stream",
    "html",
    "json",
    "raw",
    "redirect",
    "stream",
    "text",
]
