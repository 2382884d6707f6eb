"""The shorthand decorators ``HttpApp`` and ``Blueprint`` share.

``get``, ``post``, ... are ``route`` with one method; ``before_server_start``, ... are
``listener`` with one event. Each class brings its own ``route`` and ``listener`` (the app
registers at once, a blueprint records for later), and these are written once on top.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class ShorthandDecorators:
    """Route decorators by HTTP method and listener decorators by event."""

    # Provided by the class that mixes this in.
    route: Callable[..., Callable[[F], F]]
    listener: Callable[[str], Callable[[F], F]]

    def get(self, uri: str, **options: Any) -> Callable[[F], F]:
        """Decorator: a GET route (it also answers HEAD); options as for ``route``."""
        return self.route(uri, ("GET",), **options)

    def post(self, uri: str, **options: Any) -> Callable[[F], F]:
        """Decorator: a POST route (``stream=True``: read the body from ``request.stream``)."""
        return self.route(uri, ("POST",), **options)

    def put(self, uri: str, **options: Any) -> Callable[[F], F]:
        """Decorator: a PUT route (``stream=True``: read the body from ``request.stream``)."""
        return self.route(uri, ("PUT",), **options)

    def patch(self, uri: str, **options: Any) -> Callable[[F], F]:
        """Decorator: a PATCH route (``stream=True``: read the body from ``request.stream``)."""
        return self.route(uri, ("PATCH",), **options)

    def delete(self, uri: str, **options: Any) -> Callable[[F], F]:
        """Decorator: a DELETE route."""
        return self.route(uri, ("DELETE",), **options)

    def head(self, uri: str, **options: Any) -> Callable[[F], F]:
        """Decorator: an explicit HEAD route (overrides the automatic one of a GET route)."""
        return self.route(uri, ("HEAD",), **options)

    def options(self, uri: str, **options: Any) -> Callable[[F], F]:
        """Decorator: an OPTIONS route."""
        return self.route(uri, ("OPTIONS",), **options)

    def before_server_start(self, func: F) -> F:
        """Decorator: run before the server accepts connections (open pools here)."""
        return self.listener("before_server_start")(func)

    def after_server_start(self, func: F) -> F:
        """Decorator: run once the server accepts connections."""
        return self.listener("after_server_start")(func)

    def before_server_stop(self, func: F) -> F:
        """Decorator: run when a stop begins, before in-flight requests are drained."""
        return self.listener("before_server_stop")(func)

    def after_server_stop(self, func: F) -> F:
        """Decorator: run after every connection is closed (close pools here)."""
        return self.listener("after_server_stop")(func)
