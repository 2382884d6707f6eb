"""Application configuration: defaults, attribute and item access, ``HURTLE_*`` variables.

A key is an upper-case name. ``Config.DEFAULTS`` holds the defaults of this package; a
subclass (or ``Config(defaults=...)``, or ``config.register_defaults(...)``) adds its own.
Values from the environment are strings, coerced to the type of the key's default
(bool, int, float or str); a key with no default is guessed (``true``/``false``, an int,
a float, else a str).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from hurtle_http._access import DEFAULT_FORMAT
from hurtle_http.exceptions import ConfigError

ENV_PREFIX = "HURTLE_"

_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
_FALSE = frozenset({"0", "false", "no", "off", "n", "f"})


def _to_bool(key: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(
        f"{ENV_PREFIX}{key}={raw!r} is not a boolean: use one of true/false, yes/no, on/off, 1/0"
    )


def coerce(key: str, raw: str, default: object) -> object:
    """Convert the string ``raw`` to the type of ``default`` (guess when there is none)."""
    if isinstance(default, bool):
        return _to_bool(key, raw)
    try:
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError:
        kind = type(default).__name__
        raise ConfigError(f"{ENV_PREFIX}{key}={raw!r} is not a valid {kind}") from None
    if isinstance(default, str):
        return raw
    lowered = raw.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for convert in (int, float):
        try:
            return convert(raw)
        except ValueError:
            pass
    return raw


class Config:
    """The settings of one application: ``app.config.KEEP_ALIVE_TIMEOUT`` or ``["..."]``."""

    DEFAULTS: ClassVar[Mapping[str, object]] = {
        "DEBUG": False,
        "ACCESS_LOG": True,
        "ACCESS_LOG_FORMAT": DEFAULT_FORMAT,
        "SERVER_NAME": "hurtle",
        "KEEP_ALIVE": True,
        "KEEP_ALIVE_TIMEOUT": 5.0,
        "REQUEST_TIMEOUT": 60.0,
        "RESPONSE_TIMEOUT": 60.0,
        "GRACEFUL_SHUTDOWN_TIMEOUT": 15.0,
        "DRAIN_IDLE_GRACE": 0.5,
        "REQUEST_MAX_SIZE": 100 * 1024 * 1024,
        "REQUEST_MAX_HEADER_SIZE": 8192,
        "REQUEST_MAX_HEADERS": 100,
        "REQUEST_MAX_URL": 8192,
        "REQUEST_MAX_PIPELINE": 16,
        "BACKLOG": 1024,
        "FALLBACK_ERROR_FORMAT": "text",
        # Behind a proxy (see Request.forwarded): nothing is trusted by default.
        "PROXIES_COUNT": 0,
        "REAL_IP_HEADER": "",
        "FORWARDED_SECRET": "",
        "FORWARDED_FOR_HEADER": "X-Forwarded-For",
        "REQUEST_ID_HEADER": "X-Request-ID",
        "URL_HOST": "",
        "WEBSOCKET_MAX_SIZE": 1024 * 1024,
        "WEBSOCKET_PING_INTERVAL": 20.0,
        "WEBSOCKET_PING_TIMEOUT": 20.0,
        "WEBSOCKET_PER_MESSAGE_DEFLATE": True,
    }

    _data: dict[str, Any]
    _defaults: dict[str, object]

    def __init__(
        self,
        defaults: Mapping[str, object] | None = None,
        *,
        env_prefix: str | None = ENV_PREFIX,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        data: dict[str, Any] = {}
        for klass in reversed(type(self).__mro__):
            data.update(getattr(klass, "DEFAULTS", {}))
        if defaults:
            data.update(defaults)
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_defaults", dict(data))
        if env_prefix is not None:
            self.load_environ(env_prefix, environ)

    def register_defaults(
        self, defaults: Mapping[str, object], *, environ: Mapping[str, str] | None = None
    ) -> None:
        """Add defaults for new keys (kept keys are untouched) and read their env variables."""
        known = self._defaults
        env = os.environ if environ is None else environ
        for key, value in defaults.items():
            known[key] = value
            if key not in self._data:
                self._data[key] = value
            raw = env.get(ENV_PREFIX + key)
            if raw is not None:
                self._data[key] = coerce(key, raw, value)

    def load_environ(
        self, prefix: str = ENV_PREFIX, environ: Mapping[str, str] | None = None
    ) -> None:
        """Set every ``<prefix>KEY`` variable as ``KEY``, coerced to its default's type."""
        env = os.environ if environ is None else environ
        defaults = self._defaults
        for name, raw in env.items():
            if name.startswith(prefix) and len(name) > len(prefix):
                key = name[len(prefix) :]
                self._data[key] = coerce(key, raw, defaults.get(key))

    def update(self, other: Mapping[str, object] | None = None, /, **kwargs: object) -> None:
        """Set several keys at once, like ``dict.update``."""
        if other:
            for key, value in other.items():
                self[key] = value
        for key, value in kwargs.items():
            self[key] = value

    def update_config(self, source: str | os.PathLike[str] | Mapping[str, object] | object) -> None:
        """Set the upper-case keys of ``source``: a mapping, an object or class (its
        upper-case attributes), or the path of a Python file (its upper-case globals)."""
        if isinstance(source, (str, os.PathLike)):
            path = os.path.expandvars(os.fspath(source))
            namespace: dict[str, object] = {"__file__": path}
            try:
                with open(path, encoding="utf-8") as handle:
                    code = compile(handle.read(), path, "exec")
            except OSError as exc:
                raise ConfigError(f"Cannot read the config file {path!r}: {exc}") from None
            exec(code, namespace)
            items: Mapping[str, object] = namespace
        elif isinstance(source, Mapping):
            items = source
        else:
            items = {key: getattr(source, key) for key in dir(source)}
        for key, value in items.items():
            if key.isupper():
                self[key] = value

    def get(self, key: str, default: object = None) -> Any:
        """The value of ``key``, or ``default`` when it is not set."""
        return self._data.get(key, default)

    def __getattr__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(f"Config has no key {key!r}") from None

    def __setattr__(self, key: str, value: object) -> None:
        self[key] = value

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: object) -> None:
        if not key.isupper():
            raise ConfigError(f"Config keys are upper case: use {key.upper()!r}, not {key!r}")
        self._data[key] = value

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Config({self._data!r})"
