"""The Replicate provider over real HTTP against a fake Replicate predictions API."""

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

from creatix.engines.base import EngineParams, ProgressCallback
from creatix.engines.upstream import (
    ProviderAccess,
    ProviderFailed,
    ProviderOutage,
    ProviderRejected,
    UpstreamEngine,
    UpstreamOptions,
)
from creatix.engines.upstream.engine import ImageRequest
from creatix.engines.upstream.replicate import ReplicateProvider
from creatix.jobs.specs import ImageSpec
from fakes.replicate import FOREVER, FakeReplicate
from fakes.server import Fault, json_of

TOKEN = "r8_token_for_tests"
MODEL = "black-forest-labs/flux-dev"
CREATE = r"^/v1/models/black-forest-labs/flux-dev/predictions$"
GET = r"^/v1/predictions/[^/]+$"
CANCEL = r"^/v1/predictions/[^/]+/cancel$"
OPTIONS = UpstreamOptions(
    poll_interval_seconds=0.02,
    retry_base_delay=0.01,
    retry_max_delay=0.05,
    timeout_seconds=10,
    max_wait_seconds=7,
)


# The tests share the module's event loop, with its fake server and provider.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def replicate_server() -> Iterator[FakeReplicate]:
    server = FakeReplicate(token=TOKEN)
    with server:
        yield server


@pytest.fixture
def fake(replicate_server: FakeReplicate) -> FakeReplicate:
    replicate_server.reset()
    return replicate_server


def make_provider(
    fake: FakeReplicate, token: str | None = TOKEN, options: UpstreamOptions = OPTIONS
) -> ReplicateProvider:
    return ReplicateProvider(options, ProviderAccess(base_url=fake.api, api_key=token))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_provider(replicate_server: FakeReplicate) -> AsyncIterator[ReplicateProvider]:
    """One provider for the module's tests: each costs two TLS contexts to make."""
    provider = make_provider(replicate_server)
    yield provider
    await provider.close()


@pytest.fixture
def provider(fake: FakeReplicate, shared_provider: ReplicateProvider) -> ReplicateProvider:
    return shared_provider


def spec(prompt: str = "a lighthouse at dusk", **fields: Any) -> ImageSpec:
    values: dict[str, Any] = {"width": 96, "height": 80, "n": 1, "seed": 7} | fields
    return ImageSpec(prompt=prompt, **values)


async def generate(
    provider: ReplicateProvider,
    image_spec: ImageSpec,
    *,
    model: str = MODEL,
    source: Image.Image | None = None,
    params: EngineParams | None = None,
    progress: ProgressCallback | None = None,
) -> list[Image.Image]:
    engine = UpstreamEngine(provider)
    [images] = await engine.generate(
        model,
        [image_spec],
        [source] if source is not None else None,
        progress=progress,
        params=params,
    )
    return images


async def test_images_come_back_counted_and_at_the_asked_size(
    fake: FakeReplicate, provider: ReplicateProvider
) -> None:
    images = await generate(provider, spec(n=3))

    assert [image.size for image in images] == [(96, 80)] * 3  # the fake made 48 × 40
    assert len({image.getpixel((48, 40)) for image in images}) == 3
    files = fake.calls(r"^/files/")
    assert len(files) == 3
    assert all("authorization" not in r.headers for r in files)  # the CDN never sees the key


async def test_the_input_is_the_spec_with_the_route_params_over_it(
    fake: FakeReplicate, provider: ReplicateProvider
) -> None:
    source = Image.new("RGB", (16, 12), (10, 120, 240))
    await generate(
        provider,
        spec(negative_prompt="fog", n=2, output_format="jpeg"),
        source=source,
        params={"num_outputs": 2, "go_fast": True, "seed": 99, "aspect_ratio": "custom"},
    )

    [create] = fake.calls(CREATE, "POST")
    body = json_of(create)
    assert list(body) == ["input"]
    image = body["input"].pop("image")
    assert body["input"] == {
        "prompt": "a lighthouse at dusk",
        "negative_prompt": "fog",
        "width": 96,
        "height": 80,
        "num_outputs": 2,
        "seed": 99,  # the route's value wins
        "output_format": "jpg",  # Replicate's name for JPEG
        "go_fast": True,
        "aspect_ratio": "custom",
    }
    assert image.startswith("data:image/png;base64,")
    sent = Image.open(io.BytesIO(base64.b64decode(image.split(",", 1)[1])))
    assert sent.format == "PNG"
    assert sent.size == (16, 12)
    assert sent.convert("RGB").getpixel((3, 3)) == (10, 120, 240)


