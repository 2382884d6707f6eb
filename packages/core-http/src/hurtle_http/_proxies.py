"""What a trusted proxy says about the client: ``Request.forwarded``'s facts.

A proxy is trusted by ``FORWARDED_SECRET`` (the RFC 7239 ``Forwarded`` element naming that
secret), by ``REAL_IP_HEADER``, or by ``PROXIES_COUNT`` (hops counted back from the right
of ``X-Forwarded-For``); with none of these set, nothing a client sends is believed.
"""

from __future__ import annotations

from typing import Any

from hurtle_http.headers import Headers

__all__ = ["proxy_facts", "trusts_proxies"]


def trusts_proxies(config: Any) -> bool:
    """Whether ``config`` (an app's, or None) trusts any proxy to speak for the client."""
    return config is not None and bool(
        config.get("FORWARDED_SECRET")
        or config.get("REAL_IP_HEADER")
        or config.get("PROXIES_COUNT")
    )


def proxy_facts(headers: Headers, config: Any) -> dict[str, str]:
    """The proxy facts this config trusts (see ``Request.forwarded``)."""
    secret = config.get("FORWARDED_SECRET")
    if secret:
        found = _forwarded_by_secret(headers.getall("forwarded"), str(secret))
        if found is not None:
            return found
    real_ip_header = config.get("REAL_IP_HEADER")
    proxies = int(config.get("PROXIES_COUNT") or 0)
    address = None
    if real_ip_header:
        address = headers.get(str(real_ip_header))
    if not address and proxies:
        name = str(config.get("FORWARDED_FOR_HEADER") or "X-Forwarded-For")
        hops = [h.strip() for value in headers.getall(name) for h in value.split(",")]
        hops = [h for h in hops if h]
        if proxies == -1 and hops:
            address = hops[0]
        elif 0 < proxies <= len(hops):
            address = hops[-proxies]
    if not address:
        return {}
    result = {"for": _clean_address(address)}
    for key, header in (
        ("proto", "x-forwarded-proto"),
        ("host", "x-forwarded-host"),
        ("port", "x-forwarded-port"),
        ("path", "x-forwarded-path"),
    ):
        value = headers.get(header) or (headers.get("x-scheme") if key == "proto" else None)
        if value:
            result[key] = value.split(",")[0].strip().lower() if key == "proto" else value.strip()
    return result


def _forwarded_by_secret(values: list[str], secret: str) -> dict[str, str] | None:
    """The rightmost ``Forwarded`` element naming ``secret`` (RFC 7239), as a dict."""
    elements = [e for value in values for e in value.split(",")]
    for element in reversed(elements):
        pairs: dict[str, str] = {}
        for pair in element.split(";"):
            key, sep, value = pair.strip().partition("=")
            if sep:
                pairs[key.strip().lower()] = value.strip().strip('"')
        if pairs.get("secret") == secret or pairs.get("by") == secret:
            pairs.pop("secret", None)
            if "for" in pairs:
                pairs["for"] = _clean_address(pairs["for"])
            if "proto" in pairs:
                pairs["proto"] = pairs["proto"].lower()
            return pairs
    return None


def _clean_address(address: str) -> str:
    """``1.2.3.4`` for ``1.2.3.4``; ``::1`` for ``[::1]:80``; the text kept otherwise."""
    address = address.strip().strip('"')
    if address.startswith("["):
        return address[1 : address.find("]")] if "]" in address else address
    if address.count(":") == 1:
        return address.partition(":")[0]
    return address.lower() if ":" in address else address
