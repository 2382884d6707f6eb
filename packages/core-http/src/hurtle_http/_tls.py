"""Building the server's ``ssl.SSLContext`` from certificate and key paths."""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping

from hurtle_http.exceptions import ConfigError

CertPaths = Mapping[str, str]


def create_context(
    cert: str | os.PathLike[str], key: str | os.PathLike[str], password: str | None = None
) -> ssl.SSLContext:
    """A server TLS context (TLS 1.2 or newer, HTTP/1.1 over ALPN) for ``cert`` and ``key``."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(os.fspath(cert), os.fspath(key), password)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"Cannot load the TLS certificate {os.fspath(cert)!r} and key {os.fspath(key)!r}: "
            f"{exc}. Check both paths and that the key matches the certificate."
        ) from exc
    context.set_alpn_protocols(["http/1.1"])
    return context


def load_context(value: ssl.SSLContext | CertPaths | None) -> ssl.SSLContext | None:
    """Accept an ``SSLContext``, ``{"cert": path, "key": path[, "password": ...]}`` or None."""
    if value is None or isinstance(value, ssl.SSLContext):
        return value
    try:
        cert, key = value["cert"], value["key"]
    except KeyError:
        raise ConfigError(
            "TLS needs both paths: pass ssl={'cert': 'cert.pem', 'key': 'key.pem'}"
        ) from None
    return create_context(cert, key, value.get("password"))