async def test_a_fast_prediction_answers_the_create_call_at_once(
    fake: FakeReplicate, provider: ReplicateProvider
) -> None:
    fake.polls_to_finish = 0
    images = await generate(provider, spec(n=2))

    assert len(images) == 2
    [create] = fake.calls(CREATE, "POST")
    assert create.headers["prefer"] == "wait=5"  # min(60, max_wait 7, timeout 10 - 5)
    assert fake.calls(GET) == []


async def test_a_slower_prediction_is_polled_until_it_succeeds(
    fake: FakeReplicate, provider: ReplicateProvider
) -> None:
    fake.polls_to_finish = 3
    images = await generate(provider, spec())

    assert len(images) == 1
    assert len(fake.calls(GET, "GET")) == 3
    assert fake.calls(CANCEL) == []


async def test_a_version_pinned_model_is_created_by_version(
    fake: FakeReplicate, provider: ReplicateProvider
) -> None:
    images = await generate(provider, spec(), model="stability-ai/sdxl:39ed52f2a78e934b")

    assert len(images) == 1
    [create] = fake.calls(r"^/v1/predictions$", "POST")
    body = json_of(create)
    assert body["version"] == "39ed52f2a78e934b"
    assert body["input"]["prompt"] == "a lighthouse at dusk"
    assert fake.calls(r"^/v1/models/") == []


@pytest.mark.parametrize("model", ["flux-dev", "a/b/c", "owner/name:", ""])
async def test_a_model_that_names_no_replicate_model_is_rejected(
    fake: FakeReplicate, provider: ReplicateProvider, model: str
) -> None:
    with pytest.raises(ProviderRejected, match=r"owner/name\[:version\]"):
        await provider.images(ImageRequest(model=model, spec=spec()))

    assert fake.requests == []


async def test_single_url_and_data_uri_outputs_are_read(
    fake: FakeReplicate, provider: ReplicateProvider
) -> None:
    [single] = await generate(provider, spec("fake:single"))
    inline = await generate(provider, spec("fake:datauri", n=2))

    assert single.size == (96, 80)
    assert [image.size for image in inline] == [(96, 80)] * 2
    assert len(fake.calls(r"^/files/")) == 1


async def test_progress_is_read_from_the_logs(provider: ReplicateProvider) -> None:
    told: list[float] = []
    await generate(provider, spec(), progress=told.append)

    assert told == [0.5, 1.0]  # 2/4 steps after the first poll, 4/4 when it succeeded


async def test_429_with_retry_after_is_waited_out(
    fake: FakeReplicate, provider: ReplicateProvider
) -> None:
    fake.fail(CREATE, Fault(status=429, headers={"Retry-After": "0"}, body='{"detail": "slow"}'))

    images = await generate(provider, spec())

    assert len(images) == 1
    assert len(fake.calls(CREATE, "POST")) == 2


async def test_a_500_while_polling_is_retried(
    fake: FakeReplicate, provider: ReplicateProvider
) -> None:
    fake.fail(GET, Fault(status=500))

    images = await generate(provider, spec())

    assert len(images) == 1
    assert len(fake.calls(GET, "GET")) == 3  # one answered 500, then the two of the life


async def test_a_malformed_create_answer_is_an_outage(
    fake: FakeReplicate, provider: ReplicateProvider
) -> None:
    fake.fail(CREATE, Fault(malformed=True))

    with pytest.raises(ProviderOutage, match="malformed body"):
        await generate(provider, spec())


async def test_an_output_of_the_wrong_shape_is_an_outage(provider: ReplicateProvider) -> None:
    with pytest.raises(ProviderOutage, match="malformed body"):
        await generate(provider, spec("fake:malformed"))


async def test_a_malformed_poll_gives_up_and_cancels_upstream(
    fake: FakeReplicate, provider: ReplicateProvider
) -> None:
    fake.fail(GET, Fault(malformed=True))

    with pytest.raises(ProviderOutage, match="malformed body"):
        await generate(provider, spec())

    assert len(fake.calls(CANCEL, "POST")) == 1


async def test_a_validation_error_is_rejected_after_one_attempt(
    fake: FakeReplicate, provider: ReplicateProvider
) -> None:
    with pytest.raises(ProviderRejected, match=r"input\.width: Must be less than or equal to 1440"):
        await generate(provider, spec("fake:invalid"))

    assert len(fake.calls(CREATE, "POST")) == 1


