"""Finding the app again inside a worker process.

Every ``Hurtle`` registers itself by name when it is created. A worker started with
``fork`` inherits that registry. A worker started with ``spawn`` begins empty: the
script that was run as ``__main__`` is executed again by multiprocessing (as
``__mp_main__``) and other modules are imported by name, so the module that creates the
app creates it again; an app built by a factory is built again by calling the factory.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import msgspec

from hurtle.errors import HurtleError

if TYPE_CHECKING:
    from hurtle.app import Hurtle

__all__ = ["AppRef", "load_app", "register"]

_apps: dict[str, Hurtle] = {}


class AppRef(msgspec.Struct, frozen=True):
    """How a worker finds the app: by ``name``, after importing ``module``.

    ``factory`` is an import path ``module:callable`` that builds the app when importing
    ``module`` does not (``hurtle serve module:factory --factory``). ``asgi`` is the import
    path of an ASGI app that ``hurtle serve`` wrapped in an ``AsgiHost`` (a factory of it
    when ``asgi_factory``): the worker wraps it again.
    """

    name: str
    module: str
    factory: str = ""
    asgi: str = ""
    asgi_factory: bool = False


def register(app: Hurtle) -> None:
    """Record ``app`` under its name (the latest app of a name wins)."""
    _apps[app.name] = app


def registered(name: str) -> Hurtle | None:
    """The app registered in this process under ``name``, if any."""
    return _apps.get(name)


def names() -> list[str]:
    """The names of the apps registered in this process."""
    return list(_apps)


def load_app(ref: AppRef) -> Hurtle:
    """The app ``ref`` names, importing its module or calling its factory when needed."""
    app = _apps.get(ref.name)
    if app is not None:
        return app
    if ref.module not in ("__main__", "__mp_main__"):
        importlib.import_module(ref.module)
        app = _apps.get(ref.name)
    if app is None and ref.asgi:
        from hurtle.asgi import build_from_ref

        app = build_from_ref(ref)
    if app is None and ref.factory:
        module_name, _, attr = ref.factory.partition(":")
        factory = getattr(importlib.import_module(module_name), attr)
        factory()
        app = _apps.get(ref.name)
    if app is None:
        where = "your script" if ref.module in ("__main__", "__mp_main__") else repr(ref.module)
        raise HurtleError(
            f"The app {ref.name!r} was not created when {where} was imported in this worker. "
            "Create it at module level (and call app.run() under "
            '`if __name__ == "__main__":`), or, for an app made by a factory, '
            "serve it with `hurtle serve module:factory --factory`."
        )
    return app
