"""Fixtures for tests/asgi; helpers live in support/asgi_helpers.py, apps in apps/."""

from __future__ import annotations

import sys
from pathlib import Path

SUPPORT = Path(__file__).parent / "support"
if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))
