"""Class-based views: one class per resource, one method per HTTP method.

::

    class Items(HTTPMethodView):
        async def get(self, request): ...
        async def post(self, request): ...

    app.add_route(Items.as_view(), "/items")

``decorators`` (a class attribute or an ``as_view`` argument) wrap the view function;
``class Items(HTTPMethodView, attach=app, uri="/items")`` registers it at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from hurtle_http.exceptions import MethodNotAllowed
from hurtle_http.router import HTTP_METHODS


class HTTPMethodView:
    """A view whose ``get``/``post``/... methods handle the matching HTTP methods."""

    decorators: ClassVar[list[Callable[..., Any]]] = []

    def __init_subclass__(
        cls,
        attach: Any = None,
        uri: str = "",
        methods: Iterable[str] | None = None,
        **route_options: Any,
    ) -> None:
        super().__init_subclass__()
        if attach is not None:
            attach.add_route(cls.as_view(), uri, methods, **route_options)

    @classmethod
    def methods(cls) -> tuple[str, ...]:
        """The HTTP methods this view defines (upper case)."""
        return tuple(m for m in HTTP_METHODS if callable(getattr(cls, m.lower(), None)))

    def dispatch_request(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """Call the method named after ``request.method`` (405 when it has none)."""
        handler = getattr(self, request.method.lower(), None)
        if handler is None and request.method == "HEAD":
            handler = getattr(self, "get", None)
        if handler is None:
            raise MethodNotAllowed(allowed=self.methods())
        return handler(request, *args, **kwargs)

    @classmethod
    def as_view(cls, *class_args: Any, **class_kwargs: Any) -> Callable[..., Any]:
        """A route handler that builds the view (with these arguments) per request."""

        def view(*args: Any, **kwargs: Any) -> Any:
            self = view.view_class(*class_args, **class_kwargs)  # type: ignore[attr-defined]
            return self.dispatch_request(*args, **kwargs)

        for decorator in cls.decorators:
            view = decorator(view)
        view.view_class = cls  # type: ignore[attr-defined]
        view.__doc__ = cls.__doc__
        view.__module__ = cls.__module__
        view.__name__ = cls.__name__
        return view


__all__ = ["HTTPMethodView"]
