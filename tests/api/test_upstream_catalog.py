"""catalogs/providers.yaml itself, end to end: a real server started with it (only its engines'
retry timings shortened, and every provider's base URL moved to a fake on loopback) serves the
reference's video models on fal's Kling, on Replicate's Kling when fal is out, and the text
generator's Gemini models on Gemini, each charged the shipped catalog's price."""

from __future__ import annotations

import io
import math
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from creatix.accounts import service as accounts
from creatix.billing import service as billing
from creatix.catalog.loader import load_catalog
from creatix.jobs.models import JobRow
from fakes.fal import FakeFal
from fakes.gemini import KEY as GEMINI_KEY
from fakes.gemini import FakeGemini
from fakes.openai import KEY as OPENAI_KEY
from fakes.openai import FakeOpenAI
from fakes.replicate import FakeReplicate
from fakes.server import Fault, json_of
from support import LiveServer, make_settings

PROVIDERS_CATALOG = Path(__file__).parents[2] / "catalogs" / "providers.yaml"
FAL_KEY = "fal-key-for-tests"
REPLICATE_TOKEN = "r8_token_for_tests"
FAST = {
    "attempts": 2,
    "retry_base_delay": 0.01,
    "retry_max_delay": 0.05,
    "poll_interval_seconds": 0.02,
    "timeout_seconds": 5.0,
    "max_wait_seconds": 30.0,
}
PLATFORM = "/api/platform"
TEXT = "/api/text_generator"
VIDEO_MODEL = "kling-v3-pro"
FAL_KLING = "fal-ai/kling-video/v3/pro/image-to-video"
REPLICATE_KLING = "kwaivgi/kling-v3-video"
TEXT_MODEL = "gemini-2.5-flash"
SHIPPED = load_catalog()


def _shipped_video_price(model_id: str, seconds: int) -> int:
    model = SHIPPED.model(model_id)
    assert model is not None
    assert model.video is not None
    return model.video.credits_by_duration[seconds]


def _catalog(path: Path) -> Path:
    """providers.yaml with nothing changed but its engines' retry timings (same names, types)."""
    routed = load_catalog(PROVIDERS_CATALOG)
    engines = {
        name: {"type": engine.type, "options": {**engine.options, **FAST}}
        for name, engine in routed.engines.items()
    }
    path.write_text(yaml.safe_dump({"extends": str(PROVIDERS_CATALOG), "engines": engines}))
    return path


Fakes = tuple[FakeFal, FakeReplicate, FakeGemini, FakeOpenAI]


@pytest.fixture(scope="module")
def providers() -> Iterator[Fakes]:
    fakes = (FakeFal(key=FAL_KEY), FakeReplicate(token=REPLICATE_TOKEN), FakeGemini(), FakeOpenAI())
    for fake in fakes:
        fake.start()
    yield fakes
    for fake in fakes:
        fake.stop()


