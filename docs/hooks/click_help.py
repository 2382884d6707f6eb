"""MkDocs hook: ``<!-- click-help: hurtle inspect -->`` becomes that command's ``--help``.

The text is what click prints for the installed ``hurtle_cli.cli`` (at a fixed width), so
the CLI reference cannot drift from the code. An unknown command fails the build.
"""

from __future__ import annotations

import re
from typing import Any

import click
from mkdocs.exceptions import PluginError

MARKER = re.compile(r"^<!-- click-help: (?P<path>[\w -]+?) -->$", re.MULTILINE)
WIDTH = 88


def help_text(path: str) -> str:
    """The ``--help`` output of ``path`` (``"hurtle"``, ``"hurtle serve"``, ...)."""
    from hurtle_cli import cli

    words = path.split()
    if words[0] != "hurtle":
        raise PluginError(f"click-help: {path!r} does not start with 'hurtle'")
    command: click.Command = cli
    ctx = click.Context(command, info_name="hurtle", terminal_width=WIDTH, max_content_width=WIDTH)
    for word in words[1:]:
        if not isinstance(command, click.Group) or word not in command.commands:
            raise PluginError(f"click-help: 'hurtle' has no command {path!r}")
        command = command.commands[word]
        ctx = click.Context(
            command, info_name=word, parent=ctx, terminal_width=WIDTH, max_content_width=WIDTH
        )
    return command.get_help(ctx)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace every marker with a ``text`` block of the command's help."""

    def render(match: re.Match[str]) -> str:
        return f"```text\n$ {match['path']} --help\n{help_text(match['path'])}\n```"

    return MARKER.sub(render, markdown)
