"""The sign-in throttle is exact: no more attempts in any window than its allowance, also across
the edge of a clock window (where a sliding-window counter lets one more through)."""

from __future__ import annotations

import asyncio
import time

import pytest

from creatix.kit.errors import TooManyRequests
from creatix.people.throttle import SigninThrottle

WINDOW_SECONDS = 900


class Clock:
    """``time.time`` for the throttle: 0.3 s before the edge of a clock window."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.edge = (time.time() // WINDOW_SECONDS + 1) * WINDOW_SECONDS
        self.now = self.edge - 0.3
        monkeypatch.setattr(time, "time", lambda: self.now)


def test_an_emails_allowance_holds_across_a_window_edge(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    throttle = SigninThrottle(
        "memory://", per_email=3, per_address=100, window_seconds=WINDOW_SECONDS
    )

    async def scenario() -> None:
        for _ in range(3):
            await throttle.attempt("ada@example.com", "203.0.113.7")
        clock.now = clock.edge + 0.3  # the next clock window, 0.6 s after the first attempts
        with pytest.raises(TooManyRequests) as refused:
            await throttle.attempt("ada@example.com", "203.0.113.7")
        assert refused.value.code == "too_many_signin_attempts"
        assert WINDOW_SECONDS - 2 <= refused.value.retry_after <= WINDOW_SECONDS
        clock.now = clock.edge - 0.3 + WINDOW_SECONDS + 1  # a whole window after the first three
        await throttle.attempt("ada@example.com", "203.0.113.7")

    asyncio.run(scenario())


def test_an_address_is_counted_across_emails(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch)
    throttle = SigninThrottle(
        "memory://", per_email=100, per_address=2, window_seconds=WINDOW_SECONDS
    )

    async def scenario() -> None:
        await throttle.attempt("ada@example.com", "203.0.113.7")
        await throttle.attempt("grace@example.com", "203.0.113.7")
        clock.now = clock.edge + 0.3
        with pytest.raises(TooManyRequests):
            await throttle.attempt("linus@example.com", "203.0.113.7")
        await throttle.attempt("linus@example.com", "198.51.100.4")  # another address

    asyncio.run(scenario())
