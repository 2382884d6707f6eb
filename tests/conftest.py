"""Shared by every suite: puts ``tests/_shared`` (``testkit``) on ``sys.path``.

Spawned child processes inherit ``sys.path``, so they can import it too.
"""

from __future__ import annotations

import sys
from pathlib import Path

SHARED = Path(__file__).parent / "_shared"
if str(SHARED) not in sys.path:
    sys.path.insert(0, str(SHARED))
