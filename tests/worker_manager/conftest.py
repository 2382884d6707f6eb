"""Fixtures for the worker-manager tests; helpers live in support/wm_helpers.py."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

SUPPORT = Path(__file__).parent / "support"
if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))  # spawn children inherit sys.path from the parent


@pytest.fixture
def manager_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Capture the manager's log at INFO."""
    caplog.set_level(logging.INFO, logger="hurtle.manager")
    return caplog
