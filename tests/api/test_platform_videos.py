"""The platform API's video side through a real HTTP client against a real server: the video
models, image-to-video from one's own completed generation, polling, the MP4 probed with
PyAV, credits reserved and settled (or refunded), and every refusal a 4xx that charges
nothing."""

from __future__ import annotations

import hashlib
import io
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from PIL import Image

from creatix.api.platform import video_size
from creatix.catalog.loader import load_catalog
from creatix.jobs.specs import JobKind, StoredOutput
from support import LiveServer, make_settings

API = "/api/platform"
CATALOG = load_catalog(None)
VIDEO_MODELS = [m for m in CATALOG.models if m.kind == JobKind.VIDEO]

FAST = "kling-v2.5-turbo"  # 3 s for 120 credits, no audio
FAST_PRICE = 120
AUDIO = "kling-v3-pro"  # 5 s for 500 credits, with audio

VIDEO_FIELDS = {
    "id",
    "status",
    "progress",
    "prompt",
    "video_url",
    "thumbnail_url",
    "model_id",
    "duration_seconds",
    "resolution",
    "width",
    "height",
    "created_at",
    "completed_at",
    "error",
}


# -- helpers ---------------------------------------------------------------------------------


def _image(client: httpx.Client, aspect_ratio: str = "16:9", **fields: Any) -> str:
    """A completed image generation's id (creatix-flash: free)."""
    body = {
        "prompt": "a red sneaker on a white table",
        "modelId": "creatix-flash",
        "aspectRatio": aspect_ratio,
        **fields,
    }
    response = client.post(f"{API}/generate", json=body)
    assert response.status_code == 202, response.text
    generation_id = str(response.json()["id"])
    deadline = time.monotonic() + 30
    while True:
        generation = client.get(f"{API}/generations/{generation_id}").json()["generation"]
        if generation["status"] != "processing":
            assert generation["status"] == "completed", generation
            return generation_id
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _start(client: httpx.Client, source: str, **fields: Any) -> httpx.Response:
    body = {
        "sourceGenerationId": source,
        "prompt": "Smooth camera orbit around the product",
        "modelId": FAST,
        "durationSeconds": 3,
        **fields,
    }
    return client.post(f"{API}/videos", json=body)


def _video_id(client: httpx.Client, source: str, **fields: Any) -> str:
    response = _start(client, source, **fields)
    assert response.status_code == 202, response.text
    accepted = response.json()
    assert set(accepted) == {"id", "status"}
    assert accepted["status"] == "processing"
    return str(accepted["id"])


