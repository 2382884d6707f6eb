"""What mypyc needs to know of the modules it compiles (see ``hatch_build.py``).

``mypyc_attr(allow_interpreted_subclasses=True)`` lets a class compiled with mypyc be
subclassed by interpreted code (an app's ``HttpApp`` or response subclass). The compiler
reads the decorator from ``mypy_extensions``; at run time it is a no-op, so that neither
the compiled nor the pure-Python package needs ``mypy_extensions`` installed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_extensions import mypyc_attr as mypyc_attr
else:

    def mypyc_attr(*args: Any, **kwargs: Any) -> Any:
        return lambda cls: cls


def compiled() -> bool:
    """Whether the per-request modules run compiled (a standard wheel built with mypyc)."""
    from hurtle_http import protocol

    return not protocol.__file__.endswith(".py")
