"""The fal provider over real HTTP against a fake fal queue API."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import pytest
import pytest_asyncio
from PIL import Image

from creatix.engines.base import EngineParams
from creatix.engines.upstream import (
    ProviderAccess,
    ProviderFailed,
    ProviderOutage,
    ProviderRejected,
    UpstreamEngine,
    UpstreamOptions,
)
from creatix.engines.upstream.fal import FalProvider
from creatix.jobs.specs import ImageSpec
from fakes.fal import FOREVER, FakeFal
from fakes.server import Fault, json_of

KEY = "fal-key-for-tests"
MODEL = "fal-ai/flux/dev"
SUBMIT = r"^/fal-ai/flux/dev$"
STATUS = r"/requests/[^/]+/status$"
RESPONSE = r"/requests/[^/]+$"
CANCEL = r"/requests/[^/]+/cancel$"
OPTIONS = UpstreamOptions(
    poll_interval_seconds=0.02,
    retry_base_delay=0.01,
    retry_max_delay=0.05,
    timeout_seconds=10,
    max_wait_seconds=5,
)


# The tests share the module's event loop, with its fake server and provider.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def fal_server() -> Iterator[FakeFal]:
    server = FakeFal(key=KEY)
    with server:
        yield server


@pytest.fixture
def fake(fal_server: FakeFal) -> FakeFal:
    fal_server.reset()
    return fal_server


def make_provider(
    fake: FakeFal, key: str | None = KEY, options: UpstreamOptions = OPTIONS
) -> FalProvider:
    return FalProvider(options, ProviderAccess(base_url=fake.url, api_key=key))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_provider(fal_server: FakeFal) -> AsyncIterator[FalProvider]:
    """One provider for the module's tests: each costs two TLS contexts to make."""
    provider = make_provider(fal_server)
    yield provider
    await provider.close()


@pytest.fixture
def provider(fake: FakeFal, shared_provider: FalProvider) -> FalProvider:
    return shared_provider


def spec(prompt: str = "a lighthouse at dusk", **fields: Any) -> ImageSpec:
    values: dict[str, Any] = {"width": 96, "height": 80, "n": 1, "seed": 7} | fields
    return ImageSpec(prompt=prompt, **values)


async def generate(
    provider: FalProvider,
    image_spec: ImageSpec,
    *,
    model: str = MODEL,
    source: Image.Image | None = None,
    params: EngineParams | None = None,
) -> list[Image.Image]:
    engine = UpstreamEngine(provider)
    [images] = await engine.generate(
        model, [image_spec], [source] if source is not None else None, params=params
    )
    return images


async def test_images_come_back_counted_and_at_the_asked_size(
    fake: FakeFal, provider: FalProvider
) -> None:
    images = await generate(provider, spec(n=2))

    assert [image.size for image in images] == [(96, 80), (96, 80)]  # the fake made 48 × 40
    assert images[0].getpixel((48, 40)) != images[1].getpixel((48, 40))
    files = fake.calls(r"^/files/")
    assert len(files) == 2
    assert all(r.headers["host"].startswith("localhost:") for r in files)
    assert all("authorization" not in r.headers for r in files)  # the CDN never sees the key


async def test_the_input_is_the_spec_with_the_route_params_over_it(
    fake: FakeFal, provider: FalProvider
) -> None:
    source = Image.new("RGB", (16, 12), (10, 120, 240))
    await generate(
        provider,
        spec(negative_prompt="fog", n=2, output_format="webp"),
        source=source,
        params={"num_inference_steps": 4, "enable_safety_checker": False, "acceleration": "high"},
    )

    [submit] = fake.calls(SUBMIT, "POST")
    body = json_of(submit)
    image_url = body.pop("image_url")
    assert body == {
        "prompt": "a lighthouse at dusk",
        "negative_prompt": "fog",
        "image_size": {"width": 96, "height": 80},
        "num_images": 2,
        "seed": 7,
        "output_format": "png",  # fal makes no WebP
        "enable_safety_checker": False,  # the route's value wins
        "num_inference_steps": 4,
        "acceleration": "high",
    }
    assert image_url.startswith("data:image/png;base64,")
    sent = Image.open(io.BytesIO(base64.b64decode(image_url.split(",", 1)[1])))
    assert sent.format == "PNG"
    assert sent.size == (16, 12)
    assert sent.convert("RGB").getpixel((3, 3)) == (10, 120, 240)