def _poll(client: httpx.Client, video_id: str, timeout: float = 60) -> dict[str, Any]:
    """The video once it is no longer processing."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"{API}/videos/{video_id}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"video"}
        video: dict[str, Any] = body["video"]
        assert set(video) == VIDEO_FIELDS
        if video["status"] != "processing":
            return video
        assert video["video_url"] is None
        assert time.monotonic() < deadline, f"still processing after {timeout}s"
        time.sleep(0.1)


@dataclass(frozen=True)
class Probe:
    codec: str
    width: int
    height: int
    fps: float
    duration: float
    frames: int
    audio_streams: int


def _probe(url: str) -> Probe:
    """The MP4 at ``url``, downloaded and probed with PyAV (every frame decoded)."""
    response = httpx.get(url, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(response.content), mode="r") as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        assert stream.duration is not None
        duration = float(stream.duration * stream.time_base)
        rate = stream.average_rate
        assert rate is not None
        codec = stream.codec_context.name
        width, height = stream.codec_context.width, stream.codec_context.height
        audio = len(container.streams.audio)
        frames = sum(1 for _ in container.decode(video=0))
    return Probe(codec, width, height, float(rate), duration, frames, audio)


def _assert_video(probe: Probe, *, seconds: int, size: tuple[int, int], audio: bool) -> None:
    assert probe.codec == "h264"
    assert (probe.width, probe.height) == size
    assert abs(probe.duration - seconds) <= 1 / probe.fps + 1e-6, probe
    assert abs(probe.frames - seconds * probe.fps) <= 1, probe
    assert probe.audio_streams == (1 if audio else 0)


def _assert_jpeg(url: str, size: tuple[int, int]) -> None:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200
    assert response.content.startswith(b"\xff\xd8\xff")
    with Image.open(io.BytesIO(response.content)) as image:
        assert image.format == "JPEG"
        assert image.size == size


def _assert_error(response: httpx.Response, status: int, param: str | None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["message"]
    assert error.get("param") == param, error
    return error


@pytest.fixture
def funded(server: LiveServer) -> Iterator[tuple[str, httpx.Client]]:
    """A fresh account with 5000 credits, and a client with its key."""
    name, secret = server.funded_account(credits=5000)
    with server.client(secret) as client:
        yield name, client


# -- the video models ------------------------------------------------------------------------


def test_video_models_are_the_catalogs(funded: tuple[str, httpx.Client]) -> None:
    _, client = funded
    response = client.get(f"{API}/video-models")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"models"}
    assert [m["id"] for m in body["models"]] == [m.id for m in VIDEO_MODELS]
    for shown, entry in zip(body["models"], VIDEO_MODELS, strict=True):
        options = entry.video
        assert options is not None
        assert shown == {
            "id": entry.id,
            "displayName": entry.display_name,
            "durations": options.durations,
            "credits": {str(d): price for d, price in options.credits_by_duration.items()},
            "resolutions": ["720p", "1080p"],
            "supportsAudio": options.supports_audio,
            "supportsNegativePrompt": options.supports_negative_prompt,
            "supportsCfgScale": options.supports_cfg_scale,
        }
    by_id = {m["id"]: m for m in body["models"]}
    assert by_id[FAST]["durations"] == [3, 5, 10]
    assert by_id[FAST]["credits"] == {"3": 120, "5": 200, "10": 400}
    assert by_id["kling-v3-pro"]["supportsAudio"] is True
    assert by_id["kling-video/v1.6/pro/image-to-video"]["credits"] == {"5": 350, "10": 700}
    # The image models list is unchanged: no video model in it.
    image_ids = {m["id"] for m in client.get(f"{API}/models").json()["models"]}
    assert not image_ids & set(by_id)


def test_video_size_keeps_the_aspect_ratio_with_an_even_short_side() -> None:
    assert video_size(1344, 768, 720) == (1260, 720)
    assert video_size(768, 1344, 1080) == (1080, 1890)
    assert video_size(1024, 1024, 720) == (720, 720)
    assert video_size(1000, 700, 720) == (1028, 720)  # 1028.57 → 1028
    assert video_size(701, 1000, 720) == (720, 1028)  # 1027.10 → 1028
    for width, height in [(1152, 896), (333, 777), (2048, 512), (5, 3)]:
        for side in (720, 1080):
            made = video_size(width, height, side)
            assert min(made) == side
            assert all(s % 2 == 0 for s in made)
            assert abs(made[0] / made[1] - width / height) < 2 / side


# -- end to end ------------------------------------------------------------------------------


def test_a_video_of_ones_own_generation(
    server: LiveServer, funded: tuple[str, httpx.Client]
) -> None:
    name, client = funded
    source = _image(client, "16:9")  # 1344×768
    before = server.balance(name)
    video_id = _video_id(client, source, resolution="720p", movementAmplitude="small")
    assert server.balance(name) == before - FAST_PRICE  # reserved at once

    video = _poll(client, video_id)
    assert video["status"] == "completed", video
    assert video["id"] == video_id
    assert video["model_id"] == FAST
    assert video["duration_seconds"] == 3
    assert video["prompt"] == "Smooth camera orbit around the product"
    assert (video["resolution"], video["width"], video["height"]) == ("720p", 1260, 720)
    assert video["progress"] == 100
    assert video["error"] is None
    assert datetime.fromisoformat(video["completed_at"]) >= datetime.fromisoformat(
        video["created_at"]
    )
    assert video["video_url"].startswith(server.url + "/files/")
    assert video["thumbnail_url"].startswith(server.url + "/files/")

    _assert_video(_probe(video["video_url"]), seconds=3, size=(1260, 720), audio=False)
    _assert_jpeg(video["thumbnail_url"], (1260, 720))

    # Settled at the duration's price: the reservation became the charge.
    assert server.balance(name) == before - FAST_PRICE
    assert server.ledger_kinds(name) == ["charge", "grant", "refund", "reserve"]
    credits = client.get(f"{API}/credits").json()
    assert credits["lifetimeUsed"] == FAST_PRICE

    # Listed, and only as a video.
    listed = client.get(f"{API}/videos").json()
    assert [v["id"] for v in listed] == [video_id]
    assert listed[0] == video | {
        "video_url": listed[0]["video_url"],
        "thumbnail_url": listed[0]["thumbnail_url"],
    }
    _assert_error(client.get(f"{API}/generations/{video_id}"), 404, None)
    assert [g["id"] for g in client.get(f"{API}/generations").json()] == [source]


def test_generate_audio_and_bgm_give_the_video_an_audio_track(
    server: LiveServer, funded: tuple[str, httpx.Client]
) -> None:
    name, client = funded
    source = _image(client, "1:1")
    before = server.balance(name)
    with_audio = _video_id(client, source, modelId=AUDIO, durationSeconds=5, generateAudio=True)
    with_music = _video_id(client, source, bgm=True, negativePrompt="blur", cfgScale=0.5)
    silent = _video_id(client, source, modelId=AUDIO, durationSeconds=5, generateAudio=False)
    expected = [(with_audio, 5, True), (with_music, 3, True), (silent, 5, False)]
    for video_id, seconds, audio in expected:
        video = _poll(client, video_id)
        assert video["status"] == "completed", video
        _assert_video(_probe(video["video_url"]), seconds=seconds, size=(720, 720), audio=audio)
    assert server.balance(name) == before - 500 - FAST_PRICE - 500


def test_a_failed_video_is_refunded(server: LiveServer, funded: tuple[str, httpx.Client]) -> None:
    name, client = funded
    source = _image(client)
    assert server.runtime is not None
    [image] = server.call(server.runtime.jobs.get(source)).assets
    server.call(server.runtime.storage.delete(image.storage_key))  # the record stays
    before = server.balance(name)
    video = _poll(client, _video_id(client, source))
    assert video["status"] == "failed"
    assert video["error"] == "The source image is gone."
    assert video["video_url"] is None
    assert video["thumbnail_url"] is None
    assert video["completed_at"] is not None
    assert server.balance(name) == before
    assert server.ledger_kinds(name) == ["grant", "refund", "reserve"]


def test_the_same_idempotency_key_starts_one_video(
    server: LiveServer, funded: tuple[str, httpx.Client]
) -> None:
    name, client = funded
    source = _image(client)
    before = server.balance(name)
    headers = {"Idempotency-Key": f"video-{uuid.uuid4().hex}"}
    body = {"sourceGenerationId": source, "prompt": "a slow zoom", "modelId": FAST}
    first = client.post(f"{API}/videos", json={**body, "durationSeconds": 3}, headers=headers)
    again = client.post(f"{API}/videos", json={**body, "durationSeconds": 3}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    other = client.post(f"{API}/videos", json={**body, "durationSeconds": 5}, headers=headers)
    assert _assert_error(other, 409, None)["code"] == "idempotency_key_reused"
    assert _poll(client, first.json()["id"])["status"] == "completed"
    assert server.balance(name) == before - FAST_PRICE


# -- refusals: 4xx, nothing charged ----------------------------------------------------------


@pytest.fixture(scope="module")
def source_of(server: LiveServer) -> tuple[str, str]:
    """A funded account's name and key, with a completed image generation: (key, source id)."""
    _, secret = server.funded_account(credits=5000)
    with server.client(secret) as client:
        return secret, _image(client)


