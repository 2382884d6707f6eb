"""Small pieces checked directly: headers, Range parsing, multipart parsing, request parameters."""

from __future__ import annotations

import pytest

from hurtle_http import BadRequest, Headers, RangeNotSatisfiable
from hurtle_http._files import parse_range
from hurtle_http._multipart import parse_multipart, parse_options
from hurtle_http.headers import valid_name, valid_value


def test_headers_are_case_insensitive_and_multi_valued() -> None:
    headers = Headers([("Accept", "a"), ("accept", "b"), ("X-One", "1")])
    assert headers["ACCEPT"] == "a"
    assert headers.getall("Accept") == ["a", "b"]
    assert "x-one" in headers and "missing" not in headers
    assert headers.get("missing", "d") == "d"
    headers["accept"] = "c"
    assert headers.getall("Accept") == ["c"]
    headers.add("Accept", "d")
    assert headers.items()[-2:] == [("accept", "c"), ("Accept", "d")]
    assert headers.setdefault("X-One", "2") == "1"
    del headers["x-one"]
    assert headers.keys() == ["accept"]
    with pytest.raises(KeyError):
        del headers["x-one"]
    assert Headers.from_raw([(b"H", b"\xe9")])["h"] == "é"


@pytest.mark.parametrize(
    ("name", "ok"), [(b"X-Ok", True), (b"", False), (b"Bad Name", False), (b"A:B", False)]
)
def test_valid_name(name: bytes, ok: bool) -> None:
    assert valid_name(name) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [(b"plain \t tab", True), (b"caf\xc3\xa9", True), (b"a\r\nb", False), (b"\x00", False)],
)
def test_valid_value(value: bytes, ok: bool) -> None:
    assert valid_value(value) is ok


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-0", 10, (0, 1)),
        ("bytes=2-", 10, (2, 10)),
        ("bytes=-20", 10, (0, 10)),
        ("bytes=5-2", 10, None),
        ("bytes=a-b", 10, None),
        ("bytes=1", 10, None),
        ("bytes=-", 10, None),
        ("pages=1-2", 10, None),
        ("bytes=1-2,4-5", 10, None),
    ],
)
def test_parse_range(header: str, size: int, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(("header", "size"), [("bytes=10-", 10), ("bytes=-5", 0), ("bytes=-0", 9)])
def test_unsatisfiable_ranges(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable) as info:
        parse_range(header, size)
    assert info.value.headers["Content-Range"] == f"bytes */{size}"


def test_parse_options() -> None:
    assert parse_options('multipart/form-data; boundary="a b"; charset=latin-1') == (
        "multipart/form-data",
        {"boundary": "a b", "charset": "latin-1"},
    )
    assert parse_options("") == ("", {})


@pytest.mark.parametrize(
    "body",
    [
        b"--B\r\nContent-Disposition: form-data\r\n\r\nx\r\n--B--\r\n",  # no name
        b"--B\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n",  # no closing boundary
        b"--B\r\nBroken header line\r\n\r\nx\r\n--B--\r\n",
        b"garbage",
    ],
)
def test_malformed_multipart_is_a_bad_request(body: bytes) -> None:
    with pytest.raises(BadRequest, match="Malformed multipart"):
        parse_multipart(body, "B")