@pytest.fixture(scope="module")
def server(providers: Fakes, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    fal, replicate, gemini, openai = providers
    tmp = tmp_path_factory.mktemp("providers-catalog")
    settings = make_settings(
        tmp / "data",
        catalog=_catalog(tmp / "catalog.yaml"),
        fal_key=FAL_KEY,
        fal_base_url=fal.url,
        replicate_api_token=REPLICATE_TOKEN,
        replicate_base_url=replicate.api,
        gemini_api_key=GEMINI_KEY,
        gemini_base_url=f"{gemini.url}/v1beta",
        openai_api_key=OPENAI_KEY,
        openai_base_url=f"{openai.url}/v1",
        max_attempts=1,
    )
    live = LiveServer(settings).start()
    yield live
    live.stop()


@pytest.fixture(autouse=True)
def _fresh(providers: Fakes) -> None:
    for fake in providers:
        fake.reset()


def test_the_server_lists_every_shipped_model(server: LiveServer) -> None:
    assert server.runtime is not None
    served = {model.id for model in server.runtime.catalog.models}
    assert served == {model.id for model in SHIPPED.models}
    for model in server.runtime.catalog.models:
        assert server.runtime.engines.model_status(model).available, model.id


# -- video: fal, then Replicate ----------------------------------------------------------------


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


def _animate(client: httpx.Client) -> dict[str, Any]:
    """A 16:9 creatix-flash generation (on fal's FLUX schnell), animated by kling-v3-pro for
    5 seconds with audio."""
    started = client.post(
        f"{PLATFORM}/generate",
        json={"prompt": "a perfume bottle", "modelId": "creatix-flash", "aspectRatio": "16:9"},
    )
    assert started.status_code == 202, started.text
    source = started.json()["id"]
    generation = _until_done(client, f"{PLATFORM}/generations/{source}", "generation")
    assert generation["status"] == "completed", generation
    body = {
        "sourceGenerationId": source,
        "prompt": "slow orbit around the bottle",
        "modelId": VIDEO_MODEL,
        "durationSeconds": 5,
        "generateAudio": True,
    }
    video = client.post(f"{PLATFORM}/videos", json=body)
    assert video.status_code == 202, video.text
    return _until_done(client, f"{PLATFORM}/videos/{video.json()['id']}", "video")


def _audio_tracks(url: str) -> int:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200, response.text
    with av.open(io.BytesIO(response.content)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        return len(container.streams.audio)


def _engine_of(server: LiveServer, job_id: str) -> str:
    assert server.runtime is not None

    def read(session: Session) -> str:
        return str(session.execute(select(JobRow.engine).where(JobRow.id == job_id)).scalar_one())

    return server.call(server.runtime.db.read(read))


def test_kling_v3_pro_is_made_by_fals_kling_3_and_charged_the_shipped_price(
    server: LiveServer, providers: Fakes
) -> None:
    fal, replicate, _, _ = providers
    price = _shipped_video_price(VIDEO_MODEL, 5)
    name, key = server.funded_account(credits=price)
    with server.client(key) as client:
        video = _animate(client)

    assert video["status"] == "completed", video
    assert _audio_tracks(video["video_url"]) == 1
    assert server.balance(name) == 0
    [submit] = fal.calls(f"^/{FAL_KLING}$", "POST")
    sent = json_of(submit)
    assert sent["start_image_url"].startswith("data:image/png;base64,")
    assert "image_url" not in sent
    assert "image_field" not in sent
    assert (sent["duration"], sent["generate_audio"]) == ("5", True)
    assert replicate.calls("/predictions", "POST") == []
    assert _engine_of(server, video["id"]) == "fal"


def test_a_fal_outage_is_served_by_replicates_kling_3(server: LiveServer, providers: Fakes) -> None:
    fal, replicate, _, _ = providers
    fal.fail(f"^/{FAL_KLING}$", Fault(503), Fault(503))
    price = _shipped_video_price(VIDEO_MODEL, 5)
    name, key = server.funded_account(credits=price)
    with server.client(key) as client:
        video = _animate(client)

    assert video["status"] == "completed", video
    assert _audio_tracks(video["video_url"]) == 1
    assert server.balance(name) == 0
    assert len(fal.calls(f"^/{FAL_KLING}$", "POST")) == 2, "both attempts at fal"
    [create] = replicate.calls(f"^/v1/models/{REPLICATE_KLING}/predictions$", "POST")
    sent = json_of(create)["input"]
    assert sent["start_image"].startswith("data:image/png;base64,")
    assert (sent["duration"], sent["generate_audio"]) == (5, True)
    assert _engine_of(server, video["id"]) == "replicate"


# -- text: Gemini ------------------------------------------------------------------------------


def _text_credentials(server: LiveServer, credits: int) -> tuple[str, dict[str, str]]:
    assert server.runtime is not None
    db = server.runtime.db
    account = f"pc-{uuid.uuid4().hex[:10]}"
    server.call(accounts.ensure_account(db, account, "paid", "free"))
    server.call(billing.grant(db, account, credits, None))
    key = server.call(accounts.create_key(db, account))
    return account, {"X-API-ID": key.key_id, "X-API-KEY": key.secret}


def test_gemini_2_5_flash_is_answered_by_gemini_and_charged_its_tokens(
    server: LiveServer, providers: Fakes
) -> None:
    gemini = providers[2]
    account, headers = _text_credentials(server, credits=100)
    body = {
        "model_name": TEXT_MODEL,
        "messages": [{"role": "user", "content": "Write a tagline for a coffee shop by the sea."}],
        "config": {"max_output_tokens": 64},
    }
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
        created = client.post(f"{TEXT}/", json=body)
        assert created.status_code in (200, 201, 202), created.text
        task_id = created.json()["id"]
        deadline = time.monotonic() + 30
        while (task := client.get(f"{TEXT}/{task_id}/").json())["status"] in ("pending", "running"):
            assert time.monotonic() < deadline, task
            time.sleep(0.05)

    assert task["status"] == "done", task
    assert task["response_text"] == "echo: Write a tagline for a coffee shop by the sea."
    [call] = gemini.calls(f"/models/{TEXT_MODEL}:generateContent$", "POST")
    assert call.headers["x-goog-api-key"] == GEMINI_KEY
    assert json_of(call)["contents"][-1]["parts"][0]["text"].startswith("Write a tagline")
    # The fake counts words as tokens: the charge is theirs at the shipped per-1k prices.
    shipped = SHIPPED.model(TEXT_MODEL)
    assert shipped is not None
    words_in = len(body["messages"][0]["content"].split())  # type: ignore[index]
    words_out = len(task["response_text"].split())
    charge = math.ceil(
        (
            words_in * shipped.credits_per_1k_input_tokens
            + words_out * shipped.credits_per_1k_output_tokens
        )
        / 1000
    )
    assert task["credits_used"] == charge
    assert server.balance(account) == 100 - charge
