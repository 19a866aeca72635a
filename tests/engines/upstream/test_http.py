"""``ProviderHttp`` against a real server: retries, timeouts and the mapping of failures."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi import Response
from fastapi.responses import JSONResponse, RedirectResponse

from creatix.engines.upstream import (
    ProviderHttp,
    ProviderOutage,
    ProviderRejected,
    RetryPolicy,
)
from creatix.engines.upstream.errors import ProviderFailed
from fakes.server import FakeProvider, Fault, tiny_png

KEY = "sk-http-test-9d2f7c31a8e4b650"
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    provider = FakeProvider()

    @provider.app.post("/v1/ok")
    async def ok() -> JSONResponse:
        return JSONResponse({"ok": True})

    @provider.app.post("/v1/moved")
    async def moved() -> RedirectResponse:
        # The same server by another name: a different host, as a CDN would be.
        return RedirectResponse(f"{_elsewhere(provider.url)}/v1/ok", status_code=307)

    @provider.app.get("/files/picture.png")
    async def picture() -> Response:
        return Response(tiny_png(), media_type="image/png")

    with provider:
        yield provider


@pytest.fixture(autouse=True)
def _fresh(fake: FakeProvider) -> None:
    """One server for the module; each test starts with no calls and no faults queued."""
    fake.reset()


def _elsewhere(url: str) -> str:
    return url.replace("127.0.0.1", "localhost")


def _client(url: str, *, retry: RetryPolicy = FAST, timeout: float = 10.0) -> ProviderHttp:
    """A client of the fake; ``timeout`` is generous (a loaded machine may be slow to answer)
    except where a test gives its own to time a hang out."""
    return ProviderHttp(
        "fake",
        f"{url}/v1",
        headers={"Authorization": f"Bearer {KEY}"},
        secrets=[KEY],
        timeout=timeout,
        retry=retry,
    )


@pytest.fixture
async def http(fake: FakeProvider) -> AsyncIterator[ProviderHttp]:
    client = _client(fake.url)
    yield client
    await client.close()


async def test_a_success_is_one_call_with_the_key_in_its_header(
    fake: FakeProvider, http: ProviderHttp
) -> None:
    assert await http.json("POST", "ok", json_body={"a": 1}) == {"ok": True}
    (call,) = fake.calls("/v1/ok")
    assert call.headers["authorization"] == f"Bearer {KEY}"
    assert json.loads(call.body) == {"a": 1}


async def test_retry_after_is_waited_for(fake: FakeProvider) -> None:
    fake.fail("/v1/ok", Fault(429, headers={"Retry-After": "0.4"}))
    client = _client(fake.url, retry=RetryPolicy(attempts=2, base_delay=0.0))
    started = time.monotonic()
    try:
        assert await client.json("POST", "ok") == {"ok": True}
    finally:
        await client.close()
    # Waited the 0.4 s asked (the backoff alone would be 0 s), and not some longer default.
    assert 0.4 <= time.monotonic() - started < 5.0
    assert len(fake.calls("/v1/ok")) == 2


async def test_a_500_then_success_is_two_attempts(fake: FakeProvider, http: ProviderHttp) -> None:
    fake.fail("/v1/ok", Fault(500))
    assert await http.json("POST", "ok") == {"ok": True}
    assert len(fake.calls("/v1/ok")) == 2


async def test_429s_past_the_attempts_are_an_outage(fake: FakeProvider, http: ProviderHttp) -> None:
    fake.fail("/v1/ok", *[Fault(429, body='{"error": {"message": "slow down"}}')] * 3)
    with pytest.raises(ProviderOutage, match="HTTP 429"):
        await http.json("POST", "ok")
    assert len(fake.calls("/v1/ok")) == 3


async def test_a_hang_past_the_timeout_is_retried_then_an_outage(fake: FakeProvider) -> None:
    fake.fail("/v1/ok", *[Fault(200, body="{}", hang=6.0)] * 2)
    client = _client(fake.url, retry=RetryPolicy(attempts=2, base_delay=0.01), timeout=0.15)
    started = time.monotonic()
    try:
        with pytest.raises(ProviderOutage, match="did not answer in time"):
            await client.json("GET", "ok")
    finally:
        await client.close()
    # Two 0.15 s timeouts, not even one whole hang (the bound leaves a loaded machine room).
    assert time.monotonic() - started < 5.0
    assert len(fake.calls("/v1/ok")) == 2


async def test_a_post_that_hangs_is_not_sent_twice(fake: FakeProvider) -> None:
    fake.fail("/v1/ok", Fault(200, body="{}", hang=0.6))
    client = _client(fake.url, retry=RetryPolicy(attempts=3, base_delay=0.01), timeout=0.15)
    try:
        with pytest.raises(ProviderOutage, match="did not answer in time"):
            await client.json("POST", "ok")
    finally:
        await client.close()
    assert len(fake.calls("/v1/ok")) == 1, "the provider may have taken it: no duplicate job"


async def test_a_closed_port_is_an_outage() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = _client(f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(ProviderOutage, match="could not be reached"):
            await client.json("POST", "ok")
    finally:
        await client.close()


async def test_a_malformed_body_is_an_outage(fake: FakeProvider, http: ProviderHttp) -> None:
    fake.fail("/v1/ok", Fault(malformed=True))
    with pytest.raises(ProviderOutage, match="malformed"):
        await http.json("POST", "ok")
    assert len(fake.calls("/v1/ok")) == 1


async def test_a_400_is_rejected_at_once_with_the_providers_words(
    fake: FakeProvider, http: ProviderHttp
) -> None:
    body = '{"error": {"message": "Invalid size 7x7.", "type": "invalid_request_error"}}'
    fake.fail("/v1/ok", Fault(400, body=body))
    with pytest.raises(ProviderRejected, match=r"Invalid size 7x7\."):
        await http.json("POST", "ok")
    assert len(fake.calls("/v1/ok")) == 1


async def test_a_401_is_an_outage_at_once(fake: FakeProvider, http: ProviderHttp) -> None:
    fake.fail("/v1/ok", Fault(401, body='{"error": {"message": "bad key"}}'))
    with pytest.raises(ProviderOutage, match="credentials"):
        await http.json("POST", "ok")
    assert len(fake.calls("/v1/ok")) == 1


async def test_a_retry_after_beyond_the_limit_is_an_outage_at_once(fake: FakeProvider) -> None:
    fake.fail("/v1/ok", Fault(429, headers={"Retry-After": "120"}))
    client = _client(fake.url, retry=RetryPolicy(attempts=3, base_delay=0.01, max_retry_after=60))
    started = time.monotonic()
    try:
        with pytest.raises(ProviderOutage, match="retry after 120 s"):
            await client.json("POST", "ok")
    finally:
        await client.close()
    assert time.monotonic() - started < 10, "it did not wait the 120 s"
    assert len(fake.calls("/v1/ok")) == 1


async def test_a_key_echoed_in_an_error_is_redacted(fake: FakeProvider, http: ProviderHttp) -> None:
    body = json.dumps({"error": {"message": f"Key {KEY} may not use this model."}})
    fake.fail("/v1/ok", Fault(400, body=body))
    with pytest.raises(ProviderRejected) as caught:
        await http.json("POST", "ok")
    assert KEY not in str(caught.value)
    assert "Key [redacted] may not use this model." in str(caught.value)


async def test_files_from_another_host_get_no_key(fake: FakeProvider, http: ProviderHttp) -> None:
    own = await http.download(f"{fake.url}/files/picture.png")
    other = await http.download(f"{_elsewhere(fake.url)}/files/picture.png")
    assert own == other == tiny_png()
    first, second = fake.calls("/files/picture.png")
    assert first.headers["authorization"] == f"Bearer {KEY}"
    assert "authorization" not in second.headers


async def test_a_missing_file_is_a_failure(fake: FakeProvider, http: ProviderHttp) -> None:
    with pytest.raises(ProviderFailed, match="HTTP 404"):
        await http.download(f"{fake.url}/files/nothing.png")
    assert len(fake.calls("/files/nothing.png")) == 1


@pytest.mark.parametrize("header", ["Authorization", "x-goog-api-key"])
async def test_a_redirect_to_another_host_carries_no_key(fake: FakeProvider, header: str) -> None:
    client = ProviderHttp("fake", f"{fake.url}/v1", headers={header: KEY}, secrets=[KEY])
    try:
        assert await client.json("POST", "moved", json_body={}) == {"ok": True}
    finally:
        await client.close()
    (asked,) = fake.calls("/v1/moved")
    (landed,) = fake.calls("/v1/ok")
    assert asked.headers[header.lower()] == KEY
    assert header.lower() not in landed.headers


async def test_backoff_grows_with_each_retry(fake: FakeProvider) -> None:
    """Full jitter: the n-th retry waits up to base × 2^(n-1); the draws are pinned at the top."""

    class Highest(RetryPolicy):
        def backoff(self, retry: int) -> float:
            waits.append(min(self.max_delay, self.base_delay * 2**retry))
            return 0.0

    waits: list[float] = []
    fake.fail("/v1/ok", Fault(500), Fault(503), Fault(502))
    client = _client(fake.url, retry=Highest(attempts=4, base_delay=0.5, max_delay=8.0))
    try:
        assert await client.json("POST", "ok") == {"ok": True}
    finally:
        await client.close()
    assert waits == [0.5, 1.0, 2.0]
