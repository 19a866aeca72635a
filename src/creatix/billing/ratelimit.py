"""Per-key request rate limits, counted in memory (one process), in the supervisor's counter host
(``serve --workers``' processes) or in Redis (shared by all nodes)."""

from __future__ import annotations

import inspect
import math
import time
from dataclasses import dataclass

from limits import RateLimitItemPerMinute
from limits.aio.strategies import MovingWindowRateLimiter

from creatix.kit.errors import TooManyRequests
from creatix.kit.shared_counters import counter_storage, counters_answering


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    remaining: int
    reset_epoch: int

    @property
    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_epoch),
        }


class RateLimiter:
    def __init__(self, storage_uri: str = "memory://") -> None:
        self._storage = counter_storage(storage_uri)
        # A moving window, exact: the sliding-window counter floors its estimate, which lets a
        # key through one request over its limit at a window boundary (two at once at 1/min).
        self._limiter = MovingWindowRateLimiter(self._storage)

    async def check(self) -> bool:
        """Whether the counters' storage answers (Redis reachable)."""
        answered = self._storage.check()  # an async storage: a coroutine
        return bool(await answered) if inspect.isawaitable(answered) else bool(answered)

    async def hit(self, key_id: str, requests_per_minute: int) -> RateLimitState:
        """Count one request for the key; raise ``TooManyRequests`` when over its limit."""
        item = RateLimitItemPerMinute(requests_per_minute)
        with counters_answering():
            allowed = await self._limiter.hit(item, "key", key_id)
            stats = await self._limiter.get_window_stats(item, "key", key_id)
        state = RateLimitState(
            limit=requests_per_minute,
            remaining=max(0, stats.remaining),
            reset_epoch=math.ceil(stats.reset_time),
        )
        if not allowed:
            raise TooManyRequests(
                f"Rate limit of {requests_per_minute} requests per minute exceeded for this key.",
                code="rate_limit_exceeded",
                retry_after=math.ceil(stats.reset_time - time.time()),
                headers=state.headers,
            )
        return state
