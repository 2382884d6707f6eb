"""The words after ``hurtle inspect``: which command, which HTTP call, which JSON body.

Rules for a custom command's words (the reference's, made consistent):

- a plain word is a positional argument: it goes to ``"args"`` (always a string);
- ``--key=value`` and ``--key value`` give ``"key": "value"`` (the next word is taken as the
  value unless it starts with ``-`` and is not a number);
- ``--key`` alone gives ``"key": true``; ``--no-key`` gives ``"key": false``;
- dashes in keys become underscores (``--dry-run`` → ``"dry_run"``), and in the command
  name too (``clear-cache`` → ``POST /clear_cache``);
- a ``--`` among the command's words makes every later word positional;
- single-dash words (``-x``) are refused, except negative numbers (``-5``), which are values.

The built-in commands take only the flags they know, which never take a value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import click

__all__ = ["BUILTIN_COMMANDS", "Call", "parse_command", "parse_words"]

_NUMBER = re.compile(r"-\d+(\.\d*)?([eE][-+]?\d+)?")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

Value = str | bool

# name -> (the flags it accepts, a one-line usage shown in errors)
BUILTIN_COMMANDS: dict[str, tuple[frozenset[str], str]] = {
    "info": (frozenset(), "info"),
    "reload": (frozenset({"zero_downtime", "wait"}), "reload [--zero-downtime] [--wait]"),
    "shutdown": (frozenset(), "shutdown"),
    "scale": (frozenset({"wait"}), "scale N [--wait]"),
    "restart": (
        frozenset({"zero_downtime", "wait"}),
        "restart NAME... [--zero-downtime] [--wait]",
    ),
    "stats": (frozenset({"watch"}), "stats [--watch]"),
}


@dataclass(frozen=True)
class Call:
    """One request to the inspector, ready to send."""

    action: str
    method: str
    path: str
    body: dict[str, object] | None = None
    wait: bool = False
    watch: bool = False


def _is_value(word: str) -> bool:
    return not word.startswith("-") or _NUMBER.fullmatch(word) is not None


def _key(raw: str, word: str) -> str:
    key = raw.replace("-", "_")
    if not _KEY.fullmatch(key):
        raise click.UsageError(f"{word!r} is not a valid option name for a command")
    if key == "args":
        raise click.UsageError(f"{word!r}: 'args' is reserved for the positional arguments")
    return key


def parse_words(
    words: Sequence[str], flags: frozenset[str] = frozenset()
) -> tuple[list[str], dict[str, Value]]:
    """Split a command's words into positionals and keyword values (rules in the module doc).

    Keys in ``flags`` are booleans that never take the next word as their value.
    """
    args: list[str] = []
    kwargs: dict[str, Value] = {}
    index = 0
    only_positionals = False
    while index < len(words):
        word = words[index]
        index += 1
        if only_positionals or _is_value(word):
            args.append(word)
            continue
        if word == "--":
            only_positionals = True
            continue
        if not word.startswith("--"):
            raise click.UsageError(
                f"{word!r}: single-dash options are not passed to commands; write --{word[1:]}"
            )
        name, has_value, text = word[2:].partition("=")
        value: Value
        if has_value:
            key, value = _key(name, word), text
        elif name.startswith("no-") and len(name) > 3:
            key, value = _key(name[3:], word), False
        else:
            key = _key(name, word)
            if key not in flags and index < len(words) and _is_value(words[index]):
                value = words[index]
                index += 1
            else:
                value = True
        if key in kwargs:
            raise click.UsageError(f"{word!r}: option --{name} given twice")
        kwargs[key] = value
    return args, kwargs


def _check_flags(name: str, kwargs: dict[str, Value]) -> dict[str, bool]:
    flags, usage = BUILTIN_COMMANDS[name]
    checked: dict[str, bool] = {}
    for key, value in kwargs.items():
        if key not in flags:
            option = "--" + key.replace("_", "-")
            raise click.UsageError(f"{name} has no option {option} (usage: {usage})")
        if not isinstance(value, bool):
            option = "--" + key.replace("_", "-")
            raise click.UsageError(f"{option} takes no value (usage: {usage})")
        checked[key] = value
    return checked


def _no_args(name: str, args: list[str]) -> None:
    if args:
        usage = BUILTIN_COMMANDS[name][1]
        raise click.UsageError(f"{name} takes no arguments, got {' '.join(args)} (usage: {usage})")


def parse_command(words: Sequence[str]) -> Call:
    """Turn ``hurtle inspect`` words into the inspector call they ask for."""
    if not words:
        return Call("info", "GET", "/")
    name = words[0].replace("-", "_")
    if not _KEY.fullmatch(name) or name.startswith("_"):
        raise click.UsageError(
            f"{words[0]!r} is not a command name (letters, digits, - and _; not starting with _)"
        )
    if name not in BUILTIN_COMMANDS:
        args, kwargs = parse_words(words[1:])
        body: dict[str, object] = dict(kwargs)
        if args:
            body = {"args": args, **body}
        return Call(name, "POST", f"/{name}", body)
    args, raw = parse_words(words[1:], BUILTIN_COMMANDS[name][0])
    flags = _check_flags(name, raw)
    wait = flags.get("wait", False)
    options: dict[str, object] = {k: v for k, v in flags.items() if v}
    if name == "info":
        _no_args(name, args)
        return Call(name, "GET", "/")
    if name == "stats":
        _no_args(name, args)
        return Call(name, "POST", "/stats", watch=flags.get("watch", False))
    if name == "shutdown":
        _no_args(name, args)
        return Call(name, "POST", "/shutdown")
    if name == "reload":
        _no_args(name, args)
        return Call(name, "POST", "/reload", options, wait=wait)
    if name == "scale":
        if len(args) != 1:
            raise click.UsageError("scale needs exactly one number (usage: scale N [--wait])")
        try:
            replicas = int(args[0])
        except ValueError:
            raise click.UsageError(f"scale: {args[0]!r} is not a whole number") from None
        return Call(name, "POST", "/scale", {"replicas": replicas, **options}, wait=wait)
    # restart
    if not args:
        raise click.UsageError(f"restart needs process names (usage: {BUILTIN_COMMANDS[name][1]})")
    return Call(name, "POST", "/restart", {"names": args, **options}, wait=wait)
