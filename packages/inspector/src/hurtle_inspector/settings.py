"""The inspector's settings, read and checked in the main process before anything starts.

``InspectorSettings.from_config`` turns the app's ``INSPECTOR_*`` keys into a frozen
struct that travels to the inspector process. Every check that can fail later fails
here instead, with a message saying what to change: a TLS certificate without its key
(never a silent fallback to plain HTTP), unreadable TLS files, a bad port, an inspector
class another process could not import.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import ssl
from collections.abc import Mapping
from typing import Any

import msgspec

from hurtle_http import Config, ConfigError, create_ssl_context
from hurtle_inspector.commands import command_table
from hurtle_inspector.errors import InspectorConfigError
from hurtle_inspector.inspector import Inspector
from hurtle_worker_manager import TargetError
from hurtle_worker_manager.target import import_path, resolve

__all__ = ["DEFAULT_CLASS", "InspectorSettings", "key_problem", "load_inspector_class"]

logger = logging.getLogger("hurtle.inspector")

DEFAULT_CLASS = "hurtle_inspector:Inspector"


class InspectorSettings(msgspec.Struct, frozen=True):
    """Where and how the inspector serves, and what ``GET /`` says about the app.

    Build it with ``from_config`` (which validates); ``check()`` repeats the validation.
    ``inspector_class`` is an import path ``module:qualname``.
    """

    host: str = "localhost"
    port: int = 6457
    tls_cert: str | None = None
    tls_key: str | None = None
    api_key: str | None = None
    inspector_class: str = DEFAULT_CLASS
    app_name: str = ""
    mode: str = ""
    server: str = ""
    extra: dict[str, object] = {}
    min_ready: int = 1
    metrics_host: str | None = None
    metrics_port: int | None = None

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, object] | Config,
        *,
        app_name: str,
        inspector_class: type[Inspector] | str = Inspector,
        mode: str = "",
        server: str = "",
        extra: dict[str, object] | None = None,
    ) -> InspectorSettings:
        """Settings from ``INSPECTOR_HOST``, ``_PORT``, ``_TLS_CERT``, ``_TLS_KEY``, ``_API_KEY``.

        An empty string or None leaves a key unset. Raises ``InspectorConfigError`` for
        any invalid value (see ``check``).
        """
        host = _optional_str(config, "INSPECTOR_HOST")
        port = config.get("INSPECTOR_PORT")
        cert = _optional_str(config, "INSPECTOR_TLS_CERT")
        key = _optional_str(config, "INSPECTOR_TLS_KEY")
        settings = cls(
            host=host if host is not None else "localhost",
            port=port if port is not None and port != "" else 6457,  # type: ignore[arg-type]
            tls_cert=os.path.abspath(cert) if cert is not None else None,
            tls_key=os.path.abspath(key) if key is not None else None,
            api_key=_optional_str(config, "INSPECTOR_API_KEY"),
            inspector_class=_class_path(inspector_class),
            app_name=app_name,
            mode=mode,
            server=server,
            extra=dict(extra) if extra else {},
            **_probe_settings(config),
        )
        settings.check()
        return settings

    @property
    def secure(self) -> bool:
        """Whether the inspector serves over TLS."""
        return self.tls_cert is not None

    def check(self) -> None:
        """Raise ``InspectorConfigError`` unless every setting is usable."""
        if not isinstance(self.host, str) or not self.host:
            raise InspectorConfigError(f"INSPECTOR_HOST must be a host name, got {self.host!r}")
        port = self.port
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise InspectorConfigError(
                f"INSPECTOR_PORT must be an integer from 0 to 65535, got {port!r}"
            )
        if self.api_key is not None and (not isinstance(self.api_key, str) or not self.api_key):
            raise InspectorConfigError(
                "INSPECTOR_API_KEY must be a non-empty string (or unset for no authentication), "
                f"got a {type(self.api_key).__name__}"
            )
        if self.api_key is not None and (problem := key_problem(self.api_key)):
            raise InspectorConfigError(
                f"INSPECTOR_API_KEY {problem}: a client sends the key in an HTTP header "
                "(Authorization: Bearer <key>), where only visible ASCII characters can travel, "
                "so this key could never match. Use letters, digits and punctuation, e.g. the "
                "output of `python -c 'import secrets; print(secrets.token_urlsafe(32))'`."
            )
        for name in ("app_name", "mode", "server"):
            if not isinstance(getattr(self, name), str):
                raise InspectorConfigError(f"The inspector's {name} must be a string")
        try:
            msgspec.json.encode(self.extra)
        except (TypeError, msgspec.EncodeError) as exc:
            raise InspectorConfigError(
                f"The inspector's extra info must be JSON-encodable: {exc}"
            ) from None
        _check_probe_settings(self)
        self.ssl_context()
        load_inspector_class(self.inspector_class)

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context when a certificate and key are set; None for plain HTTP."""
        cert, key = self.tls_cert, self.tls_key
        if cert is None and key is None:
            return None
        if cert is None or key is None:
            given, missing = (
                ("INSPECTOR_TLS_CERT", "INSPECTOR_TLS_KEY")
                if key is None
                else ("INSPECTOR_TLS_KEY", "INSPECTOR_TLS_CERT")
            )
            raise InspectorConfigError(
                f"{given} is set but {missing} is not: the inspector needs both to serve over "
                f"TLS. Set {missing}, or unset {given} to serve plain HTTP."
            )
        try:
            return create_ssl_context(cert, key)
        except ConfigError as exc:
            raise InspectorConfigError(f"Inspector TLS: {exc}") from None

    def url(self, port: int | None = None) -> str:
        """``http(s)://host:port`` of the inspector (``port`` overrides the configured one)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        scheme = "https" if self.secure else "http"
        return f"{scheme}://{host}:{self.port if port is None else port}"

    def exposure_warnings(self) -> list[str]:
        """Risks of this configuration worth a warning at start (empty when none)."""
        if _is_loopback(self.host):
            return []
        warnings = []
        if self.api_key is None:
            warnings.append(
                f"The inspector listens on {self.host} without an API key: anyone who can reach "
                "it can reload, scale or shut down the server. Set INSPECTOR_API_KEY."
            )
        elif not self.secure:
            warnings.append(
                f"The inspector listens on {self.host} over plain HTTP: the API key travels in "
                "clear text. Set INSPECTOR_TLS_CERT and INSPECTOR_TLS_KEY."
            )
        return warnings


def load_inspector_class(path: str) -> type[Inspector]:
    """Import the inspector class at ``module:qualname`` and check it and its commands."""
    try:
        obj = resolve(path)
    except (TargetError, ImportError) as exc:
        raise InspectorConfigError(
            f"Cannot import the inspector class {path!r}: {exc}. Define it at module level "
            "in an importable module and pass the class or its 'module:qualname' path."
        ) from None
    if not isinstance(obj, type) or not issubclass(obj, Inspector):
        raise InspectorConfigError(
            f"The inspector class {path!r} is not a subclass of hurtle_inspector.Inspector"
        )
    command_table(obj)
    return obj


def key_problem(key: str) -> str:
    """What makes ``key`` unusable as a bearer token ('' when nothing does).

    Only visible ASCII (``!`` to ``~``) can be sent in an HTTP header value and survive the
    ``Bearer`` parsing; the message names the first bad character's position, never the key.
    """
    for position, char in enumerate(key, 1):
        if not "!" <= char <= "~":
            kind = "a space or control character" if char.isascii() else "a non-ASCII character"
            return f"has {kind} at position {position}"
    return ""


def _class_path(inspector_class: type[Inspector] | str) -> str:
    if isinstance(inspector_class, str):
        return inspector_class
    if inspector_class is Inspector:
        return DEFAULT_CLASS
    if not isinstance(inspector_class, type) or not issubclass(inspector_class, Inspector):
        raise InspectorConfigError(
            f"inspector_class must be a subclass of hurtle_inspector.Inspector, got "
            f"{inspector_class!r}"
        )
    try:
        path = import_path(inspector_class)
    except TargetError as exc:
        raise InspectorConfigError(f"{exc} (the inspector runs in its own process)") from None
    if load_inspector_class(path) is not inspector_class:
        raise InspectorConfigError(
            f"The inspector class {path!r} imports as another object than the one given: "
            "define it once, at module level"
        )
    return path


def _probe_settings(config: Mapping[str, object] | Config) -> dict[str, Any]:
    """``INSPECTOR_MIN_READY``, ``INSPECTOR_METRICS_HOST`` and ``INSPECTOR_METRICS_PORT``."""
    found: dict[str, Any] = {}
    min_ready = config.get("INSPECTOR_MIN_READY")
    if min_ready is not None and min_ready != "":
        found["min_ready"] = _int_setting("INSPECTOR_MIN_READY", min_ready)
    host = _optional_str(config, "INSPECTOR_METRICS_HOST")
    port = config.get("INSPECTOR_METRICS_PORT")
    if port is not None and port != "":
        found["metrics_port"] = _int_setting("INSPECTOR_METRICS_PORT", port)
        found["metrics_host"] = host if host is not None else "localhost"
    elif host is not None:
        raise InspectorConfigError(
            "INSPECTOR_METRICS_HOST is set but INSPECTOR_METRICS_PORT is not: set the port "
            "to serve /metrics on its own address, or unset the host"
        )
    return found


def _int_setting(key: str, value: object) -> int:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InspectorConfigError(f"{key} must be an integer, got {value!r}")
    return value


def _check_probe_settings(settings: InspectorSettings) -> None:
    min_ready = settings.min_ready
    if isinstance(min_ready, bool) or not isinstance(min_ready, int) or min_ready < 1:
        raise InspectorConfigError(f"INSPECTOR_MIN_READY must be 1 or more, got {min_ready!r}")
    port = settings.metrics_port
    bad_port = isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535
    if port is not None and bad_port:
        raise InspectorConfigError(
            f"INSPECTOR_METRICS_PORT must be an integer from 0 to 65535, got {port!r}"
        )


def _optional_str(config: Mapping[str, object] | Config, key: str) -> str | None:
    value = config.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InspectorConfigError(f"{key} must be a string, got {type(value).__name__} {value!r}")
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
