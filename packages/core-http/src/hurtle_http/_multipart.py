"""Parsing of ``multipart/form-data`` bodies into fields and files."""

from __future__ import annotations

from dataclasses import dataclass

from hurtle_http.exceptions import BadRequest


@dataclass(frozen=True, slots=True)
class File:
    """An uploaded file: its form ``name``, client ``filename``, content ``type`` and ``body``."""

    name: str
    filename: str
    type: str
    body: bytes


def parse_options(header: str) -> tuple[str, dict[str, str]]:
    """Split ``value; key=val; ...`` (as in Content-Type) into the value and its parameters."""
    from email.message import Message  # here: email costs ~10 ms at start, forms are rare

    message = Message()
    message["content-type"] = header
    params = message.get_params() or []
    value = params[0][0].lower() if params else ""
    options: dict[str, str] = {}
    for key, val in params[1:]:
        options[key.lower()] = val if isinstance(val, str) else str(val)
    return value, options


def _part_headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.split(b"\r\n"):
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            raise BadRequest("Malformed multipart body: a part header has no colon")
        headers[name.strip().decode("latin-1").lower()] = value.strip().decode("utf-8", "replace")
    return headers


def parse_multipart(
    body: bytes, boundary: str, charset: str = "utf-8"
) -> tuple[list[tuple[str, str]], list[File]]:
    """The ``(name, value)`` fields and the files of a ``multipart/form-data`` body."""
    if not boundary:
        raise BadRequest("Malformed multipart body: the Content-Type has no boundary")
    delimiter = b"--" + boundary.encode("latin-1")
    fields: list[tuple[str, str]] = []
    files: list[File] = []
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise BadRequest("Malformed multipart body: the closing boundary is missing")
    for chunk in chunks[1:-1]:
        if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n"):
            raise BadRequest("Malformed multipart body: a boundary is not on its own line")
        head, sep, content = chunk[2:-2].partition(b"\r\n\r\n")
        if not sep:
            raise BadRequest("Malformed multipart body: a part has no blank line after its headers")
        headers = _part_headers(head)
        disposition, options = parse_options(headers.get("content-disposition", ""))
        name = options.get("name")
        if disposition != "form-data" or name is None:
            raise BadRequest("Malformed multipart body: a part lacks Content-Disposition form-data")
        filename = options.get("filename")
        if filename is not None:
            kind = headers.get("content-type", "application/octet-stream")
            files.append(File(name, filename, kind, content))
        else:
            fields.append((name, content.decode(charset, "replace")))
    return fields, files
