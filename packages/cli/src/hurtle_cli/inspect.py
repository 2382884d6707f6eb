"""``hurtle inspect``: query and steer a running server through its inspector."""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime

import click
import msgspec

from hurtle_cli._args import BUILTIN_COMMANDS, Call, parse_command
from hurtle_cli.client import Endpoint, InspectorAnswer, InspectorClient
from hurtle_cli.errors import ProtocolError
from hurtle_cli.output import STATS_COLUMNS, render_info, render_json, render_result, render_table
from hurtle_cli.results import decode_info, decode_stats, info_rows

__all__ = ["inspect"]

DEFAULT_TIMEOUT = 10.0
WAIT_TIMEOUT = 300.0
WATCH_INTERVAL = 1.0

HELP = """Show a running server's processes, or send its inspector a command.

\b
Commands:
  (none) | info              app info and the process table
  reload [--zero-downtime] [--wait]
                             restart every server worker (new ones first
                             with --zero-downtime; --wait returns when done)
  restart NAME... [--zero-downtime] [--wait]
                             restart the named processes
  scale N [--wait]           run N server workers
  stats [--watch]            pid, state, uptime, RSS, CPU and requests of
                             every process (--watch: refresh every second
                             until Ctrl-C)
  shutdown                   stop the whole server
  NAME [WORDS...]            a custom command of the app's Inspector class

\b
A custom command's words become its JSON body: plain words go to "args",
--key=value and --key value give "key": "value", --key gives true and
--no-key false; dashes in names become underscores. The options below are
read wherever they stand; words after a "--" all go to the command, so it
can take a key such as --host or --json itself.

\b
Examples:
  hurtle inspect
  hurtle inspect --host https://prod.example:6457 --api-key "$KEY" stats
  hurtle inspect scale 4 --wait
  hurtle inspect reload --zero-downtime --wait
  hurtle inspect restart Hurtle-Server-0-0
  hurtle inspect stats --watch
  hurtle inspect --json | jq .workers
  hurtle inspect something one two three --four --no-five --six=6
  hurtle inspect query -- --host=db1 --json

\b
Exit status: 0 done; 1 the command failed (the server's message is shown);
2 unknown command or bad usage; 3 cannot reach the inspector (or no answer
in time); 4 authentication failed.
"""


