"""Readiness, as ``GET /ready`` answers it to a load balancer or a Kubernetes probe.

Ready means: at least ``min_ready`` server workers acknowledged and serve, and no
shutdown has begun (neither the manager's pre-stop ``draining`` phase nor its
``stopping`` phase, nor this inspector being asked to stop). The answer reveals nothing
else: no worker names, counts or addresses, since probes need no API key.
"""

from __future__ import annotations

from collections.abc import Mapping

from hurtle_worker_manager.messages import ProcessEntry

__all__ = ["DRAINING_PHASES", "is_ready", "not_ready_reason", "serving_workers"]

DRAINING_PHASES = frozenset({"draining", "stopping"})


def serving_workers(entries: Mapping[str, ProcessEntry]) -> int:
    """Server instances that acknowledged and did not stop serving."""
    return sum(
        1
        for entry in entries.values()
        if entry.server and entry.state == "ACKED" and entry.serving is not False
    )


def not_ready_reason(
    entries: Mapping[str, ProcessEntry], *, phase: str, min_ready: int, stopping: bool
) -> str:
    """Why ``/ready`` answers 503, in a few words; "" when it answers 200."""
    if stopping or phase in DRAINING_PHASES:
        return "The server is shutting down"
    serving = serving_workers(entries)
    if serving >= max(1, min_ready):
        return ""
    return "No server worker is ready" if serving == 0 else "Not enough server workers are ready"


def is_ready(
    entries: Mapping[str, ProcessEntry], *, phase: str, min_ready: int, stopping: bool
) -> bool:
    """Whether ``/ready`` answers 200."""
    return not not_ready_reason(entries, phase=phase, min_ready=min_ready, stopping=stopping)