@pytest.mark.parametrize(
    ("change", "param", "code"),
    [
        ({"durationSeconds": 4}, "durationSeconds", "invalid_value"),  # not one of 3, 5, 10
        ({"modelId": "kling-v3-pro", "durationSeconds": 3}, "durationSeconds", "invalid_value"),
        ({"durationSeconds": 1}, "durationSeconds", "invalid_value"),
        ({"durationSeconds": 16}, "durationSeconds", "invalid_value"),
        ({"durationSeconds": "3"}, "durationSeconds", "invalid_value"),
        ({"durationSeconds": 3.5}, "durationSeconds", "invalid_value"),
        ({"durationSeconds": None}, "durationSeconds", "missing_parameter"),
        ({"modelId": "kling-v9"}, "modelId", "model_not_found"),
        ({"modelId": "creatix-flash"}, "modelId", "model_not_found"),  # an image model
        ({"cfgScale": 2}, "cfgScale", "invalid_value"),
        ({"cfgScale": -0.1}, "cfgScale", "invalid_value"),
        ({"cfgScale": "0.5"}, "cfgScale", "invalid_value"),
        ({"generateAudio": True}, "generateAudio", "unsupported_parameter"),
        ({"generateAudio": "yes"}, "generateAudio", "invalid_value"),
        ({"bgm": 1}, "bgm", "invalid_value"),
        ({"movementAmplitude": "huge"}, "movementAmplitude", "invalid_value"),
        ({"resolution": "4k"}, "resolution", "invalid_value"),
        ({"negativePrompt": "n" * 2501}, "negativePrompt", "invalid_value"),
        ({"prompt": "ab"}, "prompt", "invalid_value"),
        ({"prompt": "     "}, "prompt", "invalid_value"),
        ({"prompt": "x" * 1001}, "prompt", "invalid_value"),
        ({"sourceGenerationId": None}, "sourceGenerationId", "missing_parameter"),
        ({"duration_seconds": 3}, "duration_seconds", "unknown_parameter"),
        ({"seed": 1}, "seed", "unknown_parameter"),
    ],
)
def test_bad_fields_are_a_400_naming_the_field(
    server: LiveServer, source_of: tuple[str, str], change: dict[str, Any], param: str, code: str
) -> None:
    secret, source = source_of
    body = {
        "sourceGenerationId": source,
        "prompt": "a slow zoom",
        "modelId": FAST,
        "durationSeconds": 3,
        **change,
    }
    body = {key: value for key, value in body.items() if value is not None}
    with server.client(secret) as client:
        before = client.get(f"{API}/credits").json()["balance"]
        videos = client.get(f"{API}/videos").json()
        error = _assert_error(client.post(f"{API}/videos", json=body), 400, param)
        assert error["code"] == code
        assert client.get(f"{API}/credits").json()["balance"] == before
        assert len(client.get(f"{API}/videos").json()) == len(videos)


