"""The access log: one ``hurtle.access`` record per response, written where it finishes.

Every record carries these ``extra`` fields, for a formatter of your own (``--log-config``):

=================  ==========================================================================
``host``           ``ip:port`` of the client (the reference's field; ``-`` on a Unix socket)
``request``        ``GET http://host/path?query`` (the reference's field)
``status``         the response status (int)
``byte``           bytes of response body written (int; 0 for HEAD, 1xx, 204, 304)
``duration``       milliseconds from the request head to the last byte written (float)
``request_id``     ``request.id`` as text
``client_ip``      the client's address (a trusted proxy's report, else the peer's, else ``-``)
``method``         the request method
``target``         the request target as sent, e.g. ``/search?q=x`` (non-ASCII bytes escaped)
``http_version``   ``1.1`` or ``1.0``
=================  ==========================================================================

The message is ``ACCESS_LOG_FORMAT`` filled with those fields and with gunicorn's atoms
(``%(h)s %(r)s %(s)s %(b)s %(M)s``, ``%({user-agent}i)s``...), which are computed only
when the format names them. The message is rendered when a handler emits the record.
"""

from __future__ import annotations

import logging
import os
import time
from logging import INFO
from typing import TYPE_CHECKING

from hurtle_http._wire import has_body
from hurtle_http.exceptions import ConfigError

if TYPE_CHECKING:
    from hurtle_http.request import Request

__all__ = ["ATOMS", "DEFAULT_FORMAT", "FIELDS", "AccessLog", "now"]

access_logger = logging.getLogger("hurtle.access")

now = time.perf_counter
"""The clock of ``duration``: ``request._started`` is read from it when the head is parsed."""

DEFAULT_FORMAT = (
    '%(client_ip)s "%(method)s %(target)s HTTP/%(http_version)s" '
    "%(status)d %(byte)d %(duration).3fms %(request_id)s"
)
"""``127.0.0.1 "GET /search?q=x HTTP/1.1" 200 17 0.412ms 1f0c...``"""

ATOMS: dict[str, str] = {
    "h": "the client's address",
    "l": "'-'",
    "u": "'-' (no user name)",
    "t": "the time, [02/Dec/2026:10:41:50 +0000]",
    "r": "the request line, GET /path?query HTTP/1.1",
    "m": "the method",
    "U": "the path, without the query",
    "q": "the query string",
    "H": "the protocol, HTTP/1.1",
    "s": "the status",
    "B": "body bytes",
    "b": "body bytes, '-' for none",
    "f": "the Referer header",
    "a": "the User-Agent header",
    "T": "duration in whole seconds",
    "M": "duration in whole milliseconds",
    "D": "duration in whole microseconds",
    "L": "duration in decimal seconds",
    "p": "<pid>",
    "{name}i": "the request header 'name'",
}
"""gunicorn's atoms that ``ACCESS_LOG_FORMAT`` may use beside the record's fields."""

FIELDS: tuple[str, ...] = (
    "host",
    "request",
    "status",
    "byte",
    "duration",
    "request_id",
    "client_ip",
    "method",
    "target",
    "http_version",
)
"""The ``extra`` fields of every access record (see the module doc)."""


class _Fields(dict[str, object]):
    """The fields of one record; the gunicorn atoms are looked up only when a format asks."""

    __slots__ = ("_request",)

    def __init__(self, request: Request | None, fields: dict[str, object]) -> None:
        super().__init__(fields)
        self._request = request

    def __missing__(self, key: str) -> object:
        if key.startswith("{") and key.endswith("}i") and len(key) > 3:
            return self._header(key[1:-2])
        if key == "h":
            return self["client_ip"]
        if key == "l" or key == "u":
            return "-"
        if key == "t":
            return time.strftime("[%d/%b/%Y:%H:%M:%S %z]")
        if key == "r":
            return f"{self['method']} {self['target']} HTTP/{self['http_version']}"
        if key == "m":
            return self["method"]
        if key == "U":
            return str(self["target"]).partition("?")[0]
        if key == "q":
            return str(self["target"]).partition("?")[2]
        if key == "H":
            return f"HTTP/{self['http_version']}"
        if key == "s":
            return self["status"]
        if key == "B":
            return self["byte"]
        if key == "b":
            return self["byte"] or "-"
        if key == "f":
            return self._header("referer")
        if key == "a":
            return self._header("user-agent")
        duration = float(self["duration"])  # type: ignore[arg-type]
        if key == "T":
            return int(duration / 1000)
        if key == "M":
            return int(duration)
        if key == "D":
            return int(duration * 1000)
        if key == "L":
            return f"{duration / 1000:.6f}"
        if key == "p":
            return f"<{os.getpid()}>"
        raise KeyError(key)

    def _header(self, name: str) -> str:
        request = self._request
        value = request.headers.get(name) if request is not None else None
        return value if value is not None else "-"


_SAMPLE = {
    "host": "127.0.0.1:50000",
    "request": "GET http://localhost/a?b=c",
    "status": 200,
    "byte": 2,
    "duration": 0.5,
    "request_id": "id",
    "client_ip": "127.0.0.1",
    "method": "GET",
    "target": "/a?b=c",
    "http_version": "1.1",
}


class AccessLog:
    """Writes one record per response to ``hurtle.access``, its message in ``fmt``.

    ``fmt`` is checked at once: an unknown name or a bad ``%`` raises ``ConfigError``.
    """

    __slots__ = ("_atoms", "format")

    def __init__(self, fmt: str = DEFAULT_FORMAT) -> None:
        if not isinstance(fmt, str) or not fmt:
            raise ConfigError(f"ACCESS_LOG_FORMAT={fmt!r}: give a non-empty %-format string")
        try:
            fmt % _Fields(None, _SAMPLE)
        except KeyError as exc:
            raise ConfigError(
                f"ACCESS_LOG_FORMAT={fmt!r} names an unknown field %({exc.args[0]})s: use "
                f"{', '.join(FIELDS)} or a gunicorn atom ({', '.join(ATOMS)})"
            ) from None
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"ACCESS_LOG_FORMAT={fmt!r} is not a valid %-format ({exc}): write each field "
                "as %(name)s, and a literal percent sign as %%"
            ) from None
        self.format = fmt
        try:
            fmt % _SAMPLE
        except KeyError:
            self._atoms = True  # the format names gunicorn atoms: look them up per record
        else:
            self._atoms = False

    def log(self, request: Request, status: int, size: int) -> None:
        """Record the response to ``request``: ``status``, ``size`` bytes of body, ending now."""
        logger = access_logger
        if not logger.isEnabledFor(INFO):
            return
        duration = round((now() - request._started) * 1000.0, 3)
        if not has_body(status, request.method):
            size = 0
        method = request.method
        client_ip = request.client_ip or "-"  # a Unix socket's peer has no address
        fields: dict[str, object] = {
            "host": f"{client_ip}:{request.port}" if client_ip != "-" else "-",
            "request": f"{method} {request.url}",
            "status": status,
            "byte": size,
            "duration": duration,
            "request_id": str(request.id),
            "client_ip": client_ip,
            "method": method,
            "target": request.raw_url.decode("ascii", "backslashreplace"),
            "http_version": request.version,
        }
        args = _Fields(request, fields) if self._atoms else fields
        # What logger.info does, less the search of the caller's frame (no one needs the
        # file and line of an access record): about a tenth of the record's cost.
        record = logger.makeRecord(
            logger.name, INFO, __file__, 0, self.format, (args,), None, "log", fields
        )
        logger.handle(record)
