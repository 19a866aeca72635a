"""Catalog models served by upstream providers, end to end: a real Creatix server whose engines
call fake fal, Replicate, Gemini and OpenAI servers on loopback. Each dialect is served, a
provider outage falls back to the next route, a provider's refusal fails the job refunded, a
canceled job is canceled upstream, and no provider key shows up in logs, answers or job rows."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from creatix.jobs.models import JobRow
from fakes.fal import FOREVER, FakeFal
from fakes.gemini import KEY as GEMINI_KEY
from fakes.gemini import FakeGemini
from fakes.openai import KEY as OPENAI_KEY
from fakes.openai import FakeOpenAI
from fakes.replicate import FakeReplicate
from fakes.server import Fault
from support import LiveServer, make_settings

FAL_KEY = "fal-key-for-tests"
REPLICATE_TOKEN = "r8_token_for_tests"
KEYS = (FAL_KEY, REPLICATE_TOKEN, GEMINI_KEY, OPENAI_KEY)
FAST = {
    "attempts": 2,
    "retry_base_delay": 0.01,
    "retry_max_delay": 0.05,
    "poll_interval_seconds": 0.02,
    "timeout_seconds": 5.0,
    "max_wait_seconds": 30.0,
}
PLATFORM = "/api/platform"


def _catalog(path: Path, openai_compatible_url: str) -> Path:
    catalog = {
        "extends": "shipped",
        "engines": {
            "fal": {"type": "fal", "options": FAST},
            "replicate": {"type": "replicate", "options": FAST},
            "gemini": {"type": "gemini", "options": FAST},
            "openai": {"type": "openai", "options": FAST},
            "local-llm-server": {
                "type": "openai",
                "options": {**FAST, "base_url": openai_compatible_url, "requires_key": False},
            },
        },
        "models": [
            {
                "id": "creatix-flash",
                "engine": "fal",
                "engine_model": "fal-ai/flux/schnell",
                "fallbacks": [
                    {"engine": "replicate", "engine_model": "black-forest-labs/flux-schnell"}
                ],
                "display_name": "Creatix Flash",
                "credits_per_image": 10,
            },
            {
                "id": "flux-2-pro",
                "engine": "replicate",
                "engine_model": "black-forest-labs/flux-2-pro",
                "display_name": "FLUX.2 Pro",
                "credits_per_image": 250,
            },
            {
                "id": "nano-banana-2",
                "engine": "gemini",
                "engine_model": "gemini-2.5-flash-image",
                "display_name": "Nano Banana 2",
                "credits_per_image": 400,
                "supports_image_input": True,
            },
            {
                "id": "gpt-image-2",
                "engine": "openai",
                "engine_model": "gpt-image-1",
                "engine_params": {"sizes": "1024x1024,1536x1024,1024x1536"},
                "display_name": "GPT-Image-2",
            },
            {
                "id": "local-model",
                "engine": "local-llm-server",
                "engine_model": "gpt-image-1",
                "display_name": "A model on an OpenAI-compatible server",
            },
        ],
    }
    path.write_text(yaml.safe_dump(catalog))
    return path


@pytest.fixture(scope="module")
def providers() -> Iterator[tuple[FakeFal, FakeReplicate, FakeGemini, FakeOpenAI]]:
    fal, replicate, gemini, openai = FakeFal(), FakeReplicate(), FakeGemini(), FakeOpenAI()
    keyless = FakeOpenAI(api_key=None)
    fakes = [fal, replicate, gemini, openai, keyless]
    for fake in fakes:
        fake.start()
    openai.keyless = keyless  # type: ignore[attr-defined]
    yield fal, replicate, gemini, openai
    for fake in fakes:
        fake.stop()


@pytest.fixture(scope="module")
def server(
    providers: tuple[FakeFal, FakeReplicate, FakeGemini, FakeOpenAI],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveServer]:
    fal, replicate, gemini, openai = providers
    tmp = tmp_path_factory.mktemp("upstream")
    keyless: FakeOpenAI = openai.keyless  # type: ignore[attr-defined]
    settings = make_settings(
        tmp / "data",
        catalog=_catalog(tmp / "catalog.yaml", f"{keyless.url}/v1"),
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
def _fresh(providers: tuple[FakeFal, FakeReplicate, FakeGemini, FakeOpenAI]) -> None:
    for fake in providers:
        fake.reset()


def _image(url: str) -> Image.Image:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200
    return Image.open(io.BytesIO(response.content))


def _poll(client: httpx.Client, generation_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        generation: dict[str, Any] = client.get(f"{PLATFORM}/generations/{generation_id}").json()[
            "generation"
        ]
        if generation["status"] != "processing":
            return generation
        assert time.monotonic() < deadline, f"still processing after {timeout}s"
        time.sleep(0.05)


def _job_row(server: LiveServer, job_id: str) -> JobRow:
    assert server.runtime is not None

    def read(session: Session) -> JobRow:
        row = session.execute(select(JobRow).where(JobRow.id == job_id)).scalar_one()
        session.expunge(row)
        return row

    return server.call(server.runtime.db.read(read))


def _all_job_rows(server: LiveServer) -> list[JobRow]:
    assert server.runtime is not None

    def read(session: Session) -> list[JobRow]:
        rows = list(session.execute(select(JobRow)).scalars())
        session.expunge_all()
        return rows

    return server.call(server.runtime.db.read(read))


# -- each dialect, served by a provider --------------------------------------------------------


def test_creatix_v1_is_served_by_fal(
    server: LiveServer, providers: tuple[FakeFal, FakeReplicate, FakeGemini, FakeOpenAI]
) -> None:
    fal = providers[0]
    with server.client(server.funded_account(credits=1000)[1]) as client:
        response = client.post(
            "/v1/images/generations",
            json={"model": "creatix-flash", "prompt": "a red bicycle", "n": 2, "size": "512x512"},
        )
    assert response.status_code == 200, response.text
    assert response.headers["X-Creatix-Engine"] == "fal"
    images = [_image(item["url"]) for item in response.json()["data"]]
    assert [image.size for image in images] == [(512, 512)] * 2
    [submit] = fal.calls("^/fal-ai/flux/schnell$", "POST")
    assert submit.headers["authorization"] == f"Key {FAL_KEY}"


def test_artnex_is_served_by_replicate_and_charged(
    server: LiveServer, providers: tuple[FakeFal, FakeReplicate, FakeGemini, FakeOpenAI]
) -> None:
    replicate = providers[1]
    name, key = server.funded_account(credits=1000)
    with server.client(key) as client:
        response = client.post(
            "/v1/generate",
            json={"prompt": "a mountain lake", "model": "flux-2-pro", "width": 1024, "height": 768},
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["credits_used"] == 250
    assert _image(body["images"][0]["url"]).size == (1024, 768)
    assert server.balance(name) == 750
    assert len(replicate.calls("/models/black-forest-labs/flux-2-pro/predictions", "POST")) == 1


def test_the_platform_is_served_by_gemini_with_a_reference_image(
    server: LiveServer, providers: tuple[FakeFal, FakeReplicate, FakeGemini, FakeOpenAI]
) -> None:
    gemini = providers[2]
    name, key = server.funded_account(credits=400)
    buffer = io.BytesIO()
    Image.new("RGB", (80, 60), (10, 200, 30)).save(buffer, format="PNG")
    with server.client(key) as client:
        upload = client.post(
            f"{PLATFORM}/upload", files={"file": ("ref.png", buffer.getvalue(), "image/png")}
        )
        assert upload.status_code in (200, 201), upload.text
        started = client.post(
            f"{PLATFORM}/generate",
            json={
                "prompt": "Luxury perfume bottle on marble surface",
                "modelId": "nano-banana-2",
                "aspectRatio": "16:9",
                "inputImagePath": upload.json()["path"],
            },
        )
        assert started.status_code == 202, started.text
        generation = _poll(client, started.json()["id"])
    assert generation["status"] == "completed", generation
    width, height = _image(generation["image_url"]).size
    assert width > height
    [call] = gemini.calls(":generateContent$", "POST")
    parts = yaml.safe_load(call.body)["contents"][0]["parts"]
    assert any("inline_data" in part or "inlineData" in part for part in parts)
    assert server.balance(name) == 0


def test_an_openai_compatible_server_is_reached_by_base_url_without_a_key(
    server: LiveServer, providers: tuple[FakeFal, FakeReplicate, FakeGemini, FakeOpenAI]
) -> None:
    keyless: FakeOpenAI = providers[3].keyless  # type: ignore[attr-defined]
    keyless.reset()
    with server.client(server.funded_account(credits=1000)[1]) as client:
        response = client.post(
            "/v1/images/generations",
            json={"model": "local-model", "prompt": "a teapot", "size": "512x512"},
        )
    assert response.status_code == 200, response.text
    [call] = keyless.calls("/v1/images/generations", "POST")
    assert "authorization" not in call.headers
    assert yaml.safe_load(call.body)["size"] == "512x512"


# -- outages, refusals, cancellation -----------------------------------------------------------


def test_an_outage_falls_back_to_the_next_route(
    server: LiveServer, providers: tuple[FakeFal, FakeReplicate, FakeGemini, FakeOpenAI]
) -> None:
    fal, replicate = providers[0], providers[1]
    fal.fail("^/fal-ai/flux/schnell$", Fault(503), Fault(502))
    with server.client(server.funded_account(credits=1000)[1]) as client:
        response = client.post(
            "/v1/images/generations",
            json={"model": "creatix-flash", "prompt": "a green door", "size": "512x512"},
        )
    assert response.status_code == 200, response.text
    assert response.headers["X-Creatix-Engine"] == "replicate"
    assert len(fal.calls("^/fal-ai/flux/schnell$", "POST")) == 2, "both attempts at fal"
    assert len(replicate.calls("flux-schnell/predictions", "POST")) == 1
    job = _job_row(server, response.headers["X-Creatix-Job-Id"])
    assert job.engine == "replicate", "the job records the route that served it"


def test_a_refusal_fails_the_job_with_a_neutral_reason_and_a_full_refund(
    server: LiveServer, providers: tuple[FakeFal, FakeReplicate, FakeGemini, FakeOpenAI]
) -> None:
    replicate = providers[1]
    name, key = server.funded_account(credits=250)
    with server.client(key) as client:
        started = client.post(
            f"{PLATFORM}/generate", json={"prompt": "fake:invalid boat", "modelId": "flux-2-pro"}
        )
        assert started.status_code == 202, started.text
        generation = _poll(client, started.json()["id"])
    assert generation["status"] == "failed"
    assert generation["error"].startswith("The model's provider rejected the request")
    assert "replicate" not in generation["error"].lower()
    assert len(replicate.calls("flux-2-pro/predictions", "POST")) == 1, "never retried"
    assert server.balance(name) == 250
    assert server.ledger_kinds(name) == ["grant", "refund", "reserve"]


def test_every_route_out_fails_the_job_refunded(
    server: LiveServer, providers: tuple[FakeFal, FakeReplicate, FakeGemini, FakeOpenAI]
) -> None:
    fal, replicate = providers[0], providers[1]
    fal.fail("^/fal-ai/flux/schnell$", Fault(500), Fault(500))
    replicate.fail("flux-schnell/predictions", Fault(429, headers={"Retry-After": "0"}), Fault(500))
    with server.client(server.funded_account(credits=1000)[1]) as client:
        started = client.post(
            f"{PLATFORM}/generate", json={"prompt": "a kite", "modelId": "creatix-flash"}
        )
        generation = _poll(client, started.json()["id"])
    assert generation["status"] == "failed"
    assert "unavailable" in generation["error"]
    assert len(fal.calls("^/fal-ai/flux/schnell$")) == 2
    assert len(replicate.calls("flux-schnell/predictions")) == 2


def test_a_canceled_generation_is_canceled_upstream_and_refunded(
    server: LiveServer, providers: tuple[FakeFal, FakeReplicate, FakeGemini, FakeOpenAI]
) -> None:
    fal = providers[0]
    fal.polls_to_finish = FOREVER
    name, key = server.funded_account(credits=10)
    with server.client(key) as client:
        started = client.post(
            f"{PLATFORM}/generate", json={"prompt": "a slow one", "modelId": "creatix-flash"}
        )
        generation_id = started.json()["id"]
        deadline = time.monotonic() + 10
        while not fal.calls("/requests/.*/status$"):
            assert time.monotonic() < deadline, "fal was never polled"
            time.sleep(0.02)
        assert client.delete(f"{PLATFORM}/generations/{generation_id}").json() == {"deleted": True}
    deadline = time.monotonic() + 10
    while not fal.calls("/requests/.*/cancel$", "PUT"):
        assert time.monotonic() < deadline, "the fal job was not canceled"
        time.sleep(0.02)
    assert len(fal.calls("/requests/.*/cancel$", "PUT")) == 1
    assert server.balance(name) == 10
    assert server.ledger_kinds(name) == ["grant", "refund", "reserve"]


def test_keys_reach_the_providers_and_nothing_else(
    server: LiveServer,
    providers: tuple[FakeFal, FakeReplicate, FakeGemini, FakeOpenAI],
    caplog: pytest.LogCaptureFixture,
) -> None:
    fal, _, gemini, openai = providers
    caplog.set_level(logging.DEBUG)
    answers: list[str] = []
    with server.client(server.funded_account(credits=10_000)[1]) as client:
        for body in (
            {"model": "creatix-flash", "prompt": "fine"},
            {"model": "creatix-flash", "prompt": "fake:fail quoting the key"},
            {"model": "gpt-image-2", "prompt": "REJECT ME"},
            {"model": "gpt-image-2", "prompt": "a lamp", "size": "1024x1024"},
        ):
            response = client.post("/v1/images/generations", json={"size": "512x512", **body})
            answers.append(response.text)
        generation = client.post(
            f"{PLATFORM}/generate", json={"prompt": "BLOCK ME", "modelId": "nano-banana-2"}
        )
        answers.append(repr(_poll(client, generation.json()["id"])))
    assert fal.calls("^/fal-ai/")[0].headers["authorization"] == f"Key {FAL_KEY}"
    assert openai.calls("/v1/images/")[0].headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert gemini.calls(":generateContent$")[0].headers["x-goog-api-key"] == GEMINI_KEY
    assert any("[redacted]" in answer for answer in answers), "the provider's words, redacted"
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    rows = "\n".join(repr(vars(row)) for row in _all_job_rows(server))
    for key in KEYS:
        assert key not in logged
        assert all(key not in answer for answer in answers)
        assert key not in rows


def test_a_long_provider_job_keeps_its_lease(
    providers: tuple[FakeFal, FakeReplicate, FakeGemini, FakeOpenAI], tmp_path: Path
) -> None:
    fal = providers[0]
    fal.polls_to_finish = 200  # about 4 s of polling at 0.02 s, past two lease lengths
    keyless: FakeOpenAI = providers[3].keyless  # type: ignore[attr-defined]
    settings = make_settings(
        tmp_path / "data",
        catalog=_catalog(tmp_path / "catalog.yaml", f"{keyless.url}/v1"),
        fal_key=FAL_KEY,
        fal_base_url=fal.url,
        lease_seconds=1.5,
    )
    live = LiveServer(settings).start()
    try:
        with live.client(live.funded_account(credits=10)[1]) as client:
            started = time.monotonic()
            response = client.post(
                "/v1/images/generations",
                json={"model": "creatix-flash", "prompt": "patience", "size": "512x512"},
            )
            took = time.monotonic() - started
        assert response.status_code == 200, response.text
        job = _job_row(live, response.headers["X-Creatix-Job-Id"])
    finally:
        live.stop()
    assert took > 3.0, "the provider job outlived two leases"
    assert job.attempts == 1, "the heartbeat kept the lease: never requeued"
    assert len(fal.calls("^/fal-ai/flux/schnell$", "POST")) == 1
