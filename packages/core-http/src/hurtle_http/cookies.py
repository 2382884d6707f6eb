"""Response cookies: a view over a response's ``Set-Cookie`` headers with safe defaults."""

from __future__ import annotations

from datetime import datetime
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING

from hurtle_http.exceptions import HurtleHttpError

if TYPE_CHECKING:
    from hurtle_http.headers import Headers

_SAMESITE = {"lax": "Lax", "strict": "Strict", "none": "None"}


def _name(key: str, host_prefix: bool, secure_prefix: bool) -> str:
    if host_prefix and secure_prefix:
        raise HurtleHttpError("A cookie takes host_prefix or secure_prefix, not both")
    if host_prefix:
        return "__Host-" + key
    if secure_prefix:
        return "__Secure-" + key
    return key


class CookieJar:
    """The cookies a response sets, kept as its ``Set-Cookie`` headers."""

    __slots__ = ("headers",)

    def __init__(self, headers: Headers) -> None:
        self.headers = headers

    def add_cookie(
        self,
        key: str,
        value: str,
        *,
        path: str = "/",
        domain: str | None = None,
        secure: bool = True,
        max_age: int | None = None,
        expires: datetime | None = None,
        httponly: bool = False,
        samesite: str | None = "Lax",
        partitioned: bool = False,
        comment: str | None = None,
        host_prefix: bool = False,
        secure_prefix: bool = False,
    ) -> str:
        """Set cookie ``key`` (replacing one of the same name, path and domain)."""
        name = _name(key, host_prefix, secure_prefix)
        if name.startswith("__Host-") and (not secure or path != "/" or domain):
            raise HurtleHttpError(
                f"Cookie {name!r}: a __Host- cookie must be secure, have path='/' and no domain"
            )
        if name.startswith("__Secure-") and not secure:
            raise HurtleHttpError(f"Cookie {name!r}: a __Secure- cookie must be secure")
        if samesite is not None:
            if samesite.lower() not in _SAMESITE:
                raise HurtleHttpError(f"samesite={samesite!r}: use 'Lax', 'Strict' or 'None'")
            samesite = _SAMESITE[samesite.lower()]
            if samesite == "None" and not secure:
                raise HurtleHttpError("samesite='None' needs secure=True (browsers refuse it)")
        if partitioned and not secure:
            raise HurtleHttpError("partitioned=True needs secure=True")
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie[name] = value
        except Exception as exc:  # CookieError: an illegal name
            raise HurtleHttpError(f"Invalid cookie name {name!r}: {exc}") from None
        morsel = cookie[name]
        morsel["path"] = path
        if domain:
            morsel["domain"] = domain
        if max_age is not None:
            morsel["max-age"] = str(int(max_age))
        if expires is not None:
            morsel["expires"] = expires.strftime("%a, %d %b %Y %H:%M:%S GMT")
        if secure:
            morsel["secure"] = True
        if httponly:
            morsel["httponly"] = True
        if samesite:
            morsel["samesite"] = samesite
        if comment:
            morsel["comment"] = comment
        rendered = morsel.OutputString()
        if partitioned:
            rendered += "; Partitioned"
        self._drop(name, path, domain)
        self.headers.add("Set-Cookie", rendered)
        return rendered

    def delete_cookie(
        self,
        key: str,
        *,
        path: str = "/",
        domain: str | None = None,
        host_prefix: bool = False,
        secure_prefix: bool = False,
    ) -> None:
        """Make the client drop cookie ``key``: an empty value that expired in 1970."""
        name = _name(key, host_prefix, secure_prefix)
        self._drop(name, path, domain)
        self.add_cookie(
            name,
            "",
            path=path,
            domain=domain,
            max_age=0,
            expires=datetime(1970, 1, 1),
            samesite=None,
        )

    def get_cookie(
        self,
        key: str,
        path: str = "/",
        domain: str | None = None,
        host_prefix: bool = False,
        secure_prefix: bool = False,
    ) -> str | None:
        """The ``Set-Cookie`` value for ``key`` on this path and domain (None when unset)."""
        name = _name(key, host_prefix, secure_prefix)
        for header in self.headers.getall("set-cookie"):
            if _matches(header, name, path, domain):
                return header
        return None

    def has_cookie(self, key: str, path: str = "/", domain: str | None = None) -> bool:
        """Whether this response sets ``key`` on this path and domain."""
        return self.get_cookie(key, path, domain) is not None

    @property
    def cookies(self) -> list[str]:
        """Every ``Set-Cookie`` value, in order."""
        return self.headers.getall("set-cookie")

    def _drop(self, name: str, path: str, domain: str | None) -> None:
        headers = self.headers.getall("set-cookie")
        kept = [h for h in headers if not _matches(h, name, path, domain)]
        if len(kept) != len(headers):
            del self.headers["set-cookie"]
            for header in kept:
                self.headers.add("Set-Cookie", header)


def _matches(header: str, name: str, path: str, domain: str | None) -> bool:
    first, *attrs = [part.strip() for part in header.split(";")]
    if first.partition("=")[0] != name:
        return False
    found = {k.lower(): v for k, _, v in (a.partition("=") for a in attrs)}
    return found.get("path", "/") == path and (found.get("domain") or None) == (domain or None)
