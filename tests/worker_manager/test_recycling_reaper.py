"""The recycling policy's decisions, and reaping orphans that the manager did not start."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time

import pytest
from testkit import wait_until

from hurtle_worker_manager.reaper import become_subreaper, reap_orphans, zombie_children
from hurtle_worker_manager.recycling import RecyclePolicy


def test_no_limit_never_recycles() -> None:
    policy = RecyclePolicy()
    assert not policy.enabled
    assert policy.watch().sample(requests=10**9, uptime=10**9, rss=10**12) == ""


def test_max_requests_with_jitter_is_drawn_per_worker() -> None:
    policy = RecyclePolicy(max_requests=100, max_requests_jitter=50, requests_report=("h", "n"))
    limits = {policy.watch(random.Random(seed)).max_requests for seed in range(50)}
    assert min(limits) >= 100 and max(limits) <= 150 and len(limits) > 5
    watch = policy.watch(random.Random(1))
    assert watch.sample(requests=watch.max_requests - 1, uptime=0, rss=None) == ""
    assert watch.sample(requests=watch.max_requests, uptime=0, rss=None) == "max_requests"


def test_max_lifetime_with_jitter() -> None:
    policy = RecyclePolicy(max_lifetime=60, max_lifetime_jitter=30)
    watch = policy.watch(random.Random(3))
    assert 60 <= watch.max_lifetime <= 90
    assert watch.sample(requests=None, uptime=59.9, rss=None) == ""
    assert watch.sample(requests=None, uptime=90, rss=None) == "max_lifetime"


def test_max_rss_needs_consecutive_samples() -> None:
    watch = RecyclePolicy(max_rss=1000, rss_samples=3).watch()
    assert [watch.sample(requests=None, uptime=0, rss=r) for r in (2000, 2000, 500)] == ["", "", ""]
    assert [watch.sample(requests=None, uptime=0, rss=2000) for _ in range(3)] == [
        "",
        "",
        "max_rss",
    ]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_requests": -1},
        {"max_lifetime": "1"},
        {"rss_samples": 0},
        {"max_requests": 5},  # no report to count requests with
    ],
)
def test_bad_policies_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        RecyclePolicy(**kwargs)  # type: ignore[arg-type]


def test_orphans_are_reaped_and_managed_children_are_not() -> None:
    assert become_subreaper(), "Linux lets a process adopt its orphaned descendants"
    # A managed child (its status belongs to whoever started it) and a double fork whose
    # grandchild is re-parented to us once its parent exits.
    managed = subprocess.Popen([sys.executable, "-c", "pass"])
    orphan_maker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, sys\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    import time; time.sleep(0.3); os._exit(7)\n"
            "print(pid, flush=True)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert orphan_maker.stdout is not None
    orphan = int(orphan_maker.stdout.readline())
    orphan_maker.stdout.close()
    assert orphan_maker.wait(10) == 0
    try:
        wait_until(
            lambda: {managed.pid, orphan} <= set(zombie_children()),
            what="the managed child and the adopted orphan to exit",
        )
        reaped = reap_orphans(managed={managed.pid})
        assert [(pid, os.waitstatus_to_exitcode(status)) for pid, status in reaped] == [(orphan, 7)]
        assert managed.pid in zombie_children(), "a managed child is left to its owner"
        assert managed.wait(5) == 0
    finally:
        if managed.poll() is None:
            managed.kill()
            managed.wait()
        deadline = time.monotonic() + 5
        while orphan in zombie_children() and time.monotonic() < deadline:
            reap_orphans(managed=())
            time.sleep(0.05)
        become_subreaper(False)
