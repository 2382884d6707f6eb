"""Case-insensitive, multi-valued HTTP headers, and the RFC 9112 checks on raw ones."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import overload

import httptools

# RFC 9110 token characters (a field name is a token).
TOKEN_CHARS = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# RFC 9110 field-value characters: VCHAR, SP, HTAB and obs-text; never NUL, CR, LF or other CTLs.
VALUE_CHARS = bytes([0x09, *range(0x20, 0x7F), *range(0x80, 0x100)])


def valid_name(name: bytes) -> bool:
    """True if ``name`` is a non-empty RFC 9110 token."""
    return bool(name) and not name.translate(None, TOKEN_CHARS)


def valid_value(value: bytes) -> bool:
    """True if ``value`` holds no control character other than HTAB."""
    return not value.translate(None, VALUE_CHARS)


def parser_checks_fields() -> bool:
    """Whether the installed httptools rejects every malformed header field RFC 9112 forbids.

    Recent httptools (llhttp 9, strict mode) does; older ones let some through, and then the
    protocol checks each name and value itself with ``valid_name``/``valid_value``.
    """

    class _Sink:
        pass

    probes = (b"Host : x", b": x", b"X(: x", b"X: a\x01b", b"X: a\x7fb", b"X\x00: x")
    for probe in probes:
        parser = httptools.HttpRequestParser(_Sink())
        try:
            parser.feed_data(b"GET / HTTP/1.1\r\nHost: t\r\n" + probe + b"\r\n\r\n")
        except httptools.HttpParserError:
            continue
        return False
    return True


HeaderSource = Mapping[str, str] | Iterable[tuple[str, str]]


class Headers:
    """An ordered list of ``(name, value)`` pairs with case-insensitive lookup.

    ``headers["Accept"]`` is the first value; ``getall`` returns all of them. Setting an
    item replaces every value of that name; ``add`` appends one.
    """

    __slots__ = ("_items",)

    def __init__(self, source: HeaderSource | None = None) -> None:
        if source is None:
            self._items: list[tuple[str, str]] = []
        elif isinstance(source, Mapping):
            self._items = [(str(k), str(v)) for k, v in source.items()]
        else:
            self._items = [(str(k), str(v)) for k, v in source]

    @classmethod
    def from_raw(cls, raw: list[tuple[bytes, bytes]]) -> Headers:
        """Headers decoded from the parser's raw bytes (latin-1, as RFC 9110 allows)."""
        headers = cls()
        headers._items = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in raw]
        return headers

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...
    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of ``name``, or ``default``."""
        lname = name.lower()
        for key, value in self._items:
            if key.lower() == lname:
                return value
        return default

    def getall(self, name: str) -> list[str]:
        """Every value of ``name``, in order (empty when absent)."""
        lname = name.lower()
        return [value for key, value in self._items if key.lower() == lname]

    getlist = getall

    def add(self, name: str, value: str) -> None:
        """Append one value for ``name``, keeping the ones already there."""
        self._items.append((name, value))

    def setdefault(self, name: str, value: str) -> str:
        """Set ``name`` to ``value`` unless present; return the (first) value."""
        current = self.get(name)
        if current is None:
            self._items.append((name, value))
            return value
        return current

    def update(self, source: HeaderSource) -> None:
        """Replace each given name with the given value."""
        items = source.items() if isinstance(source, Mapping) else source
        for name, value in items:
            self[name] = value

    def items(self) -> list[tuple[str, str]]:
        """All ``(name, value)`` pairs, repeated names included."""
        return list(self._items)

    def keys(self) -> list[str]:
        """The distinct names, in the case first seen."""
        seen: dict[str, str] = {}
        for key, _ in self._items:
            seen.setdefault(key.lower(), key)
        return list(seen.values())

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __setitem__(self, name: str, value: str) -> None:
        lname = name.lower()
        self._items = [(k, v) for k, v in self._items if k.lower() != lname]
        self._items.append((name, value))

    def __delitem__(self, name: str) -> None:
        lname = name.lower()
        kept = [(k, v) for k, v in self._items if k.lower() != lname]
        if len(kept) == len(self._items):
            raise KeyError(name)
        self._items = kept

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self._items == other._items
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"
