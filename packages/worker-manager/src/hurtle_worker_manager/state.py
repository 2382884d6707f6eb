"""The lifecycle of one process instance, as a state machine.

Runs in: both sides (the states are set in the main process and read everywhere, the CLI included).

An instance is created IDLE, becomes STARTED once its OS process exists, ACKED when it
reports ready, TERMINATED when the manager has asked it to stop, and ends COMPLETED
(exit status 0) or FAILED (anything else). The names are the reference's, so that
clients written for it understand them; a slot with no live instance shows NONE (never
started) or RESTARTING (waiting to be respawned).
"""

from __future__ import annotations

from enum import Enum

from hurtle_worker_manager.errors import WorkerManagerError

__all__ = [
    "FINAL_STATES",
    "INSTANCE_STATES",
    "LIVE_STATES",
    "SLOT_DISPLAY_STATES",
    "UNUSED_STATES",
    "ProcessState",
    "check_transition",
]


class ProcessState(str, Enum):
    """Where a process instance (or an idle slot) is in its life.

    One enum for the wire, three kinds of value: ``INSTANCE_STATES`` (the lifecycle),
    ``SLOT_DISPLAY_STATES`` (a slot with no instance) and ``UNUSED_STATES``.
    """

    NONE = "NONE"
    IDLE = "IDLE"
    RESTARTING = "RESTARTING"
    STARTING = "STARTING"
    STARTED = "STARTED"
    ACKED = "ACKED"
    JOINED = "JOINED"
    TERMINATED = "TERMINATED"
    FAILED = "FAILED"
    COMPLETED = "COMPLETED"


_S = ProcessState

# Every allowed move of an instance; anything else is a bug in the manager.
_TRANSITIONS: dict[ProcessState, frozenset[ProcessState]] = {
    _S.IDLE: frozenset({_S.STARTED, _S.FAILED}),
    _S.STARTED: frozenset({_S.ACKED, _S.TERMINATED, _S.COMPLETED, _S.FAILED}),
    _S.ACKED: frozenset({_S.TERMINATED, _S.COMPLETED, _S.FAILED}),
    _S.TERMINATED: frozenset({_S.COMPLETED, _S.FAILED}),
    _S.COMPLETED: frozenset(),
    _S.FAILED: frozenset(),
}

INSTANCE_STATES = frozenset(_TRANSITIONS)
"""The states a process instance moves through (the keys of the transition table)."""

SLOT_DISPLAY_STATES = frozenset({_S.NONE, _S.RESTARTING})
"""Shown for a slot that has no current instance: never started, or waiting to respawn.
An instance never enters them."""

UNUSED_STATES = frozenset({_S.STARTING, _S.JOINED})
"""The reference's names that this manager never enters; kept so that clients written for
the reference (and the CLI's colours) still know every value."""

LIVE_STATES = frozenset({_S.STARTED, _S.ACKED, _S.TERMINATED})
FINAL_STATES = frozenset({_S.COMPLETED, _S.FAILED, _S.NONE})


def check_transition(current: ProcessState, new: ProcessState) -> None:
    """Raise ``WorkerManagerError`` unless ``current`` may move to ``new``."""
    if new not in _TRANSITIONS.get(current, frozenset()):
        raise WorkerManagerError(f"illegal process state change {current.value} -> {new.value}")