async def test_jpeg_is_asked_as_jpeg_and_no_negative_prompt_is_sent_when_none(
    fake: FakeFal, provider: FalProvider
) -> None:
    await generate(provider, spec(output_format="jpeg"))

    body = json_of(fake.calls(SUBMIT, "POST")[0])
    assert body["output_format"] == "jpeg"
    assert "negative_prompt" not in body
    assert "image_url" not in body


async def test_the_request_is_polled_at_the_urls_given_until_completed(
    fake: FakeFal, provider: FalProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="creatix.engines.upstream.fal")
    await generate(provider, spec())

    polls = fake.calls(STATUS, "GET")
    assert len(polls) == 3  # IN_QUEUE, IN_PROGRESS, COMPLETED
    # fal's URLs name the app (fal-ai/flux), not the model's path (fal-ai/flux/dev)
    assert all(r.path.startswith("/fal-ai/flux/requests/") for r in polls)
    assert len(fake.calls(RESPONSE, "GET")) == 1
    assert fake.calls(CANCEL) == []
    queued = [r for r in caplog.records if r.getMessage() == "fal request queued"]
    assert [getattr(r, "queue_position", None) for r in queued] == [3]


async def test_urls_are_built_when_the_submit_answer_lacks_them(
    fake: FakeFal, provider: FalProvider
) -> None:
    fake.give_urls = False
    images = await generate(provider, spec())

    assert len(images) == 1
    assert all(r.path.startswith("/fal-ai/flux/dev/requests/") for r in fake.calls(STATUS))


async def test_sync_mode_data_uris_are_decoded_not_fetched(
    fake: FakeFal, provider: FalProvider
) -> None:
    images = await generate(provider, spec(n=2), params={"sync_mode": True})

    assert [image.size for image in images] == [(96, 80), (96, 80)]
    assert fake.calls(r"^/files/") == []


async def test_429_with_retry_after_is_waited_out(fake: FakeFal, provider: FalProvider) -> None:
    fake.fail(SUBMIT, Fault(status=429, headers={"Retry-After": "0"}))

    images = await generate(provider, spec())

    assert len(images) == 1
    assert len(fake.calls(SUBMIT, "POST")) == 2


async def test_a_500_while_polling_is_retried(fake: FakeFal, provider: FalProvider) -> None:
    fake.fail(STATUS, Fault(status=500))

    images = await generate(provider, spec())

    assert len(images) == 1
    assert len(fake.calls(STATUS, "GET")) == 4  # one answered 500, then the three of the life


async def test_a_malformed_submit_answer_is_an_outage(fake: FakeFal, provider: FalProvider) -> None:
    fake.fail(SUBMIT, Fault(malformed=True))

    with pytest.raises(ProviderOutage, match="malformed body"):
        await generate(provider, spec())


async def test_a_result_of_the_wrong_shape_is_an_outage(provider: FalProvider) -> None:
    with pytest.raises(ProviderOutage, match="malformed body"):
        await generate(provider, spec("fake:malformed"))


async def test_a_malformed_status_gives_up_and_cancels_upstream(
    fake: FakeFal, provider: FalProvider
) -> None:
    fake.fail(STATUS, Fault(malformed=True))

    with pytest.raises(ProviderOutage, match="malformed body"):
        await generate(provider, spec())

    assert len(fake.calls(CANCEL, "PUT")) == 1


async def test_a_validation_error_is_rejected_after_one_attempt(
    fake: FakeFal, provider: FalProvider
) -> None:
    with pytest.raises(ProviderRejected, match="too big"):
        await generate(provider, spec("fake:invalid"))

    assert len(fake.calls(RESPONSE, "GET")) == 1


