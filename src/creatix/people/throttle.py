"""Sign-in attempts counted per email and per client address (``limits``, in memory, in the
supervisor's counter host that ``serve --workers``' processes share, or in the Redis every node
shares, as the per-key rate limits are)."""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerSecond
from limits.aio.strategies import MovingWindowRateLimiter

from creatix.kit.errors import TooManyRequests
from creatix.kit.shared_counters import counter_storage, counters_answering


class SigninThrottle:
    def __init__(
        self,
        storage_uri: str,
        *,
        per_email: int,
        per_address: int,
        window_seconds: int,
    ) -> None:
        # A moving window, exact, as the per-key rate limits: the sliding-window counter
        # floors its estimate and lets one more attempt through just after a window's edge.
        self._limiter = MovingWindowRateLimiter(counter_storage(storage_uri))
        self._per_email = RateLimitItemPerSecond(per_email, window_seconds)
        self._per_address = RateLimitItemPerSecond(per_address, window_seconds)

    async def attempt(self, email: str, address: str | None) -> None:
        """Count one attempt to sign in as ``email`` from ``address``; ``TooManyRequests``
        (with Retry-After) once either has had its allowance in the window. Counted before
        the password is checked, for known and unknown emails alike."""
        checks = [(self._per_email, "email", email)]
        if address:
            checks.insert(0, (self._per_address, "address", address))
        for item, kind, value in checks:
            with counters_answering():
                if not await self._limiter.hit(item, "signin", kind, value):
                    stats = await self._limiter.get_window_stats(item, "signin", kind, value)
                    raise TooManyRequests(
                        "Too many sign-in attempts; try again later.",
                        code="too_many_signin_attempts",
                        retry_after=math.ceil(stats.reset_time - time.time()),
                    )
