"""Image-to-video through ``UpstreamEngine.generate_video`` over real HTTP, against the fake fal
queue API and the fake Replicate predictions API: what each provider is sent, the MP4 streamed
into the work directory and probed with PyAV, the thumbnail, the poll life cycle, failures
mapped, cancellation upstream, and the key never told."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import pytest
import pytest_asyncio
from PIL import Image

from creatix.engines.base import (
    EngineError,
    EngineParams,
    ProgressCallback,
    VideoEngine,
    VideoOutput,
)
from creatix.engines.upstream import (
    ProviderAccess,
    ProviderFailed,
    ProviderOutage,
    ProviderRejected,
    UpstreamEngine,
    UpstreamOptions,
)
from creatix.engines.upstream.fal import FalProvider
from creatix.engines.upstream.gemini import GeminiProvider
from creatix.engines.upstream.openai import OpenAIProvider
from creatix.engines.upstream.replicate import ReplicateProvider
from creatix.engines.upstream.video import VideoProvider, aspect_ratio
from creatix.jobs.specs import VideoSpec
from fakes.fal import FOREVER, VIDEO_COLOUR, VIDEO_FPS, VIDEO_SECONDS, VIDEO_SIZE, FakeFal
from fakes.replicate import FakeReplicate
from fakes.server import Fault, json_of

FAL_KEY = "fal-key-for-tests"
REPLICATE_TOKEN = "r8_token_for_tests"
FAL_MODEL = "fal-ai/kling-video/v2/master/image-to-video"
REPLICATE_MODEL = "kwaivgi/kling-v2.1"
OPTIONS = UpstreamOptions(
    poll_interval_seconds=0.02,
    retry_base_delay=0.01,
    retry_max_delay=0.05,
    timeout_seconds=10,
    max_wait_seconds=7,
)
SOURCE_COLOUR = (10, 120, 240)

# The tests share the module's event loop, with its fake servers and providers.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@dataclass(frozen=True)
class Side:
    """One provider under test: its fake, its provider, and the fake's paths."""

    name: str
    fake: FakeFal | FakeReplicate
    provider: FalProvider | ReplicateProvider
    model: str
    key: str
    submit: str
    poll: str
    cancel: str

    def submitted(self) -> dict[str, Any]:
        """The model input of the one submit call."""
        [call] = self.fake.calls(self.submit, "POST")
        body: dict[str, Any] = json_of(call)
        return body if self.name == "fal" else body["input"]


@pytest.fixture(scope="module")
def fal_server() -> Iterator[FakeFal]:
    with FakeFal(key=FAL_KEY) as server:
        yield server


@pytest.fixture(scope="module")
def replicate_server() -> Iterator[FakeReplicate]:
    with FakeReplicate(token=REPLICATE_TOKEN) as server:
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def providers(
    fal_server: FakeFal, replicate_server: FakeReplicate
) -> AsyncIterator[dict[str, Side]]:
    fal = FalProvider(OPTIONS, ProviderAccess(base_url=fal_server.url, api_key=FAL_KEY))
    replicate = ReplicateProvider(
        OPTIONS, ProviderAccess(base_url=replicate_server.api, api_key=REPLICATE_TOKEN)
    )
    yield {
        "fal": Side(
            "fal",
            fal_server,
            fal,
            FAL_MODEL,
            FAL_KEY,
            submit=rf"^/{FAL_MODEL}$",
            poll=r"/requests/[^/]+/status$",
            cancel=r"/requests/[^/]+/cancel$",
        ),
        "replicate": Side(
            "replicate",
            replicate_server,
            replicate,
            REPLICATE_MODEL,
            REPLICATE_TOKEN,
            submit=rf"^/v1/models/{REPLICATE_MODEL}/predictions$",
            poll=r"^/v1/predictions/[^/]+$",
            cancel=r"^/v1/predictions/[^/]+/cancel$",
        ),
    }
    await fal.close()
    await replicate.close()


@pytest.fixture(params=["fal", "replicate"])
def side(request: pytest.FixtureRequest, providers: dict[str, Side]) -> Side:
    chosen = providers[request.param]
    chosen.fake.reset()
    return chosen


