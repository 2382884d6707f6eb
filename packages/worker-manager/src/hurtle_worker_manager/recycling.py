"""Recycling: replacing a server worker that served enough, lived enough or grew too big.

A ``RecyclePolicy`` holds the limits (``max_requests``, ``max_lifetime``, ``max_rss``, each
0 for none) and their jitter; ``policy.watch()`` draws one instance's own limits, so that
workers started together do not all recycle together. The manager samples each serving
worker (requests served so far, uptime, RSS) about once a second and asks its
``RecycleWatch`` whether it is due; a due worker is replaced by a zero-downtime restart
(the new one acks before the old one drains), one worker at a time.

Requests are counted by the worker's own report (``requests_report``, a report key and a
numeric field in it, e.g. ``("http", "served")``), so the count the manager sees lags the
worker's by up to one report interval.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["RecyclePolicy", "RecycleWatch"]


@dataclass(frozen=True)
class RecyclePolicy:
    """When to replace a server worker; every limit 0 means none.

    ``max_requests`` (+ up to ``max_requests_jitter`` more, drawn per worker) responses
    served; ``max_lifetime`` (+ up to ``max_lifetime_jitter``) seconds since it started;
    ``max_rss`` bytes of resident memory for ``rss_samples`` samples in a row.
    """

    max_requests: int = 0
    max_requests_jitter: int = 0
    max_lifetime: float = 0.0
    max_lifetime_jitter: float = 0.0
    max_rss: int = 0
    rss_samples: int = 3
    requests_report: tuple[str, str] = ("", "")

    def __post_init__(self) -> None:
        for name in ("max_requests", "max_requests_jitter", "max_rss"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer of 0 or more, got {value!r}")
        for name in ("max_lifetime", "max_lifetime_jitter"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a number of seconds, 0 or more, got {value!r}")
        if isinstance(self.rss_samples, bool) or not isinstance(self.rss_samples, int):
            raise ValueError(f"rss_samples must be an integer, got {self.rss_samples!r}")
        if self.rss_samples < 1:
            raise ValueError(f"rss_samples must be 1 or more, got {self.rss_samples!r}")
        if self.max_requests and not self.requests_report[0]:
            raise ValueError(
                "max_requests needs requests_report=(report key, field), the worker report "
                "that counts the requests it served"
            )

    @property
    def enabled(self) -> bool:
        """Whether any limit is set."""
        return bool(self.max_requests or self.max_lifetime or self.max_rss)

    def watch(self, rng: random.Random | None = None) -> RecycleWatch:
        """The limits of one new worker instance, jitter drawn."""
        draw = rng or random
        requests = self.max_requests
        if requests and self.max_requests_jitter:
            requests += draw.randint(0, self.max_requests_jitter)
        lifetime = float(self.max_lifetime)
        if lifetime and self.max_lifetime_jitter:
            lifetime += draw.uniform(0, self.max_lifetime_jitter)
        return RecycleWatch(requests, lifetime, self.max_rss, self.rss_samples)


class RecycleWatch:
    """One worker instance's limits and its run of RSS samples over the limit."""

    __slots__ = ("max_lifetime", "max_requests", "max_rss", "over", "rss_samples")

    def __init__(self, max_requests: int, max_lifetime: float, max_rss: int, samples: int) -> None:
        self.max_requests = max_requests
        self.max_lifetime = max_lifetime
        self.max_rss = max_rss
        self.rss_samples = samples
        self.over = 0

    def sample(self, *, requests: float | None, uptime: float, rss: int | None) -> str:
        """Record one sample; the reason the worker is due ("" when it is not).

        Reasons: ``max_requests``, ``max_lifetime``, ``max_rss``.
        """
        if self.max_rss and rss is not None:
            self.over = self.over + 1 if rss > self.max_rss else 0
        if self.max_requests and requests is not None and requests >= self.max_requests:
            return "max_requests"
        if self.max_lifetime and uptime >= self.max_lifetime:
            return "max_lifetime"
        if self.max_rss and self.over >= self.rss_samples:
            return "max_rss"
        return ""
