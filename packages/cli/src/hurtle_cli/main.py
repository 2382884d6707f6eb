"""The ``hurtle`` command group: ``--version``, ``serve`` and ``inspect``."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

import click

from hurtle_cli._shorthand import HurtleGroup
from hurtle_cli.inspect import inspect
from hurtle_cli.serve import serve

__all__ = ["DISTRIBUTIONS", "cli", "main", "versions"]

# Every distribution of the Hurtle family, in the order --version lists them.
DISTRIBUTIONS = ("hurtle", "hurtle-http", "hurtle-worker-manager", "hurtle-inspector", "hurtle-cli")

HELP = """Hurtle: a fast Python HTTP server, its worker manager and its inspector.

\b
Examples:
  hurtle serve app:app --workers 4
  hurtle app:app --workers 4          (TARGET first: the same as hurtle serve)
  hurtle inspect
  hurtle inspect reload --zero-downtime --wait
  hurtle COMMAND --help

\b
Shell completion (add the line to your shell's startup file):
  bash:  eval "$(_HURTLE_COMPLETE=bash_source hurtle)"
  zsh:   eval "$(_HURTLE_COMPLETE=zsh_source hurtle)"
  fish:  _HURTLE_COMPLETE=fish_source hurtle | source
"""


def versions() -> list[tuple[str, str]]:
    """``(distribution, version)`` for every installed Hurtle distribution."""
    found = []
    for name in DISTRIBUTIONS:
        try:
            found.append((name, version(name)))
        except PackageNotFoundError:
            continue
    return found


def _print_versions(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    width = max(len(name) for name in DISTRIBUTIONS)
    for name, number in versions():
        click.echo(f"{name.ljust(width)}  {number}")
    impl = platform.python_implementation()
    click.echo(
        f"{'python'.ljust(width)}  {platform.python_version()} ({impl}, {platform.system()})"
    )
    ctx.exit(0)


@click.group(
    "hurtle",
    cls=HurtleGroup,
    help=HELP,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "-V",
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_versions,
    help="Show the versions of the installed Hurtle packages and exit.",
)
def cli() -> None:
    """The ``hurtle`` command group (its help text is ``HELP``)."""


cli.add_command(serve)
cli.add_command(inspect)


def main() -> None:
    """Console-script entry point: run ``hurtle`` with ``sys.argv``."""
    cli.main(prog_name="hurtle")
