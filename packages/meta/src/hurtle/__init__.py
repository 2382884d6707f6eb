"""The Hurtle meta-package of Hurtle (work in progress)."""

from hurtle.__about__ import __version__

__all__ = ["__version__"]