def test_the_limits_at_the_edges_are_accepted(
    server: LiveServer, funded: tuple[str, httpx.Client]
) -> None:
    name, client = funded
    source = _image(client)
    before = server.balance(name)
    response = _start(
        client,
        source,
        prompt="p" * 1000,
        negativePrompt="n" * 2500,
        cfgScale=1,
        movementAmplitude="large",
        bgm=False,
        generateAudio=False,
    )
    assert response.status_code == 202, response.text
    assert _poll(client, response.json()["id"])["status"] == "completed"
    assert server.balance(name) == before - FAST_PRICE


def test_a_source_too_tall_for_the_engine_is_a_400_naming_resolution(
    server: LiveServer, funded: tuple[str, httpx.Client]
) -> None:
    name, client = funded
    banner = _image(client, "1:4")  # 512×2048: at 720p the video would be 720×2880
    before = server.balance(name)
    error = _assert_error(_start(client, banner), 400, "resolution")
    assert "720×2880" in error["message"]
    assert server.balance(name) == before
    assert client.get(f"{API}/videos").json() == []


def test_an_unknown_or_another_accounts_generation_is_a_400(
    server: LiveServer, source_of: tuple[str, str]
) -> None:
    _, source = source_of
    name, secret = server.funded_account(credits=5000)
    with server.client(secret) as stranger:
        for unknown in (source, "job_doesnotexist", "a1b2c3d4-e5f6-7890-abcd-ef1234567890"):
            error = _assert_error(_start(stranger, unknown), 400, "sourceGenerationId")
            assert error["code"] == "source_not_found"
            assert unknown in error["message"]
        # A video is not an image generation either.
        own = _image(stranger)
        video_id = _video_id(stranger, own)
        error = _assert_error(_start(stranger, video_id), 400, "sourceGenerationId")
        assert error["code"] == "source_not_found"
        _poll(stranger, video_id)
        # A deleted generation is gone as a source too.
        assert stranger.delete(f"{API}/generations/{own}").status_code == 200
        _assert_error(_start(stranger, own), 400, "sourceGenerationId")
    assert server.balance(name) == 5000 - FAST_PRICE  # the one video made


