"""The process supervisor of Hurtle (work in progress)."""

from hurtle_worker_manager.__about__ import __version__

__all__ = ["__version__"]
