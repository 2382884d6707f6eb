"""The inspector control service of Hurtle (work in progress)."""

from hurtle_inspector.__about__ import __version__

__all__ = ["__version__"]
