"""Callables cross process boundaries as import paths ``module:qualified.name``.

Runs in: both sides (paths are made in the main process and resolved in managed processes).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from hurtle_worker_manager.errors import TargetError

__all__ = ["import_path", "resolve"]


def import_path(func: Callable[..., Any] | str) -> str:
    """Return the import path of ``func`` (a module-level callable), or check a given path.

    Raises ``TargetError`` for lambdas, local functions and objects without a module,
    since another process could not find them.
    """
    if isinstance(func, str):
        module_part, sep, name = func.partition(":")
        if not (module_part and sep and name):
            raise TargetError(f"{func!r} is not an import path of the form 'module:name'")
        return func
    module: str | None = getattr(func, "__module__", None)
    qualname: str | None = getattr(func, "__qualname__", None)
    if not module or not qualname:
        raise TargetError(
            f"{func!r} has no importable path: pass a module-level function or 'module:name'"
        )
    if "<locals>" in qualname or "<lambda>" in qualname:
        raise TargetError(
            f"{module}.{qualname} is a local function or lambda, which another process "
            "cannot import: define it at module level"
        )
    return f"{module}:{qualname}"


def resolve(path: str) -> Callable[..., Any]:
    """Import and return the callable at ``path``; raises ``TargetError`` if it is not one."""
    module_name, _, qualname = import_path(path).partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(
                f"{path}: module {module_name!r} has no attribute {qualname!r}"
            ) from None
    if not callable(obj):
        raise TargetError(f"{path} is a {type(obj).__name__}, not a callable")
    return obj  # type: ignore[no-any-return]
