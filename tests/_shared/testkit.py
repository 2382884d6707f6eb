"""Helpers every test suite shares: polling with a deadline, processes read from /proc,
and a throw-away TLS certificate.

Only the standard library and pytest: each suite's conftest puts this folder on
``sys.path`` (spawned children inherit it), whatever packages its environment holds.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "acked_servers",
    "alive",
    "children_of",
    "descendants",
    "make_certificate",
    "marked",
    "wait_for_exit",
    "wait_until",
    "wait_until_async",
]


def wait_until(
    predicate: Callable[[], Any],
    *,
    what: str | Callable[[], str],
    timeout: float = 20.0,
    interval: float = 0.05,
) -> Any:
    """Poll ``predicate`` until it returns a truthy value, and return that value.

    On timeout the test fails naming ``what`` (a callable is asked for the state it saw)
    and the predicate's last value.
    """
    poll = _poller(predicate, what, timeout)
    while not (result := poll()):
        time.sleep(interval)
    return result[0]


async def wait_until_async(
    predicate: Callable[[], Any],
    *,
    what: str | Callable[[], str],
    timeout: float = 20.0,
    interval: float = 0.02,
) -> Any:
    """``wait_until`` for code running in an event loop: the loop keeps running between polls."""
    poll = _poller(predicate, what, timeout)
    while True:
        if result := poll():
            return result[0]
        await asyncio.sleep(interval)


def _poller(
    predicate: Callable[[], Any], what: str | Callable[[], str], timeout: float
) -> Callable[[], tuple[Any] | None]:
    """One poll: ``(value,)`` once ``predicate`` is truthy, None before; fails at the deadline."""
    deadline = time.monotonic() + timeout

    def poll() -> tuple[Any] | None:
        value = predicate()
        if value:
            return (value,)
        if time.monotonic() > deadline:
            seen = what() if callable(what) else what
            pytest.fail(f"timed out after {timeout} s waiting for {seen} (last: {value!r})")
        return None

    return poll


def acked_servers(workers: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The current (not starting beside or draining) server entries that are ACKED.

    ``workers`` is any view of the worker state: ``manager.workers``, ``app.m.workers``
    or the ``workers`` of the inspector's ``GET /``.
    """
    return {
        name: entry
        for name, entry in workers.items()
        if entry.get("server") and entry.get("state") == "ACKED" and entry.get("current", True)
    }


def alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def children_of(pid: int) -> set[int]:
    """The live direct children of ``pid``."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry))
    return found


def descendants(pid: int) -> set[int]:
    """The live children of ``pid``, their children, and so on."""
    found = set()
    for child in children_of(pid):
        found |= {child, *descendants(child)}
    return found


def marked(mark: str) -> set[int]:
    """Live processes (but this one) whose environment has ``HURTLE_TEST_MARK=<mark>``."""
    needle = f"HURTLE_TEST_MARK={mark}".encode()
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ:
                if needle in environ.read().split(b"\0") and alive(int(entry)):
                    found.add(int(entry))
        except OSError:
            continue
    return found


def wait_for_exit(pids: set[int], *, timeout: float) -> set[int]:
    """Wait until none of ``pids`` is alive; return the survivors."""
    deadline = time.monotonic() + timeout
    while True:
        survivors = {pid for pid in pids if alive(pid)}
        if not survivors or time.monotonic() > deadline:
            return survivors
        time.sleep(0.05)


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate and key for localhost and 127.0.0.1, made by openssl.

    Skips the test, saying why, when the openssl command is missing.
    """
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed: it is needed to make a test certificate")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key