async def test_a_failed_request_is_provider_failed_with_its_reason(
    fake: FakeFal, provider: FalProvider
) -> None:
    with pytest.raises(ProviderFailed) as caught:
        await generate(provider, spec("fake:fail"))

    message = str(caught.value)
    assert message.startswith("The model's provider failed to make the image: CUDA out of memory")
    assert "[redacted]" in message
    assert KEY not in message
    assert fake.calls(RESPONSE, "GET") == []
    assert fake.calls(CANCEL) == []


async def test_a_result_file_that_404s_is_provider_failed(
    fake: FakeFal, provider: FalProvider
) -> None:
    with pytest.raises(ProviderFailed, match="HTTP 404"):
        await generate(provider, spec("fake:missing"))

    assert len(fake.calls(r"^/files/")) == 1


async def test_a_request_past_max_wait_is_canceled_and_an_outage(fake: FakeFal) -> None:
    fake.polls_to_finish = FOREVER
    provider = make_provider(fake, options=replace(OPTIONS, max_wait_seconds=0.2))
    try:
        with pytest.raises(ProviderOutage, match=r"did not finish within 0\.2 s"):
            await generate(provider, spec())
    finally:
        await provider.close()

    assert len(fake.calls(CANCEL, "PUT")) == 1
    assert len(fake.calls(STATUS)) >= 3


async def test_cancelling_the_job_cancels_the_request_upstream_once(
    fake: FakeFal, provider: FalProvider
) -> None:
    fake.polls_to_finish = FOREVER
    task = asyncio.create_task(generate(provider, spec()))
    await fake.polled(STATUS, times=2)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert len(fake.calls(CANCEL, "PUT")) == 1
    [job] = fake.jobs.values()
    assert job.canceled


async def test_a_refused_key_is_an_outage(fake: FakeFal) -> None:
    provider = make_provider(fake, key="not-the-key")
    try:
        with pytest.raises(ProviderOutage, match=r"refused Creatix's credentials \(HTTP 401\)"):
            await generate(provider, spec())
    finally:
        await provider.close()

    assert len(fake.calls(SUBMIT)) == 1


async def test_without_a_key_the_provider_is_unavailable(
    fake: FakeFal, provider: FalProvider
) -> None:
    assert provider.unavailable_reason() is None
    keyless = make_provider(fake, key=None)
    local = make_provider(
        fake, key=None, options=UpstreamOptions(requires_key=False, poll_interval_seconds=0.02)
    )
    try:
        assert keyless.unavailable_reason() == (
            "no API key: set CREATIX_FAL_KEY or the engine's api_key_env"
        )
        assert local.unavailable_reason() is None
    finally:
        for made in (keyless, local):
            await made.close()


async def test_the_key_is_sent_but_never_told(
    fake: FakeFal, provider: FalProvider, caplog: pytest.LogCaptureFixture
) -> None:
    for name in (None, "httpx", "httpcore", "creatix"):
        caplog.set_level(logging.DEBUG, logger=name)
    fake.fail(STATUS, Fault(status=500), Fault(status=429, headers={"Retry-After": "0"}))
    messages = []

    await generate(provider, spec(n=2))
    for prompt in ("fake:fail", "fake:invalid", "fake:missing", "fake:malformed"):
        with pytest.raises((ProviderFailed, ProviderRejected, ProviderOutage)) as caught:
            await generate(provider, spec(prompt))
        messages.append(str(caught.value))
    fake.polls_to_finish = FOREVER
    task = asyncio.create_task(generate(provider, spec()))
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert {r.headers.get("authorization") for r in fake.calls(STATUS)} == {f"Key {KEY}"}
    assert any("[redacted]" in message for message in messages)
    assert not [message for message in messages if KEY in message]
    assert any(r.name.startswith("httpcore") for r in caplog.records)
    assert not [r for r in caplog.records if KEY in r.getMessage() or KEY in repr(vars(r))]
