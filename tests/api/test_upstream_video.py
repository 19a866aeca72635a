"""Upstream image-to-video end to end: a real Creatix server whose catalog routes a video model
to fal (falling back to Replicate), both fakes on loopback. A platform image generation (the
preview engine) is animated through ``POST /api/platform/videos``: the provider gets the
image, the MP4 it made is stored and served (probed with PyAV), the price is charged; a fal
outage is served by Replicate; a refusal fails the video refunded."""

from __future__ import annotations

import base64
import io
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
import yaml
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from creatix.jobs.models import JobRow
from fakes.fal import VIDEO_FPS, VIDEO_SECONDS, VIDEO_SIZE, FakeFal
from fakes.replicate import FakeReplicate
from fakes.server import Fault, json_of
from support import LiveServer, make_settings

FAL_KEY = "fal-key-for-tests"
REPLICATE_TOKEN = "r8_token_for_tests"
FAL_MODEL = "fal-ai/kling-video/v2/master/image-to-video"
FAL_SUBMIT = f"^/{FAL_MODEL}$"
REPLICATE_MODEL = "kwaivgi/kling-v2.1"
REPLICATE_CREATE = f"^/v1/models/{REPLICATE_MODEL}/predictions$"
PRICE = 500
FAST = {
    "attempts": 2,
    "retry_base_delay": 0.01,
    "retry_max_delay": 0.05,
    "poll_interval_seconds": 0.02,
    "timeout_seconds": 5.0,
    "max_wait_seconds": 30.0,
}
API = "/api/platform"


def _catalog(path: Path) -> Path:
    catalog = {
        "extends": "shipped",
        "engines": {
            "preview": {"type": "preview"},
            "fal": {"type": "fal", "options": FAST},
            "replicate": {"type": "replicate", "options": FAST},
        },
        "models": [
            {
                "id": "creatix-flash",
                "engine": "preview",
                "display_name": "Creatix Flash",
                "credits_per_image": 0,
            },
            {
                "id": "kling-v3-pro",
                "kind": "video",
                "engine": "fal",
                "engine_model": FAL_MODEL,
                "display_name": "Kling 3 Pro",
                "video": {"credits_by_duration": {5: PRICE}, "supports_audio": True},
                "fallbacks": [{"engine": "replicate", "engine_model": REPLICATE_MODEL}],
            },
        ],
    }
    path.write_text(yaml.safe_dump(catalog))
    return path


@pytest.fixture(scope="module")
def providers() -> Iterator[tuple[FakeFal, FakeReplicate]]:
    with FakeFal(key=FAL_KEY) as fal, FakeReplicate(token=REPLICATE_TOKEN) as replicate:
        yield fal, replicate


