"""A uvloop event loop that gets SIGTERM right after it took the stop signals over.

Its process's stop signal arrives after ``add_signal_handler`` and before the loop runs:
uvloop notes such a signal and acts on it only when the next one wakes it up.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from typing import Any

import uvloop

from hurtle_worker_manager import get_multiplexer

TARGETED = "Hurtle-Stopper-0"


class SignalledLoop(uvloop.Loop):  # type: ignore[misc]
    """Sends its own process SIGTERM once it handles SIGTERM (in the targeted process)."""

    def add_signal_handler(self, sig: int, callback: Callable[..., Any], *args: Any) -> None:
        super().add_signal_handler(sig, callback, *args)
        if sig == signal.SIGTERM and os.environ.get("HURTLE_WORKER_NAME") == TARGETED:
            os.kill(os.getpid(), signal.SIGTERM)


def new_loop() -> SignalledLoop:
    return SignalledLoop()


async def server(**_: Any) -> None:
    """A server that acks and waits to be stopped."""
    mux = get_multiplexer()
    stop = asyncio.Event()
    mux.on_stop(stop.set)
    mux.ack()
    await stop.wait()


async def wait_for_stop(**_: Any) -> None:
    """A custom process that says it runs, then waits to be stopped."""
    mux = get_multiplexer()
    stop = asyncio.Event()
    mux.on_stop(stop.set)
    mux.report("running", True)
    await stop.wait()
