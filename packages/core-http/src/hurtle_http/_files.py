"""Helpers for file responses: opening a file safely and parsing ``Range``."""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from hurtle_http._wire import http_date
from hurtle_http.exceptions import Forbidden, NotFound, RangeNotSatisfiable


def open_file(path: str) -> tuple[BinaryIO, os.stat_result]:
    """Open a regular file for reading; NotFound/Forbidden when that is impossible."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - the caller closes it after sending
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise NotFound(f"File not found: {os.path.basename(path)}") from None
    except PermissionError:
        raise Forbidden(f"File not readable: {os.path.basename(path)}") from None
    info = os.fstat(handle.fileno())
    if not stat.S_ISREG(info.st_mode):
        handle.close()
        raise NotFound(f"Not a regular file: {os.path.basename(path)}")
    return handle, info


def last_modified(info: os.stat_result) -> str:
    """The ``Last-Modified`` value of a file."""
    return http_date(info.st_mtime)


def entity_tag(info: os.stat_result) -> str:
    """A strong ``ETag`` for a file version (its modification time and size)."""
    return f'"{info.st_mtime_ns:x}-{info.st_size:x}"'


def not_modified(
    info: os.stat_result, etag: str, if_none_match: str | None, if_modified_since: str | None
) -> bool:
    """Whether a conditional GET may be answered 304 (RFC 9110 13.1.2 and 13.1.3)."""
    if if_none_match is not None:
        tags = {tag.strip() for tag in if_none_match.split(",")}
        return "*" in tags or etag in tags or f"W/{etag}" in tags
    if if_modified_since:
        from email.utils import parsedate_to_datetime  # here: email costs ~10 ms at start

        try:
            since = parsedate_to_datetime(if_modified_since).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
        return int(info.st_mtime) <= since
    return False


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The ``[start, end)`` of a single ``bytes=`` range, None to send the whole file.

    Malformed headers and multi-range requests are ignored (RFC 9110 allows that);
    a well-formed range outside the file raises RangeNotSatisfiable.
    """
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    first, last = first.strip(), last.strip()
    if not (first.isdigit() or first == "") or not (last.isdigit() or last == ""):
        return None
    if first == "":
        if last == "":
            return None
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise _unsatisfiable(size)
        return max(0, size - suffix), size
    start = int(first)
    end = size if last == "" else min(int(last) + 1, size)
    if start >= size or (last != "" and int(last) < start):
        if last != "" and int(last) < start:
            return None
        raise _unsatisfiable(size)
    return start, end


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(
        f"The requested range is outside the file ({size} bytes)",
        headers={"Content-Range": f"bytes */{size}"},
    )
