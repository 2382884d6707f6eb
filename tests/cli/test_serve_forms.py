"""The reference's ways to name and run an app: ``hurtle pkg.web.app``, ``hurtle module:app
--options`` (no ``serve``), ``--unix``, ``--log-level`` and ``--log-config``."""

from __future__ import annotations

import json
import logging
import os
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_helpers import hurtle

FAKE_APP = """
    import json
    import logging
    import os


    class FakeApp:
        def run(self, **kwargs):
            kwargs["_level"] = logging.getLevelName(logging.getLogger("hurtle").level)
            kwargs["_env"] = {k: v for k, v in os.environ.items() if k.startswith("HURTLE_LOG")}
            print("RUN " + json.dumps(kwargs, sort_keys=True))


    app = FakeApp()
"""


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A package ``<name>.web`` with an ``app``, in the current directory; restored after."""
    name = f"fakepkg_{uuid.uuid4().hex[:8]}"
    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text("")
    (tmp_path / name / "web.py").write_text(textwrap.dedent(FAKE_APP))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    for key in ("HURTLE_LOG_LEVEL", "HURTLE_LOG_CONFIG"):
        monkeypatch.delenv(key, raising=False)
    hurtle_logger = logging.getLogger("hurtle")
    root = logging.getLogger()
    saved = (hurtle_logger.level, root.level, list(root.handlers))
    before = set(sys.modules)
    try:
        yield name
    finally:
        for module in set(sys.modules) - before:
            del sys.modules[module]
        hurtle_logger.setLevel(saved[0])
        root.setLevel(saved[1])
        root.handlers[:] = saved[2]
        for key in ("HURTLE_LOG_LEVEL", "HURTLE_LOG_CONFIG"):
            os.environ.pop(key, None)  # set by the command in this process


def _run(stdout: str) -> dict[str, object]:
    lines = [line for line in stdout.splitlines() if line.startswith("RUN ")]
    assert len(lines) == 1, stdout
    result: dict[str, object] = json.loads(lines[0][4:])
    return result


def test_dotted_target_names_the_attribute(package: str) -> None:
    for target in (f"{package}.web.app", f"{package}.web:app", f"{package}.web"):
        result = hurtle("serve", target)
        assert result.exit_code == 0, (target, result.output)
    missing = hurtle("serve", f"{package}.web.nope")
    assert missing.exit_code == 1
    assert "has no attribute 'nope'" in missing.stderr
    nothing = hurtle("serve", "nosuchpkg_zz.web.app")
    assert nothing.exit_code == 1 and "No module named 'nosuchpkg_zz'" in nothing.stderr


def test_target_first_is_serve_with_its_options(package: str) -> None:
    result = hurtle(
        f"{package}.web:app", "--workers", "3", "--port", "9000", "-u", "/tmp/x.sock",
        "--access-log-format", "%(h)s %(s)s",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    kwargs = _run(result.stdout)
    assert (kwargs["workers"], kwargs["port"], kwargs["unix"]) == (3, 9000, "/tmp/x.sock")
    assert kwargs["access_log_format"] == "%(h)s %(s)s"
    assert hurtle("--version").exit_code == 0  # options and commands keep their meaning
    assert "Usage" in hurtle("inspect", "--help").output


def test_log_level_and_log_config_reach_run_and_the_workers_env(
    package: str, tmp_path: Path
) -> None:
    result = hurtle(f"{package}.web.app", "--log-level", "debug")
    assert result.exit_code == 0, result.output
    kwargs = _run(result.stdout)
    assert kwargs["_level"] == "DEBUG"
    assert kwargs["_env"] == {"HURTLE_LOG_LEVEL": "DEBUG"}
    os.environ.pop("HURTLE_LOG_LEVEL")  # the command exported it in this test process
    config = tmp_path / "logging.json"
    config.write_text(
        json.dumps({"version": 1, "disable_existing_loggers": False,
                    "loggers": {"hurtle": {"level": "WARNING"}}})
    )  # fmt: skip
    result = hurtle(f"{package}.web.app", "--log-config", config)
    kwargs = _run(result.stdout)
    assert kwargs["_level"] == "WARNING"
    assert kwargs["_env"] == {"HURTLE_LOG_CONFIG": str(config.resolve())}
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    failed = hurtle(f"{package}.web.app", "--log-config", broken)
    assert failed.exit_code == 1 and "--log-config" in failed.stderr