class InspectCommand(click.Command):
    """A command whose ``--`` hands every later word to the inspector command untouched."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            ctx.meta["hurtle.after_separator"] = args[cut + 1 :]
            args = args[:cut]
        return super().parse_args(ctx, args)


def _complete_command(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    if ctx.params.get("words"):
        return []
    return [name for name in BUILTIN_COMMANDS if name.startswith(incomplete)]


@click.command(
    "inspect",
    cls=InspectCommand,
    help=HELP,
    short_help="Show a running server's processes, or send it a command.",
    context_settings={"ignore_unknown_options": True, "max_content_width": 100},
)
@click.option(
    "-H",
    "--host",
    default="localhost",
    show_default=True,
    envvar="HURTLE_INSPECTOR_HOST",
    show_envvar=True,
    metavar="HOST",
    help="Inspector host: a name, name:port, http://... or https://... (https means --secure).",
)
@click.option(
    "-p",
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    envvar="HURTLE_INSPECTOR_PORT",
    show_envvar=True,
    help="Inspector port.  [default: 6457]",
)
@click.option(
    "-s",
    "--secure",
    is_flag=True,
    envvar="HURTLE_INSPECTOR_SECURE",
    show_envvar=True,
    help="Use HTTPS (the inspector has INSPECTOR_TLS_CERT/KEY).",
)
@click.option(
    "-k",
    "--api-key",
    envvar="HURTLE_INSPECTOR_API_KEY",
    show_envvar=True,
    metavar="KEY",
    help="Sent as 'Authorization: Bearer KEY'. Prefer the environment variable: "
    "a key on the command line shows in the process list.",
)
@click.option(
    "--cafile",
    type=click.Path(exists=True, dir_okay=False),
    envvar="HURTLE_INSPECTOR_CAFILE",
    show_envvar=True,
    help="Trust the certificates in this PEM file (e.g. a self-signed inspector's cert).",
)
@click.option(
    "--insecure",
    is_flag=True,
    envvar="HURTLE_INSPECTOR_INSECURE",
    show_envvar=True,
    help="HTTPS without checking the certificate (never across an untrusted network).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0, min_open=True),
    default=None,
    envvar="HURTLE_INSPECTOR_TIMEOUT",
    show_envvar=True,
    metavar="SECONDS",
    help=f"How long to wait for an answer.  [default: {DEFAULT_TIMEOUT:g}; "
    f"{WAIT_TIMEOUT:g} with --wait]",
)
@click.option("--json", "as_json", is_flag=True, help="Print the raw JSON result (for scripts).")
@click.argument("words", nargs=-1, type=click.UNPROCESSED, shell_complete=_complete_command)
@click.pass_context
def inspect(
    ctx: click.Context,
    host: str,
    port: int | None,
    secure: bool,
    api_key: str | None,
    cafile: str | None,
    insecure: bool,
    timeout: float | None,
    as_json: bool,
    words: tuple[str, ...],
) -> None:
    """The ``hurtle inspect`` command (its help text is ``HELP``)."""
    # Words after "--" all belong to the command (a second "--" there makes the rest positional).
    call = parse_command([*words, *ctx.meta.get("hurtle.after_separator", [])])
    endpoint = Endpoint.parse(
        host, port, secure=secure, api_key=api_key, cafile=cafile, insecure=insecure
    )
    if endpoint.api_key and not endpoint.secure and not endpoint.is_loopback:
        click.echo(
            f"warning: sending the API key to {endpoint.address} without TLS "
            "(use --secure or https://)",
            err=True,
        )
    if timeout is None:
        timeout = WAIT_TIMEOUT if call.wait else DEFAULT_TIMEOUT
    client = InspectorClient(endpoint, timeout)
    color = False if os.environ.get("NO_COLOR") else None
    if call.watch:
        _watch(client, call, as_json, color)
        return
    reply = client.call(call.action, call.method, call.path, call.body)
    _show(client, call, reply, as_json, color)


def _pretty() -> bool:
    return sys.stdout.isatty()


def _lines(client: InspectorClient, call: Call, reply: InspectorAnswer) -> list[str]:
    try:
        if call.action == "info":
            result = decode_info(reply.result)
            return render_info(client.endpoint.url, result, info_rows(result))
        if call.action == "stats":
            rows = decode_stats(reply.result)
            stamp = datetime.now().strftime("%H:%M:%S")
            heading = click.style(f"{client.endpoint.url}  {stamp}", bold=True)
            return [heading, *render_table(rows, STATS_COLUMNS)]
        return render_result(call.action, reply.result)
    except msgspec.DecodeError as exc:
        raise ProtocolError(
            f"the inspector's answer to {call.action} has an unexpected shape: {exc}"
        ) from None


def _show(
    client: InspectorClient, call: Call, reply: InspectorAnswer, as_json: bool, color: bool | None
) -> None:
    if as_json:
        click.echo(render_json(reply.result, _pretty()))
        return
    click.echo("\n".join(_lines(client, call, reply)), color=color)


def _watch(client: InspectorClient, call: Call, as_json: bool, color: bool | None) -> None:
    """Show ``stats`` every second until Ctrl-C (which ends with status 0)."""
    terminal = _pretty()
    try:
        while True:
            started = time.monotonic()
            reply = client.call(call.action, call.method, call.path, call.body)
            if as_json:
                click.echo(render_json(reply.result, pretty=False))
            else:
                lines = _lines(client, call, reply)
                if terminal:
                    click.clear()
                    lines.append(click.style("(Ctrl-C to stop)", dim=True))
                else:
                    lines.append("")
                click.echo("\n".join(lines), color=color)
            sys.stdout.flush()
            time.sleep(max(0.0, WATCH_INTERVAL - (time.monotonic() - started)))
    except KeyboardInterrupt:
        if terminal:
            click.echo("")