@pytest.fixture
def fal(providers: dict[str, Side]) -> Side:
    providers["fal"].fake.reset()
    return providers["fal"]


@pytest.fixture
def replicate(providers: dict[str, Side]) -> Side:
    providers["replicate"].fake.reset()
    return providers["replicate"]


def video_spec(prompt: str = "a slow orbit around the bottle", **fields: Any) -> VideoSpec:
    values: dict[str, Any] = {
        "source_image": "images/acct/source.png",
        "duration_seconds": 5,
        "width": 1260,
        "height": 720,
        "seed": 7,
    } | fields
    return VideoSpec(prompt=prompt, **values)


def source_image() -> Image.Image:
    return Image.new("RGB", (32, 18), SOURCE_COLOUR)


async def animate(
    side: Side,
    workdir: Path,
    spec: VideoSpec | None = None,
    *,
    params: EngineParams | None = None,
    progress: ProgressCallback | None = None,
) -> VideoOutput:
    engine = UpstreamEngine(side.provider)
    return await engine.generate_video(
        side.model,
        spec or video_spec(),
        source_image(),
        workdir,
        progress=progress,
        params=params,
    )


def sent_image(uri: str) -> Image.Image:
    assert uri.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert image.format == "PNG"
    return image


def listed(directory: Path) -> list[Path]:
    return sorted(directory.iterdir())