def test_a_failed_generation_is_no_source(server: LiveServer) -> None:
    name, secret = server.funded_account(credits=5000)
    with server.client(secret) as client:
        # creatix-pro with an upload whose file is gone: the image generation fails.
        uploaded = client.post(
            f"{API}/upload", files={"file": ("p.png", _png(), "image/png")}
        ).json()["path"]
        assert server.runtime is not None
        server.call(server.runtime.storage.delete(uploaded))
        response = client.post(
            f"{API}/generate",
            json={"prompt": "a lamp", "modelId": "creatix-pro", "inputImagePath": uploaded},
        )
        failed = response.json()["id"]
        deadline = time.monotonic() + 30
        while client.get(f"{API}/generations/{failed}").json()["generation"]["status"] != "failed":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        error = _assert_error(_start(client, failed), 400, "sourceGenerationId")
        assert error["code"] == "source_failed"
        assert client.get(f"{API}/videos").json() == []
    assert server.balance(name) == 5000


def _png(size: tuple[int, int] = (64, 64)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 60)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_videos_are_the_accounts_own(server: LiveServer, source_of: tuple[str, str]) -> None:
    secret, source = source_of
    with server.client(secret) as owner:
        video_id = _video_id(owner, source)
        video = _poll(owner, video_id)
    with server.client(server.funded_account()[1]) as stranger:
        for path in (f"{API}/videos/{video_id}", f"{API}/videos/{source}", f"{API}/videos/x"):
            error = _assert_error(stranger.get(path), 404, None)
            assert error["code"] == "not_found"
        assert stranger.get(f"{API}/videos").json() == []
    with server.client(secret) as owner:
        _assert_error(owner.get(f"{API}/videos/{source}"), 404, None)  # an image, not a video
        assert owner.get(f"{API}/videos/{video_id}").json()["video"]["id"] == video["id"]


# -- while processing (no worker) ------------------------------------------------------------


def _complete_by_hand(idle: LiveServer, generation_id: str, size: tuple[int, int]) -> None:
    """Play the worker for one queued image job: claim it and complete it with a PNG."""
    runtime = idle.runtime
    assert runtime is not None
    claim = idle.call(runtime.jobs.lifecycle.claim("hand"))
    assert [job.id for job in claim.jobs] == [generation_id]
    data = _png(size)
    key = f"images/hand/{generation_id}.png"
    idle.call(runtime.storage.put(key, data, "image/png"))
    output = StoredOutput(
        kind="image",
        storage_key=key,
        mime_type="image/png",
        size_bytes=len(data),
        checksum="sha256:" + hashlib.sha256(data).hexdigest(),
        width=size[0],
        height=size[1],
    )
    assert idle.call(runtime.jobs.lifecycle.complete(generation_id, "hand", [output], 0.1))


def test_a_processing_source_is_refused_and_a_queued_video_is_processing(tmp_path: Path) -> None:
    idle = LiveServer(make_settings(tmp_path, run_worker=False)).start()
    try:
        name, secret = idle.funded_account(credits=5000)
        with idle.client(secret) as client:
            response = client.post(
                f"{API}/generate",
                json={"prompt": "a tall vase", "modelId": "creatix-flash", "aspectRatio": "9:16"},
            )
            generation_id = response.json()["id"]
            error = _assert_error(_start(client, generation_id), 400, "sourceGenerationId")
            assert error["code"] == "source_not_ready"
            assert "processing" in error["message"]
            assert idle.balance(name) == 5000

            _complete_by_hand(idle, generation_id, (768, 1344))
            video_id = _video_id(client, generation_id, resolution="1080p")
            assert idle.balance(name) == 5000 - FAST_PRICE
            video = client.get(f"{API}/videos/{video_id}").json()["video"]
            assert video["status"] == "processing"
            assert (video["resolution"], video["width"], video["height"]) == ("1080p", 1080, 1890)
            assert video["video_url"] is None
            assert video["thumbnail_url"] is None
            assert video["completed_at"] is None
            assert video["error"] is None
            assert video["progress"] == 0
            assert [v["id"] for v in client.get(f"{API}/videos").json()] == [video_id]
    finally:
        idle.stop()
