"""The lifecycle table itself, driven directly: every pair of states, allowed or refused."""

from __future__ import annotations

import itertools

import pytest

from hurtle_worker_manager import CommandError, UsageError, WorkerManager, WorkerManagerError
from hurtle_worker_manager.state import (
    FINAL_STATES,
    INSTANCE_STATES,
    LIVE_STATES,
    SLOT_DISPLAY_STATES,
    UNUSED_STATES,
    ProcessState,
    check_transition,
)

S = ProcessState
# The lifecycle as the state module's docstring tells it, written out independently.
ALLOWED = {
    (S.IDLE, S.STARTED),
    (S.IDLE, S.FAILED),  # the OS process could not be created
    (S.STARTED, S.ACKED),
    (S.STARTED, S.TERMINATED),
    (S.STARTED, S.COMPLETED),
    (S.STARTED, S.FAILED),
    (S.ACKED, S.TERMINATED),
    (S.ACKED, S.COMPLETED),
    (S.ACKED, S.FAILED),
    (S.TERMINATED, S.COMPLETED),
    (S.TERMINATED, S.FAILED),
}


@pytest.mark.parametrize(("current", "new"), list(itertools.product(ProcessState, repeat=2)))
def test_every_state_change_is_allowed_exactly_when_the_lifecycle_says_so(
    current: ProcessState, new: ProcessState
) -> None:
    if (current, new) in ALLOWED:
        check_transition(current, new)
    else:
        with pytest.raises(WorkerManagerError, match=f"{current.value} -> {new.value}"):
            check_transition(current, new)


def test_the_three_kinds_of_value_partition_the_enum() -> None:
    assert set(ProcessState) == INSTANCE_STATES | SLOT_DISPLAY_STATES | UNUSED_STATES
    assert not INSTANCE_STATES & SLOT_DISPLAY_STATES
    assert not INSTANCE_STATES & UNUSED_STATES
    assert not SLOT_DISPLAY_STATES & UNUSED_STATES
    # An instance is created IDLE and never enters a display-only or unused value.
    entered = {new for _, new in ALLOWED} | {S.IDLE}
    assert entered == INSTANCE_STATES
    assert LIVE_STATES < INSTANCE_STATES
    assert all(not any(c == final for c, _ in ALLOWED) for final in FINAL_STATES)


def test_misuse_raises_usage_error_which_old_except_clauses_still_catch() -> None:
    with pytest.raises(UsageError, match="at least 1 is needed") as caught:
        WorkerManager("wm_targets:server", workers=0)
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, TypeError)
    assert isinstance(caught.value, CommandError)
    manager = WorkerManager("wm_targets:server", workers=1)
    with pytest.raises(UsageError, match="Invalid worker name"):
        manager.manage("bad#name", "wm_targets:server")
    manager.manage("Job", "wm_targets:server")
    with pytest.raises(UsageError, match="Job already exists"):
        manager.manage("Job", "wm_targets:server")
