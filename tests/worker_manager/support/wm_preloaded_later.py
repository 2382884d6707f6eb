"""A module one test preloads into a template that is already running: where was it imported?"""

from __future__ import annotations

import os

IMPORTED_IN = os.getpid()
