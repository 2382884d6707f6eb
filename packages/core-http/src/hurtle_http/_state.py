"""The connection's model: its states, the moves between them, each state's timer and what
happens when that timer expires. ``HttpProtocol`` (HTTP, ASGI HTTP) and the WebSocket path
share it; the protocol only calls ``to(state)`` and acts on the expiry named here.

    IDLE --part of a request--> RECEIVING --request complete--> HANDLING --response--> IDLE
    IDLE --a whole request at once--> HANDLING        (or --> RECEIVING when the next
                                                       request is already arriving)
    HANDLING --WebSocket accepted--> UPGRADED          (frames, not requests, from then on)
    any --error, timeout, Connection: close--> CLOSING (write side shut, input discarded)
    any --transport lost--> CLOSED

A streamed request body keeps arriving in HANDLING: its handler is already running.
"""

from __future__ import annotations

import enum

LINGER_TIMEOUT = 2.0
"""Seconds a closing connection discards input before it is aborted."""

NO_TIMER = 1e18
"""The deadline offset of a state without a timer (its owner keeps its own)."""


class ConnState(enum.Enum):
    """Where a connection is in its request/response cycle."""

    IDLE = "idle"  # between requests; the keep-alive timer runs
    RECEIVING = "receiving"  # part of a request has arrived; the request timer runs
    HANDLING = "handling"  # a handler or its response is in progress; the response timer runs
    UPGRADED = "upgraded"  # a WebSocket owns the connection; it keeps its own ping timers
    CLOSING = "closing"  # our side is shut; input is discarded until the peer closes
    CLOSED = "closed"  # the transport is gone

    # Members are singletons: identity hashing keeps table lookups in C (Enum's is Python).
    __hash__ = object.__hash__


class Expiry(enum.Enum):
    """What a connection does when the timer of its state expires."""

    CLOSE = "close"  # idle: close quietly
    REQUEST_TIMEOUT = "request_timeout"  # receiving: answer 408 and close
    RESPONSE_TIMEOUT = "response_timeout"  # handling: 503 (or abort once the head is out)
    NOTHING = "nothing"  # upgraded / closed: no timer of ours
    ABORT = "abort"  # closing: the peer never closed; abort

    __hash__ = object.__hash__


# Module constants: an Enum attribute lookup costs more than the hot path can afford.
IDLE, RECEIVING, HANDLING, UPGRADED, CLOSING, CLOSED = ConnState

TRANSITIONS: dict[ConnState, frozenset[ConnState]] = {
    IDLE: frozenset({IDLE, RECEIVING, HANDLING, CLOSING, CLOSED}),
    RECEIVING: frozenset({RECEIVING, HANDLING, CLOSING, CLOSED}),
    HANDLING: frozenset({HANDLING, RECEIVING, IDLE, UPGRADED, CLOSING, CLOSED}),
    UPGRADED: frozenset({UPGRADED, CLOSING, CLOSED}),
    CLOSING: frozenset({CLOSING, CLOSED}),
    CLOSED: frozenset(),
}

EXPIRY: dict[ConnState, Expiry] = {
    IDLE: Expiry.CLOSE,
    RECEIVING: Expiry.REQUEST_TIMEOUT,
    HANDLING: Expiry.RESPONSE_TIMEOUT,
    UPGRADED: Expiry.NOTHING,
    CLOSING: Expiry.ABORT,
    CLOSED: Expiry.NOTHING,
}


def timers(
    *, keep_alive: float, request: float, response: float, drain_idle_grace: float, draining: bool
) -> dict[ConnState, float]:
    """The timer of each state, in seconds (an idle one is short while the server drains)."""
    return {
        IDLE: min(keep_alive, drain_idle_grace) if draining else keep_alive,
        RECEIVING: request,
        HANDLING: response,
        UPGRADED: NO_TIMER,
        CLOSING: LINGER_TIMEOUT,
        CLOSED: NO_TIMER,
    }
