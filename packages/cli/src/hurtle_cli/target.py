"""Find the user's app for ``hurtle serve``: ``module:attr``, a factory, or a path to a file.

hurtle-cli never imports the ``hurtle`` package; it imports the user's module by name (so
that spawned workers can import it again) and accepts any object with a callable ``run``.
A callable object (an ASGI app: FastAPI, Starlette, Django, Quart...) is first offered to
the ``hurtle.serve`` entry points that installed packages declare (the ``hurtle``
meta-package declares one for ASGI apps): the first that returns an object with ``run``
serves it, so a Quart app is served by Hurtle rather than by its own ``run()``.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Protocol

from hurtle_cli.errors import AppLoadError

__all__ = ["SERVE_GROUP", "RunnableApp", "Target", "load_app", "parse_target"]

SERVE_GROUP = "hurtle.serve"
"""Entry points ``adapt(obj, *, target, factory) -> RunnableApp | None`` for apps without run()."""


class RunnableApp(Protocol):
    """What ``hurtle serve`` needs of an app: a ``run(...)`` method."""

    def run(self, *args: object, **kwargs: object) -> object: ...


@dataclass(frozen=True)
class Target:
    """A parsed TARGET: the module to import, the attribute path in it, how to get the app."""

    module: str
    attr: str
    factory: bool
    directory: Path | None = None
    dotted: bool = False  # ``pkg.mod.app`` without ':' may name an attribute (tried second)

    @property
    def display(self) -> str:
        """``module:attr`` as the user would write it."""
        return f"{self.module}:{self.attr}"


def parse_target(text: str, factory: bool = False) -> Target:
    """Parse ``module[:attr]``, ``module:factory()``, ``pkg.module.attr`` or
    ``path/to/file.py[:attr]``.

    ``attr`` defaults to ``app``; a trailing ``()`` means the attribute is a factory. A
    dotted name without ``:`` is a module when one exists by that name, else its last part
    is the attribute (``pkg.web.app`` = ``pkg.web:app``).
    """
    spec = text.strip()
    if not spec:
        raise AppLoadError("the TARGET is empty: give module:app or path/to/app.py")
    location, _, attr = spec.rpartition(":") if ":" in spec else (spec, "", "")
    attr = attr.strip() or "app"
    if attr.endswith("()"):
        factory, attr = True, attr[:-2]
    if not all(part.isidentifier() for part in attr.split(".")):
        raise AppLoadError(f"{spec!r}: {attr!r} is not an attribute name")
    if location.endswith(".py") or os.sep in location:
        path = Path(location)
        if path.suffix != ".py" or not path.is_file():
            raise AppLoadError(f"could not import {spec!r}: no such Python file {location!r}")
        path = path.resolve()
        return Target(path.stem, attr, factory, path.parent)
    if not all(part.isidentifier() for part in location.split(".")):
        raise AppLoadError(f"{spec!r}: {location!r} is not a module name or a path to a .py file")
    return Target(location, attr, factory, dotted=":" not in spec and "." in location)


def load_app(target: Target) -> RunnableApp:
    """Import ``target`` and return the app; raises ``AppLoadError`` with one clear line.

    The current directory (and a file target's directory) is put first on ``sys.path``,
    like uvicorn, so ``hurtle serve app:app`` finds ``./app.py``.
    """
    for directory in (target.directory, Path.cwd()):
        if directory is not None and str(directory) not in sys.path:
            sys.path.insert(0, str(directory))
    try:
        module = importlib.import_module(target.module)
    except ModuleNotFoundError as exc:
        if target.dotted and exc.name == target.module:
            # ``pkg.mod.app``: the module is ``pkg.mod``, the app its attribute ``app``.
            head, _, tail = target.module.rpartition(".")
            return load_app(replace(target, module=head, attr=tail, dotted=False))
        raise AppLoadError(f"could not import {target.module!r}: {exc}") from exc
    except ImportError as exc:
        raise AppLoadError(f"could not import {target.module!r}: {exc}") from exc
    except Exception as exc:
        raise AppLoadError(
            f"could not import {target.module!r}: {type(exc).__name__}: {exc}"
        ) from exc
    obj: object = module
    for part in target.attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise AppLoadError(
                f"module {target.module!r} has no attribute {target.attr!r}"
            ) from None
    if target.factory:
        if not callable(obj):
            raise AppLoadError(f"{target.display} is not callable, so it cannot be a factory")
        try:
            obj = obj()
        except Exception as exc:
            raise AppLoadError(
                f"the factory {target.display}() raised {type(exc).__name__}: {exc}"
            ) from exc
    servers = list(entry_points(group=SERVE_GROUP)) if callable(obj) else []
    for server in servers:  # ASGI apps, even with a run() (Quart), and ASGI 2 classes
        runnable = _offer(server, obj, target)
        if runnable is not None:
            return runnable
    if isinstance(obj, type):
        raise AppLoadError(
            f"{target.display} is a class, not an app: create the app in the module "
            "(app = MyApp(...)) or point at a factory with --factory"
        )
    if callable(getattr(obj, "run", None)):
        return obj  # type: ignore[return-value]
    problem = f"{target.display} is not an app: a {type(obj).__name__} has no run() method"
    if not callable(obj):
        raise AppLoadError(problem)
    hint = "" if target.factory else " (a factory? add --factory)"
    if not servers:
        raise AppLoadError(
            f"{problem}, and no installed package serves ASGI apps (pip install hurtle does){hint}"
        )
    raise AppLoadError(f"{problem} and is not an ASGI application{hint}")


def _offer(server: EntryPoint, obj: object, target: Target) -> RunnableApp | None:
    """What the ``hurtle.serve`` entry point ``server`` makes of ``obj`` (None: not for it)."""
    try:
        adapt: Callable[..., object] = server.load()
    except Exception as exc:
        raise AppLoadError(
            f"the {SERVE_GROUP} entry point {server.value!r} could not be loaded: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    try:
        runnable = adapt(obj, target=target.display, factory=target.factory)
    except Exception as exc:
        raise AppLoadError(
            f"{target.display} cannot be served: {type(exc).__name__}: {exc}"
        ) from exc
    if runnable is None:
        return None
    if not callable(getattr(runnable, "run", None)):
        raise AppLoadError(
            f"the {SERVE_GROUP} entry point {server.value!r} returned a "
            f"{type(runnable).__name__}, which has no run() method"
        )
    return runnable  # type: ignore[return-value]