def probe(path: Path) -> dict[str, Any]:
    """The MP4 at ``path``, every frame decoded with PyAV."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.duration is not None
        assert stream.time_base is not None
        return {
            "codec": stream.codec_context.name,
            "size": (stream.codec_context.width, stream.codec_context.height),
            "duration": float(stream.duration * stream.time_base),
            "frames": sum(1 for _ in container.decode(video=0)),
            "audio": len(container.streams.audio),
        }


# -- what each provider is sent ----------------------------------------------------------------


async def test_fal_gets_kling_input_with_the_route_params_over_it(
    fal: Side, tmp_path: Path
) -> None:
    spec = video_spec(negative_prompt="blur", cfg_scale=0.6, generate_audio=True)
    await animate(fal, tmp_path, spec, params={"cfg_scale": 0.3, "mode": "pro"})

    body = fal.submitted()
    image = sent_image(body.pop("image_url"))
    assert body == {
        "prompt": "a slow orbit around the bottle",
        "duration": "5",  # fal's Kling takes "5" and "10"
        "aspect_ratio": "16:9",  # 1260×720, snapped
        "negative_prompt": "blur",
        "cfg_scale": 0.3,  # the route's value wins
        "generate_audio": True,
        "mode": "pro",
    }
    assert image.size == (32, 18)
    assert image.convert("RGB").getpixel((5, 5)) == SOURCE_COLOUR


async def test_fal_is_sent_no_optional_field_the_spec_leaves_out(fal: Side, tmp_path: Path) -> None:
    await animate(fal, tmp_path, video_spec(duration_seconds=10, width=720, height=1260))

    body = fal.submitted()
    assert set(body) == {"prompt", "image_url", "duration", "aspect_ratio"}
    assert (body["duration"], body["aspect_ratio"]) == ("10", "9:16")


async def test_replicate_gets_start_image_with_the_route_params_over_it(
    replicate: Side, tmp_path: Path
) -> None:
    spec = video_spec(negative_prompt="blur", cfg_scale=0.6, width=720, height=720)
    await animate(replicate, tmp_path, spec, params={"duration": 10, "mode": "pro"})

    body = replicate.submitted()
    image = sent_image(body.pop("start_image"))
    assert body == {
        "prompt": "a slow orbit around the bottle",
        "duration": 10,  # the route's value wins
        "aspect_ratio": "1:1",
        "negative_prompt": "blur",
        "cfg_scale": 0.6,
        "mode": "pro",
    }
    assert image.convert("RGB").getpixel((5, 5)) == SOURCE_COLOUR


async def test_a_replicate_route_can_rename_the_image_field(
    replicate: Side, tmp_path: Path
) -> None:
    await animate(replicate, tmp_path, params={"image_field": "image"})

    body = replicate.submitted()
    assert "start_image" not in body
    assert "image_field" not in body  # the rename is not sent
    assert sent_image(body["image"]).size == (32, 18)
    assert body["duration"] == 5


async def test_a_fal_route_can_rename_the_image_field(fal: Side, tmp_path: Path) -> None:
    """Kling 3 on fal takes its source as start_image_url."""
    await animate(fal, tmp_path, params={"image_field": "start_image_url"})

    body = fal.submitted()
    assert "image_url" not in body
    assert "image_field" not in body  # the rename is not sent
    assert sent_image(body["start_image_url"]).size == (32, 18)


async def test_replicate_is_asked_for_audio_when_the_spec_asks(
    replicate: Side, tmp_path: Path
) -> None:
    output = await animate(replicate, tmp_path, video_spec(generate_audio=True))

    assert replicate.submitted()["generate_audio"] is True
    assert output.has_audio is True


@pytest.mark.parametrize(
    ("size", "shape"),
    [
        ((1260, 720), "16:9"),
        ((1920, 1080), "16:9"),
        ((2048, 512), "16:9"),
        ((960, 720), "16:9"),  # 4:3: as near 1:1; a landscape stays one
        ((959, 720), "1:1"),
        ((720, 720), "1:1"),
        ((721, 960), "1:1"),
        ((720, 960), "9:16"),
        ((720, 1280), "9:16"),
    ],
)
async def test_sizes_snap_to_the_nearest_provider_shape(size: tuple[int, int], shape: str) -> None:
    assert aspect_ratio(*size) == shape


# -- the video that comes back -----------------------------------------------------------------


async def test_the_video_is_streamed_into_the_workdir_and_probed(
    side: Side, tmp_path: Path
) -> None:
    output = await animate(side, tmp_path)

    assert output.path.parent == tmp_path
    assert output.path.suffix == ".mp4"
    assert listed(tmp_path) == [output.path]
    assert output.path.read_bytes() == side.fake.video
    assert probe(output.path) == {
        "codec": "h264",
        "size": VIDEO_SIZE,
        "duration": VIDEO_SECONDS,
        "frames": VIDEO_SECONDS * VIDEO_FPS,
        "audio": 0,
    }
    # The provider's size is kept (not the asked 1260×720), and reported as it is.
    assert (output.width, output.height) == VIDEO_SIZE
    assert output.duration_seconds == pytest.approx(VIDEO_SECONDS)
    assert output.has_audio is False
    [download] = side.fake.calls(r"^/files/.+\.mp4$", "GET")
    assert download.headers["host"].startswith("localhost:")
    assert "authorization" not in download.headers  # the CDN never sees the key


async def test_the_thumbnail_is_a_jpeg_of_the_first_frame(side: Side, tmp_path: Path) -> None:
    output = await animate(side, tmp_path)

    assert output.thumbnail.startswith(b"\xff\xd8\xff")
    with Image.open(io.BytesIO(output.thumbnail)) as thumbnail:
        assert thumbnail.format == "JPEG"
        assert thumbnail.size == VIDEO_SIZE
        pixel = thumbnail.convert("RGB").getpixel((VIDEO_SIZE[0] - 4, VIDEO_SIZE[1] // 2))
    # The first frame is all VIDEO_COLOUR (later ones wipe to its inverse).
    assert isinstance(pixel, tuple)
    assert all(abs(a - b) <= 12 for a, b in zip(pixel, VIDEO_COLOUR, strict=True)), pixel


async def test_audio_asked_of_fal_comes_back(fal: Side, tmp_path: Path) -> None:
    output = await animate(fal, tmp_path, video_spec(generate_audio=True))

    assert output.has_audio is True
    assert probe(output.path)["audio"] == 1


async def test_a_replicate_route_asking_audio_gets_it(replicate: Side, tmp_path: Path) -> None:
    output = await animate(replicate, tmp_path, params={"generate_audio": True})

    assert output.has_audio is True
    assert replicate.submitted()["generate_audio"] is True


async def test_data_uri_videos_are_decoded_not_fetched(side: Side, tmp_path: Path) -> None:
    if side.name == "fal":
        output = await animate(side, tmp_path, params={"sync_mode": True})
    else:
        output = await animate(side, tmp_path, video_spec("fake:datauri"))

    assert output.path.read_bytes() == side.fake.video
    assert side.fake.calls(r"^/files/") == []


async def test_a_single_url_output_is_read(replicate: Side, tmp_path: Path) -> None:
    output = await animate(replicate, tmp_path, video_spec("fake:single"))

    assert (output.width, output.height) == VIDEO_SIZE


async def test_a_5xx_on_the_file_is_retried(side: Side, tmp_path: Path) -> None:
    side.fake.fail(r"^/files/", Fault(status=503))

    output = await animate(side, tmp_path)

    assert output.path.read_bytes() == side.fake.video
    assert len(side.fake.calls(r"^/files/")) == 2


async def test_a_big_file_is_written_whole_and_only_the_providers_host_gets_the_key(
    fal: Side, tmp_path: Path
) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    fal.fake.files["big.mp4"] = data
    port = fal.fake.url.rsplit(":", 1)[1]

    cdn = await fal.provider.download_to(f"http://localhost:{port}/files/big.mp4", tmp_path / "a")
    own = await fal.provider.download_to(f"{fal.fake.url}/files/big.mp4", tmp_path / "b")

    assert cdn == own == len(data)
    assert (tmp_path / "a").read_bytes() == data
    assert (tmp_path / "b").read_bytes() == data
    cdn_call, own_call = fal.fake.calls(r"^/files/big\.mp4$")
    assert "authorization" not in cdn_call.headers
    assert own_call.headers["authorization"] == f"Key {FAL_KEY}"


# -- the poll life cycle -----------------------------------------------------------------------


async def test_fal_polls_until_completed_and_cancels_nothing(
    fal: Side, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="creatix.engines.upstream.fal")
    await animate(fal, tmp_path)

    polls = fal.fake.calls(fal.poll, "GET")
    assert len(polls) == 3  # IN_QUEUE, IN_PROGRESS, COMPLETED
    # fal's URLs name the app (fal-ai/kling-video), not the model's path
    assert all(r.path.startswith("/fal-ai/kling-video/requests/") for r in polls)
    assert len(fal.fake.calls(r"/requests/[^/]+$", "GET")) == 1
    assert fal.fake.calls(fal.cancel) == []
    queued = [r for r in caplog.records if r.getMessage() == "fal request queued"]
    assert [getattr(r, "queue_position", None) for r in queued] == [3]


async def test_replicate_polls_until_succeeded_with_progress_from_its_logs(
    replicate: Side, tmp_path: Path
) -> None:
    told: list[float] = []
    await animate(replicate, tmp_path, progress=told.append)

    assert told == [0.5, 1.0]
    assert len(replicate.fake.calls(replicate.poll, "GET")) == 2
    assert replicate.fake.calls(replicate.cancel) == []


async def test_a_fast_replicate_prediction_answers_the_create_call(
    replicate: Side, tmp_path: Path
) -> None:
    replicate.fake.polls_to_finish = 0
    output = await animate(replicate, tmp_path)

    assert output.has_audio is False
    assert replicate.fake.calls(replicate.poll) == []


async def test_cancelling_mid_poll_cancels_upstream_exactly_once(
    side: Side, tmp_path: Path
) -> None:
    side.fake.polls_to_finish = FOREVER
    task = asyncio.create_task(animate(side, tmp_path))
    await side.fake.polled(side.poll, times=2)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    [cancel] = side.fake.calls(side.cancel)
    assert cancel.method == ("PUT" if side.name == "fal" else "POST")
    if isinstance(side.fake, FakeFal):
        [job] = side.fake.jobs.values()
        assert job.canceled
    else:
        [prediction] = side.fake.predictions.values()
        assert prediction.status == "canceled"
    assert listed(tmp_path) == []


# -- failures ----------------------------------------------------------------------------------


async def test_a_result_that_404s_is_provider_failed(side: Side, tmp_path: Path) -> None:
    with pytest.raises(ProviderFailed, match=r"file could not be fetched \(HTTP 404\)"):
        await animate(side, tmp_path, video_spec("fake:missing"))

    assert len(side.fake.calls(r"^/files/")) == 1, "a 404 is not retried"
    assert listed(tmp_path) == []


async def test_a_validation_error_is_rejected(side: Side, tmp_path: Path) -> None:
    with pytest.raises(ProviderRejected, match="rejected the request"):
        await animate(side, tmp_path, video_spec("fake:invalid"))

    assert len(side.fake.calls(side.submit, "POST")) == 1
    assert side.fake.calls(r"^/files/") == []


async def test_a_failed_job_is_provider_failed_naming_the_video(side: Side, tmp_path: Path) -> None:
    with pytest.raises(ProviderFailed) as caught:
        await animate(side, tmp_path, video_spec("fake:fail"))

    message = str(caught.value)
    assert message.startswith("The model's provider failed to make the video: CUDA out of memory")
    assert "[redacted]" in message
    assert side.key not in message


async def test_a_result_of_the_wrong_shape_is_an_outage(side: Side, tmp_path: Path) -> None:
    with pytest.raises(ProviderOutage, match="malformed body"):
        await animate(side, tmp_path, video_spec("fake:malformed"))


async def test_a_file_that_does_not_decode_is_an_outage(
    side: Side, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(ProviderOutage, match="unreadable video") as caught:
        await animate(side, tmp_path, video_spec("fake:garbage"))

    assert caught.value.fallback is True  # another route may serve
    assert listed(tmp_path) == []
    assert any(r.getMessage() == "provider returned an unreadable video" for r in caplog.records)


@pytest.mark.parametrize("kind", ["openai", "gemini"])
async def test_an_image_only_provider_has_no_video_models(kind: str, tmp_path: Path) -> None:
    access = ProviderAccess(base_url="http://127.0.0.1:9", api_key="unused")
    provider = (
        OpenAIProvider(OPTIONS, access) if kind == "openai" else GeminiProvider(OPTIONS, access)
    )
    engine = UpstreamEngine(provider)
    try:
        assert not isinstance(provider, VideoProvider)
        with pytest.raises(EngineError, match=r"^This provider has no video models\.$") as caught:
            await engine.generate_video("any-model", video_spec(), source_image(), tmp_path)
    finally:
        await engine.close()

    assert caught.value.code == "unsupported_model"
    assert caught.value.fallback is False
    assert listed(tmp_path) == []


async def test_the_engine_is_a_video_engine_validating_only_the_model_name(
    providers: dict[str, Side],
) -> None:
    for chosen in providers.values():
        assert isinstance(chosen.provider, VideoProvider)
        engine = UpstreamEngine(chosen.provider)
        assert isinstance(engine, VideoEngine)
        engine.validate(chosen.model, video_spec(width=4000, height=8, duration_seconds=99))
        with pytest.raises(EngineError, match="names no provider model"):
            engine.validate("", video_spec())


async def test_the_key_is_sent_but_never_told(
    side: Side, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for name in (None, "httpx", "httpcore", "creatix"):
        caplog.set_level(logging.DEBUG, logger=name)
    side.fake.fail(side.poll, Fault(status=500), Fault(status=429, headers={"Retry-After": "0"}))
    messages = []

    await animate(side, tmp_path)
    for prompt in ("fake:fail", "fake:invalid", "fake:missing", "fake:garbage"):
        with pytest.raises((ProviderFailed, ProviderRejected, ProviderOutage)) as caught:
            await animate(side, tmp_path, video_spec(prompt))
        messages.append(str(caught.value))
    side.fake.polls_to_finish = FOREVER
    task = asyncio.create_task(animate(side, tmp_path))
    await side.fake.polled(side.poll, times=len(side.fake.calls(side.poll)) + 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    authorizations = {r.headers.get("authorization") for r in side.fake.calls(side.poll)}
    assert authorizations == {f"Key {side.key}" if side.name == "fal" else f"Bearer {side.key}"}
    assert any("[redacted]" in message for message in messages)
    assert not [message for message in messages if side.key in message]
    assert any(r.name.startswith("httpcore") for r in caplog.records)
    assert not [
        r for r in caplog.records if side.key in r.getMessage() or side.key in repr(vars(r))
    ]
