"""``hurtle module:app [OPTIONS]``: the reference's ``sanic module:app``, as ``hurtle serve``."""

from __future__ import annotations

import click


class HurtleGroup(click.Group):
    """A command group where a first word that is no command is the TARGET of ``serve``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["serve", *args]
        return super().parse_args(ctx, args)
