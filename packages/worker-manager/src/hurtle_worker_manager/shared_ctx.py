"""Objects shared by every process of one manager (multiprocessing Queue, Value, Lock...).

Runs in: both sides (filled in the main process, handed to every managed process).

Attributes are set in the main process during the start phase; the manager then locks
the context and hands it to every process it starts, every generation. Only objects
that multiprocessing can share between processes make sense here; anything else gets a
warning naming the attribute, because each process would silently get its own copy.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["SharedContext", "is_shareable"]

logger = logging.getLogger("hurtle.manager")

_SHAREABLE_MODULES = ("multiprocessing", "ctypes")


def is_shareable(value: object) -> bool:
    """Whether ``value`` is a multiprocessing or ctypes object (tuples checked item by item)."""
    if isinstance(value, (tuple, frozenset)):
        return all(is_shareable(item) for item in value)
    module = type(value).__module__ or ""
    return any(module == name or module.startswith(name + ".") for name in _SHAREABLE_MODULES)


class SharedContext:
    """A namespace of shareable objects; ``lock()`` makes it read-only.

    Setting an attribute after the start phase raises ``RuntimeError``.
    """

    __slots__ = ("__dict__", "_locked")
    _locked: bool

    def __init__(self, **items: Any) -> None:
        object.__setattr__(self, "_locked", False)
        for name, value in items.items():
            setattr(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        if self._locked:
            raise RuntimeError(
                f"Cannot set {name!r} on shared_ctx after the start phase: create shared "
                "objects in the main process before the workers start (main_process_start)"
            )
        if not is_shareable(value):
            logger.warning(
                "shared_ctx.%s is a %s, which processes cannot share: each process gets its "
                "own copy. Use a multiprocessing object (Queue, Value, Array, Lock, Event, "
                "shared_memory) or keep it in the per-process ctx.",
                name,
                type(value).__name__,
            )
        super().__setattr__(name, value)

    def __delattr__(self, name: str) -> None:
        if self._locked:
            raise RuntimeError(f"Cannot delete {name!r} from shared_ctx after the start phase")
        super().__delattr__(name)

    def lock(self) -> None:
        """Forbid any further change."""
        object.__setattr__(self, "_locked", True)

    @property
    def is_locked(self) -> bool:
        """Whether the start phase is over."""
        return self._locked

    def items(self) -> dict[str, Any]:
        """A copy of the shared objects by name."""
        return dict(self.__dict__)

    def __getstate__(self) -> dict[str, Any]:
        return {"items": dict(self.__dict__), "locked": self._locked}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state["items"])
        object.__setattr__(self, "_locked", state["locked"])

    def __repr__(self) -> str:
        names = ", ".join(sorted(self.__dict__))
        return f"SharedContext({names})"
