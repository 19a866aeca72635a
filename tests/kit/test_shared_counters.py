"""The supervisor's counter host: rate-limit windows that several processes count as one,
through the real socket, with a real second process."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from creatix.billing.ratelimit import RateLimiter
from creatix.kit.errors import TooManyRequests, Unavailable
from creatix.kit.shared_counters import CounterHost, HostedStorage, HostError, counter_storage
from creatix.people.throttle import SigninThrottle

OTHER_PROCESS = """
import asyncio, json, sys
from creatix.billing.ratelimit import RateLimiter
from creatix.kit.errors import TooManyRequests, Unavailable

async def main():
    limiter, answers = RateLimiter(sys.argv[1]), []
    for _ in range(int(sys.argv[2])):
        try:
            answers.append((await limiter.hit("key-1", 6)).remaining)
        except TooManyRequests:
            answers.append("refused")
    print(json.dumps(answers))

asyncio.run(main())
"""


@pytest.fixture
def host() -> Iterator[CounterHost]:
    host = CounterHost()
    host.start()
    yield host
    host.close()


def _hits_in_another_process(uri: str, count: int) -> list[int | str]:
    ran = subprocess.run(
        [sys.executable, "-c", OTHER_PROCESS, uri, str(count)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    answers: list[int | str] = json.loads(ran.stdout)
    return answers


async def test_two_processes_count_one_window(host: CounterHost) -> None:
    assert _hits_in_another_process(host.uri, 4) == [5, 4, 3, 2]
    limiter = RateLimiter(host.uri)
    assert [(await limiter.hit("key-1", 6)).remaining for _ in range(2)] == [1, 0]
    with pytest.raises(TooManyRequests) as refused:
        await limiter.hit("key-1", 6)
    assert refused.value.retry_after is not None
    assert 0 < refused.value.retry_after <= 60
    assert _hits_in_another_process(host.uri, 1) == ["refused"]
    assert (await limiter.hit("key-2", 6)).remaining == 5, "each key its own window"


async def test_concurrent_hits_from_two_connections_never_pass_the_limit(
    host: CounterHost,
) -> None:
    first, second = RateLimiter(host.uri), RateLimiter(host.uri)

    async def hit(limiter: RateLimiter) -> bool:
        try:
            await limiter.hit("key-1", 10)
        except TooManyRequests:
            return False
        return True

    allowed = await asyncio.gather(*(hit(limiter) for limiter in [first, second] * 15))
    assert sum(allowed) == 10


async def test_sign_in_attempts_are_counted_once_across_processes(host: CounterHost) -> None:
    throttles = [
        SigninThrottle(host.uri, per_email=3, per_address=100, window_seconds=60) for _ in range(2)
    ]
    for throttle in [*throttles, throttles[0]]:
        await throttle.attempt("ada@example.com", "10.0.0.1")
    with pytest.raises(TooManyRequests):
        await throttles[1].attempt("ada@example.com", "10.0.0.2")


async def test_an_unknown_call_is_refused_and_the_connection_goes_on(host: CounterHost) -> None:
    storage = counter_storage(host.uri)
    assert isinstance(storage, HostedStorage)
    with pytest.raises(HostError, match="no such call"):
        await storage._call("__init__")
    assert await storage.incr("counter", 60) == 1
    assert await storage.get("counter") == 1
    assert await storage.check()


async def test_a_host_that_is_gone_is_a_503_at_once_not_a_wait(host: CounterHost) -> None:
    limiter = RateLimiter(host.uri)
    await limiter.hit("key-1", 6)
    assert await limiter.check()
    host.close()
    assert not await limiter.check()
    with pytest.raises(Unavailable) as unavailable:
        await asyncio.wait_for(limiter.hit("key-1", 6), 2)
    assert unavailable.value.status == 503
    assert unavailable.value.code == "rate_limits_unavailable"
    throttle = SigninThrottle(host.uri, per_email=3, per_address=3, window_seconds=60)
    with pytest.raises(Unavailable):
        await asyncio.wait_for(throttle.attempt("ada@example.com", None), 2)
