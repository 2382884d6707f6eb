"""Fixtures for the inspector tests; helpers live in support/ (spawned children import them)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

SUPPORT = Path(__file__).parent / "support"
if str(SUPPORT) not in sys.path:
    sys.path.insert(0, str(SUPPORT))  # spawn children inherit sys.path from the parent

from insp_helpers import RunningApp, start_app, stop_app  # noqa: E402


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Callable[..., RunningApp]]:
    """Start apps (a manager with servers and the inspector) that are stopped after the test."""
    started: list[RunningApp] = []

    def start(**options: Any) -> RunningApp:
        app = start_app(tmp_path / f"app{len(started)}", **options)
        started.append(app)
        return app

    try:
        yield start
    finally:
        errors = [stop_app(app) for app in started]
        problems = [error for error in errors if error]
        if problems:
            pytest.fail("; ".join(problems))


@pytest.fixture(scope="module")
def shared_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """One app for the tests that do not change its workers (custom inspector, fork)."""
    app = start_app(
        tmp_path_factory.mktemp("shared"), inspector_class="insp_targets:CustomInspector"
    )
    try:
        yield app
    finally:
        problem = stop_app(app)
        if problem:
            pytest.fail(problem)


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate and key for localhost and 127.0.0.1, made by openssl."""
    from testkit import make_certificate

    cert, key = make_certificate(tmp_path_factory.mktemp("tls"))
    return str(cert), str(key)
