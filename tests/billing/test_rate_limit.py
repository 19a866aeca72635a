"""The per-key rate limit is exact: no more requests in any minute than the limit, also
across the edge of a clock minute (where a sliding-window counter lets one extra through)."""

from __future__ import annotations

import asyncio
import time

import pytest

from creatix.billing.ratelimit import RateLimiter
from creatix.kit.errors import TooManyRequests


def test_one_a_minute_is_one_across_a_minute_boundary(monkeypatch: pytest.MonkeyPatch) -> None:
    boundary = (time.time() // 60 + 1) * 60
    clock = [boundary - 0.2]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    limiter = RateLimiter()

    async def scenario() -> None:
        first = await limiter.hit("key-1", 1)
        assert first.remaining == 0
        clock[0] = boundary + 0.2  # the next clock minute, 0.4 s later
        with pytest.raises(TooManyRequests) as refused:
            await limiter.hit("key-1", 1)
        assert refused.value.code == "rate_limit_exceeded"
        clock[0] = boundary + 60  # a whole minute after the first
        assert (await limiter.hit("key-1", 1)).limit == 1

    asyncio.run(scenario())


def test_each_key_has_its_own_count() -> None:
    limiter = RateLimiter()

    async def scenario() -> None:
        for _ in range(3):
            await limiter.hit("key-a", 3)
        with pytest.raises(TooManyRequests):
            await limiter.hit("key-a", 3)
        assert (await limiter.hit("key-b", 3)).remaining == 2

    asyncio.run(scenario())
