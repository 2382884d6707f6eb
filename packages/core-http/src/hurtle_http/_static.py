"""``app.static``: files from disk, confined to the directory they were registered with."""

from __future__ import annotations

import html as _html
import os
from typing import TYPE_CHECKING, Any

from hurtle_http.exceptions import FileNotFound, RouteError
from hurtle_http.response import HTTPResponse, file
from hurtle_http.response import html as html_response

if TYPE_CHECKING:
    from hurtle_http.app import HttpApp
    from hurtle_http.request import Request

FILE_PARAM = "__file_uri__"


def register_static(
    app: HttpApp,
    uri: str,
    target: str | os.PathLike[str],
    *,
    name: str,
    strict_slashes: bool | None,
    host: str | None,
    content_type: str | None,
    directory_view: bool,
    index: str | None,
) -> None:
    """Add the GET routes that serve ``target`` (a file or a directory) at ``uri``."""
    root = os.path.realpath(os.fspath(target))
    if not os.path.exists(root):
        raise RouteError(f"app.static({uri!r}, {os.fspath(target)!r}): no such file or directory")

    if os.path.isfile(root):

        async def serve_file(request: Request) -> HTTPResponse:
            return file(root, mime_type=content_type)

        app._add_route(
            serve_file, uri, ("GET",), name=name, strict_slashes=strict_slashes, host=host
        )
        return

    async def serve_dir(request: Request, **params: Any) -> HTTPResponse:
        relative = str(params.get(FILE_PARAM, ""))
        found = _locate(root, relative, index)
        if found is None and directory_view and _is_dir(root, relative):
            return _listing(os.path.join(root, relative.lstrip("/")), request.path)
        if found is None:
            raise FileNotFound("File not found", path=relative, relative_url=request.path)
        return file(found, mime_type=content_type)

    base = uri.rstrip("/")
    app._add_route(
        serve_dir,
        f"{base}/<{FILE_PARAM}:path>",
        ("GET",),
        name=name,
        strict_slashes=True,
        host=host,
    )
    if index or directory_view:
        app._add_route(
            serve_dir,
            base or "/",
            ("GET",),
            name=f"{name}.index",
            strict_slashes=strict_slashes,
            host=host,
        )


def _listing(path: str, url: str) -> HTTPResponse:
    base = url.rstrip("/")
    items = sorted(os.listdir(path))
    rows = "".join(
        f'<li><a href="{_html.escape(base)}/{_html.escape(item)}">{_html.escape(item)}</a></li>'
        for item in items
    )
    return html_response(f"<!doctype html><title>{_html.escape(url)}</title><ul>{rows}</ul>")


def _locate(root: str, relative: str, index: str | None) -> str | None:
    """The file under ``root`` that ``relative`` names (its ``index`` for a directory);
    None when there is none or when it would leave ``root`` (``..``, symlinks)."""
    if "\x00" in relative:
        return None
    path = os.path.realpath(os.path.join(root, relative.lstrip("/")))
    if path != root and not path.startswith(root + os.sep):
        return None
    if os.path.isdir(path):
        if index and os.path.isfile(os.path.join(path, index)):
            return os.path.join(path, index)
        return None
    return path if os.path.isfile(path) else None


def _is_dir(root: str, relative: str) -> bool:
    if "\x00" in relative:
        return False
    path = os.path.realpath(os.path.join(root, relative.lstrip("/")))
    return (path == root or path.startswith(root + os.sep)) and os.path.isdir(path)
