"""A module the forkserver's template preloads in the tests: it records where it was imported."""

from __future__ import annotations

import os

IMPORTED_IN = os.getpid()
