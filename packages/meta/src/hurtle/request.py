"""``hurtle.request``: the request object and its helpers (see ``hurtle_http.request``)."""

from hurtle_http import File, Request, RequestParameters
from hurtle_http.request import CookieParameters

__all__ = ["CookieParameters", "File", "Request", "RequestParameters"]
