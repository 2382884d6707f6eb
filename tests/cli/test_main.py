"""The ``hurtle`` group: ``--version``, help with examples on every command, completion."""

from __future__ import annotations

import platform
import re
from importlib.metadata import version

import pytest
from cli_helpers import hurtle, run_hurtle
from click.testing import CliRunner

from hurtle_cli.main import DISTRIBUTIONS, cli


def test_version_lists_every_installed_hurtle_distribution() -> None:
    result = hurtle("--version")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    listed = {line.split()[0]: line.split()[1] for line in lines}
    # This test environment holds hurtle-cli and hurtle-worker-manager only.
    assert listed == {
        "hurtle-worker-manager": version("hurtle-worker-manager"),
        "hurtle-cli": version("hurtle-cli"),
        "python": platform.python_version(),
    }
    assert [line.split()[0] for line in lines] == ["hurtle-worker-manager", "hurtle-cli", "python"]
    assert set(DISTRIBUTIONS) >= {"hurtle", "hurtle-http", "hurtle-inspector"}
    assert hurtle("-V").stdout == result.stdout


@pytest.mark.parametrize("command", [(), ("serve",), ("inspect",)])
def test_help_with_examples_on_every_command(command: tuple[str, ...]) -> None:
    for flag in ("--help", "-h"):
        result = hurtle(*command, flag)
        assert result.exit_code == 0, result.output
        assert "Examples:" in result.stdout
        assert re.search(r"^\s+hurtle \w+", result.stdout, re.M), result.stdout


def test_inspect_help_names_the_environment_variables_and_exit_codes() -> None:
    out = hurtle("inspect", "--help").stdout
    for name in ("HOST", "PORT", "SECURE", "API_KEY", "TIMEOUT", "CAFILE", "INSECURE"):
        assert f"HURTLE_INSPECTOR_{name}" in out
    assert "Exit status:" in out


def test_help_tells_how_to_enable_completion() -> None:
    out = hurtle("--help").stdout
    assert 'eval "$(_HURTLE_COMPLETE=bash_source hurtle)"' in out
    assert 'eval "$(_HURTLE_COMPLETE=zsh_source hurtle)"' in out
    assert "_HURTLE_COMPLETE=fish_source hurtle | source" in out


def _complete(words: str) -> list[str]:
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [],
        prog_name="hurtle",
        env={
            "_HURTLE_COMPLETE": "bash_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split(" ")) - 1),
        },
    )
    assert result.exit_code == 0, result.output
    return [line.split(",", 1)[1] for line in result.stdout.splitlines()]


def test_completion_works() -> None:
    source = hurtle(env={"_HURTLE_COMPLETE": "bash_source"})
    assert source.exit_code == 0
    assert "_hurtle_completion" in source.stdout
    assert _complete("hurtle ") == ["inspect", "serve"]
    assert _complete("hurtle inspect re") == ["reload", "restart"]
    assert "--zero-downtime" not in _complete("hurtle inspect --")
    assert "--api-key" in _complete("hurtle inspect --")


def test_no_command_shows_usage() -> None:
    result = hurtle()
    assert result.exit_code in (0, 2)
    assert "Usage: hurtle [OPTIONS] COMMAND [ARGS]..." in result.output


def test_python_m_hurtle_cli() -> None:
    result = run_hurtle("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-2] == f"hurtle-cli             {version('hurtle-cli')}"
