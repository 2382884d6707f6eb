"""Sending bodies that are not in memory: streamed responses and files."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, BinaryIO

from hurtle_http._files import entity_tag, last_modified, not_modified, open_file, parse_range
from hurtle_http._wire import has_body, response_head

if TYPE_CHECKING:
    from hurtle_http._sink import ResponseWriting
    from hurtle_http.request import Request
    from hurtle_http.response import FileResponse, StreamingResponse

_UNAVAILABLE = (NotImplementedError, asyncio.SendfileNotAvailableError)


async def send_stream(conn: ResponseWriting, request: Request, response: StreamingResponse) -> None:
    """Send a streamed body: chunked on HTTP/1.1, close-delimited on HTTP/1.0."""
    chunked = request.version == "1.1"
    keep_alive = chunked and conn.keep_alive_for(request)
    head = response_head(response, conn.clock, keep_alive, request.version)
    body = has_body(response.status, request.method)
    if chunked and body:
        head += b"transfer-encoding: chunked\r\n"
    conn.write_head(head + b"\r\n")
    sent = 0
    if body:

        async def send(data: bytes) -> None:
            nonlocal sent
            sent += len(data)
            conn.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
            await conn.drain()

        await response.stream_to(send)
        if chunked:
            conn.write(b"0\r\n\r\n")
    conn.finish_response(request, response.status, keep_alive, sent)


async def send_file(conn: ResponseWriting, request: Request, response: FileResponse) -> None:
    """Send a file (sendfile where the loop and transport allow it).

    Honours ``Range`` (and ``If-Range``) and answers a conditional GET (``If-None-Match``,
    ``If-Modified-Since``) with 304 when the file has not changed.
    """
    handle, info = open_file(response.path)
    with handle:
        size = info.st_size
        start, end, status = 0, size, response.status
        headers = response.headers
        etag, modified = entity_tag(info), last_modified(info)
        headers.setdefault("Accept-Ranges", "bytes")
        headers.setdefault("Last-Modified", modified)
        headers.setdefault("ETag", etag)
        asked = request.headers
        if status == 200 and not_modified(
            info, etag, asked.get("if-none-match"), asked.get("if-modified-since")
        ):
            response.status = status = 304
        range_header = asked.get("range") if status == 200 else None
        if range_header and asked.get("if-range", etag) in (etag, modified):
            chosen = parse_range(range_header, size)
            if chosen is not None:
                start, end = chosen
                response.status = status = 206
                headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        keep_alive = conn.keep_alive_for(request)
        head = response_head(response, conn.clock, keep_alive, request.version)
        if status == 304:
            conn.write_head(head + b"\r\n")
        else:
            conn.write_head(head + b"content-length: %d\r\n\r\n" % (end - start))
            if has_body(status, request.method) and end > start:
                await copy_file(conn, handle, start, end - start, response.chunk_size)
    conn.finish_response(request, status, keep_alive, end - start if status != 304 else 0)


async def copy_file(
    conn: ResponseWriting, handle: BinaryIO, offset: int, count: int, chunk: int
) -> None:
    """Write ``count`` bytes of ``handle`` from ``offset`` (sendfile when possible)."""
    transport = conn.transport
    if transport is None:
        raise ConnectionResetError("Connection lost")
    if transport.get_extra_info("sslcontext") is None:
        try:
            await conn.loop.sendfile(transport, handle, offset, count, fallback=False)
        except _UNAVAILABLE:
            pass  # uvloop and TLS transports: copy through the transport instead
        else:
            return
    read = handle.read
    handle.seek(offset)
    remaining = count
    # A file that fits one chunk is read inline; a larger one in a thread, so that a slow
    # disk never stalls the event loop for every other connection.
    inline = count <= chunk
    while remaining > 0:
        size = min(chunk, remaining)
        data = read(size) if inline else await conn.loop.run_in_executor(None, read, size)
        if not data:
            raise OSError(f"The file shrank while it was sent ({remaining} bytes missing)")
        conn.write(data)
        remaining -= len(data)
        await conn.drain()
