"""``hurtle serve``: import the user's app and call its ``run(...)``."""

from __future__ import annotations

import inspect
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import click

from hurtle_cli._logging import LOG_LEVELS, apply_logging
from hurtle_cli.errors import HurtleCliError, ServeError
from hurtle_cli.target import load_app, parse_target

__all__ = ["run_kwargs", "serve"]

HELP = """Run the app TARGET with Hurtle's worker manager.

\b
TARGET is one of:
  module:attr        an app object, e.g. myproject.web:app
  module             the same as module:app
  module:factory()   a function that returns the app (or module:factory --factory)
  path/to/app.py     a file (its folder goes on sys.path); path/to/app.py:attr too

An ASGI app (FastAPI, Starlette, Django, Litestar, Quart...) has no run() of its own:
the installed hurtle package serves it under the same worker manager and options.
The current directory is put on sys.path first. Only the options you give are passed to
the app's run(); its own configuration decides everything else.

\b
Examples:
  hurtle serve app:app
  hurtle serve main:app --workers 2 --inspector          # a FastAPI app
  hurtle serve myproject.web:create_app --factory --workers 4 --port 8080
  hurtle serve src/service.py --dev
  hurtle serve app --inspector --tls-cert cert.pem --tls-key key.pem --host 0.0.0.0
  hurtle serve myproject.web.app --unix /run/web.sock --log-level debug
  hurtle serve app --access-log-format '%(h)s "%(r)s" %(s)s %(b)s %(M)sms %(request_id)s'
  hurtle myproject.web:app --workers 2     (the same as hurtle serve ...)
"""


def _given(ctx: click.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source != click.core.ParameterSource.DEFAULT


def run_kwargs(ctx: click.Context) -> dict[str, object]:
    """The keyword arguments for ``app.run()``: only the options given on the command line."""
    p = ctx.params
    kwargs: dict[str, object] = {}
    for name in (
        "host",
        "port",
        "workers",
        "fast",
        "single_process",
        "access_log",
        "access_log_format",
        "debug",
        "unix",
    ):
        if _given(ctx, name):
            kwargs[name] = p[name]
    for name in ("max_requests", "max_requests_jitter", "max_lifetime", "max_rss"):
        if _given(ctx, name):
            kwargs[name] = p[name]
    if _given(ctx, "inspector"):
        kwargs["inspector"] = p["inspector"]
    if p["root_path"] is not None:
        kwargs["root_path"] = p["root_path"]
    if p["dev"]:
        kwargs["debug"] = True
        kwargs["auto_reload"] = True
    if _given(ctx, "auto_reload"):
        kwargs["auto_reload"] = p["auto_reload"]
    if p["reload_dirs"]:
        kwargs["reload_dirs"] = [str(Path(d).resolve()) for d in p["reload_dirs"]]
        kwargs["auto_reload"] = True
    cert, key = p["tls_cert"], p["tls_key"]
    if (cert is None) != (key is None):
        missing = "--tls-key" if key is None else "--tls-cert"
        raise click.UsageError(f"TLS needs both --tls-cert and --tls-key: {missing} is missing")
    if cert is not None:
        kwargs["ssl"] = {"cert": str(Path(cert).resolve()), "key": str(Path(key).resolve())}
    return kwargs


_FILE = click.Path(exists=True, dir_okay=False)


@click.command(
    "serve",
    help=HELP,
    short_help="Run an app (module:app, a factory or a .py file).",
    context_settings={"max_content_width": 100},
)
@click.argument("target", metavar="TARGET")
@click.option("--factory", is_flag=True, help="TARGET is a function that returns the app.")
@click.option("-H", "--host", help="Address to listen on (the app's default: 127.0.0.1).")
@click.option("-p", "--port", type=click.IntRange(0, 65535), help="Port (0: any free port).")
@click.option("-w", "--workers", type=click.IntRange(1), help="Number of server workers.")
@click.option("--fast", is_flag=True, help="One worker per CPU this process may use.")
@click.option("--single-process", is_flag=True, help="Serve in this process, no manager.")
@click.option("-d", "--dev", is_flag=True, help="Development mode: --debug and --reload.")
@click.option(
    "-r", "--reload", "auto_reload", is_flag=True, help="Restart the workers when code changes."
)
@click.option(
    "-R",
    "--reload-dir",
    "reload_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False),
    help="Also watch this folder (repeatable; implies --reload).",
)
@click.option("--access-log/--no-access-log", default=None, help="Log every request (or never).")
@click.option(
    "--access-log-format",
    metavar="FORMAT",
    help="The access log's message, e.g. '%(h)s \"%(r)s\" %(s)s %(b)s %(M)sms' "
    "(gunicorn's atoms, or the record's fields: see hurtle.log).",
)
@click.option(
    "--inspector/--no-inspector",
    default=None,
    help="Start the inspector (see 'hurtle inspect --help').",
)
@click.option("-u", "--unix", help="Listen on this Unix socket path instead of host:port.")
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    help="Level of the hurtle loggers (and the root logger), in every process.",
)
@click.option(
    "--log-config",
    type=_FILE,
    help="A logging configuration file (JSON dictConfig, or an INI fileConfig), every process.",
)
@click.option("--tls-cert", type=_FILE, help="PEM certificate (chain): serve HTTPS.")
@click.option("--tls-key", type=_FILE, help="PEM private key of --tls-cert.")
@click.option(
    "--max-requests",
    type=click.IntRange(0),
    help="Replace a worker (zero downtime) after this many responses (0: never).",
)
@click.option(
    "--max-requests-jitter",
    type=click.IntRange(0),
    help="Add 0 to N to each worker's --max-requests, so they do not recycle together.",
)
@click.option(
    "--max-lifetime",
    type=click.FloatRange(0),
    help="Replace a worker after this many seconds (0: never).",
)
@click.option(
    "--max-rss",
    type=click.IntRange(0),
    help="Replace a worker whose resident memory stays above this many MiB (0: never).",
)
@click.option(
    "--root-path",
    metavar="PATH",
    help="ASGI apps: the path prefix a proxy strips (the scope's root_path).",
)
@click.option(
    "--debug", is_flag=True, help="Debug logging, and tracebacks for errors of this command."
)
@click.pass_context
def serve(ctx: click.Context, /, target: str, factory: bool, debug: bool, **_: object) -> None:
    """The ``hurtle serve`` command (its help text is ``HELP``)."""
    kwargs = run_kwargs(ctx)
    apply_logging(ctx.params["log_level"], ctx.params["log_config"])
    try:
        target_spec = parse_target(target, factory)
        app = load_app(target_spec)
    except HurtleCliError as exc:
        if debug and exc.__cause__ is not None:
            traceback.print_exception(exc.__cause__)
        raise
    if target_spec.factory:
        # Spawned workers build the app again by calling the factory (its import path).
        kwargs["factory"] = target_spec.display
    if "root_path" in kwargs and not _takes(app.run, "root_path"):
        raise click.UsageError(
            f"--root-path is for ASGI apps: {target_spec.display}'s run() takes no root_path"
        )
    try:
        app.run(**kwargs)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if debug:
            traceback.print_exception(exc)
        raise ServeError(f"{target}: run() raised {type(exc).__name__}: {exc}") from exc


def _takes(run: Callable[..., object], name: str) -> bool:
    """Whether the callable ``run`` accepts the keyword argument ``name``."""
    try:
        parameters = inspect.signature(run).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
