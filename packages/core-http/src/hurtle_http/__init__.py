"""The HTTP/1.1 server core of Hurtle (work in progress)."""

from hurtle_http.__about__ import __version__

__all__ = ["__version__"]
