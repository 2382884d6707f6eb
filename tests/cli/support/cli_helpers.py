"""Running the ``hurtle`` command in tests: in process (CliRunner) or as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping

from click.testing import CliRunner, Result

from hurtle_cli.main import cli

ENV_NAMES = ("HOST", "PORT", "SECURE", "API_KEY", "CAFILE", "INSECURE", "TIMEOUT")


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """CliRunner env: every HURTLE_INSPECTOR_* variable unset, then ``extra``."""
    env: dict[str, str | None] = {f"HURTLE_INSPECTOR_{n}": None for n in ENV_NAMES}
    env["NO_COLOR"] = None
    env.update(extra or {})
    return env


def hurtle(*args: object, env: Mapping[str, str] | None = None, color: bool = False) -> Result:
    """Run ``hurtle ARGS`` in process and return click's result (stdout and stderr apart)."""
    runner = CliRunner()
    return runner.invoke(
        cli,
        [str(a) for a in args],
        env=clean_env(env),
        color=color,
        prog_name="hurtle",
        catch_exceptions=False,
    )


def subprocess_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a ``python -m hurtle_cli`` child: no inspector settings leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HURTLE_INSPECTOR_")}
    env.pop("NO_COLOR", None)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def hurtle_command() -> list[str]:
    """argv prefix that runs this environment's ``hurtle`` command."""
    return [sys.executable, "-m", "hurtle_cli"]


def run_hurtle(
    *args: object, env: Mapping[str, str] | None = None, timeout: float = 60, cwd: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``hurtle ARGS`` as a child process and wait for it."""
    return subprocess.run(
        [*hurtle_command(), *(str(a) for a in args)],
        env=subprocess_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        check=False,
    )