@pytest.fixture(scope="module")
def server(
    providers: tuple[FakeFal, FakeReplicate], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    fal, replicate = providers
    tmp = tmp_path_factory.mktemp("upstream-video")
    settings = make_settings(
        tmp / "data",
        catalog=_catalog(tmp / "catalog.yaml"),
        fal_key=FAL_KEY,
        fal_base_url=fal.url,
        replicate_api_token=REPLICATE_TOKEN,
        replicate_base_url=replicate.api,
        max_attempts=1,
    )
    live = LiveServer(settings).start()
    yield live
    live.stop()


@pytest.fixture(autouse=True)
def _fresh(providers: tuple[FakeFal, FakeReplicate]) -> None:
    for fake in providers:
        fake.reset()


def _until_done(client: httpx.Client, path: str, key: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(path)
        assert response.status_code == 200, response.text
        item: dict[str, Any] = response.json()[key]
        if item["status"] != "processing":
            return item
        assert time.monotonic() < deadline, f"still processing after {timeout}s"
        time.sleep(0.05)


def _source(client: httpx.Client) -> str:
    """A completed 16:9 image generation of the preview engine (1344×768)."""
    started = client.post(
        f"{API}/generate",
        json={
            "prompt": "a perfume bottle on marble",
            "modelId": "creatix-flash",
            "aspectRatio": "16:9",
        },
    )
    assert started.status_code == 202, started.text
    generation = _until_done(client, f"{API}/generations/{started.json()['id']}", "generation")
    assert generation["status"] == "completed", generation
    return str(started.json()["id"])


def _video(client: httpx.Client, source: str, **fields: Any) -> dict[str, Any]:
    body = {
        "sourceGenerationId": source,
        "prompt": "slow orbit around the bottle",
        "modelId": "kling-v3-pro",
        "durationSeconds": 5,
        **fields,
    }
    started = client.post(f"{API}/videos", json=body)
    assert started.status_code == 202, started.text
    return _until_done(client, f"{API}/videos/{started.json()['id']}", "video")


def _probe(url: str) -> dict[str, Any]:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(response.content)) as container:
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


def _thumbnail_size(url: str) -> tuple[int, int]:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200
    with Image.open(io.BytesIO(response.content)) as thumbnail:
        assert thumbnail.format == "JPEG"
        return thumbnail.size


def _job_row(server: LiveServer, job_id: str) -> JobRow:
    assert server.runtime is not None

    def read(session: Session) -> JobRow:
        row = session.execute(select(JobRow).where(JobRow.id == job_id)).scalar_one()
        session.expunge(row)
        return row

    return server.call(server.runtime.db.read(read))


def test_a_generation_is_animated_by_fal_and_charged(
    server: LiveServer, providers: tuple[FakeFal, FakeReplicate], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fal, replicate = providers
    name, key = server.funded_account(credits=PRICE)
    with server.client(key) as client:
        video = _video(
            client, _source(client), generateAudio=True, negativePrompt="blur", cfgScale=0.5
        )

    assert video["status"] == "completed", video
    assert video["progress"] == 100
    assert _probe(video["video_url"]) == {
        "codec": "h264",
        "size": VIDEO_SIZE,  # as fal made it: not re-encoded to the asked 1260×720
        "duration": VIDEO_SECONDS,
        "frames": VIDEO_SECONDS * VIDEO_FPS,
        "audio": 1,
    }
    assert _thumbnail_size(video["thumbnail_url"]) == VIDEO_SIZE
    assert server.balance(name) == 0
    assert server.ledger_kinds(name) == ["charge", "grant", "refund", "reserve"]

    [submit] = fal.calls(FAL_SUBMIT, "POST")
    assert submit.headers["authorization"] == f"Key {FAL_KEY}"
    body = json_of(submit)
    image_url = body.pop("image_url")
    assert body == {
        "prompt": "slow orbit around the bottle",
        "duration": "5",
        "aspect_ratio": "16:9",
        "negative_prompt": "blur",
        "cfg_scale": 0.5,
        "generate_audio": True,
    }
    assert image_url.startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(image_url.split(",", 1)[1]))) as sent:
        assert sent.size == (1344, 768)  # the generation's image, as stored
    assert replicate.requests == []
    assert _job_row(server, video["id"]).engine == "fal"
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert FAL_KEY not in logged


def test_a_fal_outage_is_served_by_replicate(
    server: LiveServer, providers: tuple[FakeFal, FakeReplicate]
) -> None:
    fal, replicate = providers
    fal.fail(FAL_SUBMIT, Fault(500), Fault(500))
    name, key = server.funded_account(credits=PRICE)
    with server.client(key) as client:
        video = _video(client, _source(client))

    assert video["status"] == "completed", video
    probed = _probe(video["video_url"])
    assert (probed["codec"], probed["size"], probed["audio"]) == ("h264", VIDEO_SIZE, 0)
    assert server.balance(name) == 0
    assert len(fal.calls(FAL_SUBMIT, "POST")) == 2, "both attempts at fal"
    [create] = replicate.calls(REPLICATE_CREATE, "POST")
    assert create.headers["authorization"] == f"Bearer {REPLICATE_TOKEN}"
    sent = json_of(create)["input"]
    assert sent["start_image"].startswith("data:image/png;base64,")
    assert (sent["duration"], sent["aspect_ratio"]) == (5, "16:9")
    assert _job_row(server, video["id"]).engine == "replicate", "the route that served"


def test_a_refused_video_fails_refunded_without_falling_back(
    server: LiveServer, providers: tuple[FakeFal, FakeReplicate]
) -> None:
    fal, replicate = providers
    name, key = server.funded_account(credits=PRICE)
    with server.client(key) as client:
        source = _source(client)
        video = _video(client, source, prompt="fake:invalid motion")

    assert video["status"] == "failed", video
    assert video["video_url"] is None
    assert video["error"].startswith("The model's provider rejected the request")
    assert server.balance(name) == PRICE
    assert server.ledger_kinds(name) == ["grant", "refund", "reserve"]
    assert len(fal.calls(FAL_SUBMIT, "POST")) == 1
    assert replicate.requests == [], "a refusal is not an outage"