async def test_a_failed_prediction_is_provider_failed_with_its_error(
    fake: FakeReplicate, provider: ReplicateProvider
) -> None:
    with pytest.raises(ProviderFailed) as caught:
        await generate(provider, spec("fake:fail"))

    message = str(caught.value)
    assert message.startswith("The model's provider failed to make the image: CUDA out of memory")
    assert "Bearer [redacted]" in message
    assert TOKEN not in message
    assert fake.calls(CANCEL) == []


async def test_a_prediction_canceled_upstream_is_provider_failed(
    fake: FakeReplicate, provider: ReplicateProvider
) -> None:
    with pytest.raises(ProviderFailed, match="the prediction was canceled"):
        await generate(provider, spec("fake:canceled"))

    assert fake.calls(CANCEL) == []


async def test_a_result_file_that_404s_is_provider_failed(provider: ReplicateProvider) -> None:
    with pytest.raises(ProviderFailed, match="HTTP 404"):
        await generate(provider, spec("fake:missing"))


async def test_a_prediction_past_max_wait_is_canceled_and_an_outage(fake: FakeReplicate) -> None:
    fake.polls_to_finish = FOREVER
    provider = make_provider(fake, options=replace(OPTIONS, max_wait_seconds=0.2))
    try:
        with pytest.raises(ProviderOutage, match=r"did not finish within 0\.2 s"):
            await generate(provider, spec())
    finally:
        await provider.close()

    assert "prefer" not in fake.calls(CREATE)[0].headers  # too short a wait to hold the call
    assert len(fake.calls(CANCEL, "POST")) == 1
    [prediction] = fake.predictions.values()
    assert prediction.status == "canceled"


async def test_cancelling_the_job_cancels_the_prediction_upstream_once(
    fake: FakeReplicate, provider: ReplicateProvider
) -> None:
    fake.polls_to_finish = FOREVER
    task = asyncio.create_task(generate(provider, spec()))
    await fake.polled(GET, times=2)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert len(fake.calls(CANCEL, "POST")) == 1
    [prediction] = fake.predictions.values()
    assert prediction.status == "canceled"


async def test_a_refused_token_is_an_outage(fake: FakeReplicate) -> None:
    provider = make_provider(fake, token="r8_not_the_token")
    try:
        with pytest.raises(ProviderOutage, match=r"refused Creatix's credentials \(HTTP 401\)"):
            await generate(provider, spec())
    finally:
        await provider.close()

    assert len(fake.calls(CREATE)) == 1


async def test_without_a_token_the_provider_is_unavailable(
    fake: FakeReplicate, provider: ReplicateProvider
) -> None:
    assert provider.unavailable_reason() is None
    keyless = make_provider(fake, token=None)
    local = make_provider(fake, token=None, options=replace(OPTIONS, requires_key=False))
    try:
        assert keyless.unavailable_reason() == (
            "no API key: set CREATIX_REPLICATE_API_TOKEN or the engine's api_key_env"
        )
        assert local.unavailable_reason() is None
    finally:
        for made in (keyless, local):
            await made.close()


async def test_the_token_is_sent_but_never_told(
    fake: FakeReplicate, provider: ReplicateProvider, caplog: pytest.LogCaptureFixture
) -> None:
    for name in (None, "httpx", "httpcore", "creatix"):
        caplog.set_level(logging.DEBUG, logger=name)
    fake.fail(GET, Fault(status=500), Fault(status=429, headers={"Retry-After": "0"}))
    messages = []

    await generate(provider, spec(n=2))
    for prompt in ("fake:fail", "fake:invalid", "fake:missing", "fake:malformed"):
        with pytest.raises((ProviderFailed, ProviderRejected, ProviderOutage)) as caught:
            await generate(provider, spec(prompt))
        messages.append(str(caught.value))
    fake.polls_to_finish = FOREVER
    task = asyncio.create_task(generate(provider, spec()))
    # Polled, so the prediction was created: a cancel has an id to go to.
    await fake.polled(GET, times=len(fake.calls(GET)) + 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert {r.headers.get("authorization") for r in fake.calls(GET)} == {f"Bearer {TOKEN}"}
    assert len(fake.calls(CANCEL)) == 1
    assert any("[redacted]" in message for message in messages)
    assert not [message for message in messages if TOKEN in message]
    assert any(r.name.startswith("httpcore") for r in caplog.records)
    assert not [r for r in caplog.records if TOKEN in r.getMessage() or TOKEN in repr(vars(r))]
