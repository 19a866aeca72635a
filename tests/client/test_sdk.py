"""The Python SDK (``creatix.client``) against the live server (preview engines), sync and
async, and against stub transports for retries and the events stream."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from client_support import account_key, client_server, png_bytes, write_png
from creatix.client import (
    AsyncCreatix,
    AuthenticationError,
    BadRequest,
    ConnectionFailed,
    Creatix,
    InsufficientCredits,
    JobEvent,
    MissingApiId,
    NotFound,
    RateLimited,
    ServerError,
    parse_events,
)
from creatix.client._errors import parse_error
from support import LiveServer

__all__ = ["client_server"]  # the fixture, imported for this module

SCHEMA = {
    "type": "object",
    "properties": {"headlines": {"type": "array", "items": {"type": "string"}}},
    "required": ["headlines"],
}


@pytest.fixture(scope="module")
def account(client_server: LiveServer) -> tuple[str, str, str]:
    return account_key(client_server, credits=100_000)


@pytest.fixture
def client(client_server: LiveServer, account: tuple[str, str, str]) -> Iterator[Creatix]:
    _, secret, key_id = account
    with Creatix(client_server.url, secret, key_id) as sdk:
        yield sdk


@pytest.fixture
async def aclient(client_server: LiveServer, account: tuple[str, str, str]) -> Any:
    _, secret, key_id = account
    async with AsyncCreatix(client_server.url, secret, key_id) as sdk:
        yield sdk


# -- every method against the live server ----------------------------------------------------


def test_images_generate_and_download(client: Creatix, tmp_path: Path) -> None:
    result = client.images.generate(
        "A red sneaker on a white table", size="512x512", aspect_ratio="16:9", n=2, seed=7
    )
    assert result.status == "succeeded"
    assert result.job_id
    assert len(result.assets) == 2
    assert result.raw["data"][0]["url"] == result.urls[0]
    saved = client.download(result.assets[0], tmp_path)
    assert saved.parent == tmp_path
    assert saved.read_bytes().startswith(b"\x89PNG")
    named = client.download(result.urls[1], tmp_path / "sub" / "second.png")
    assert named == tmp_path / "sub" / "second.png"
    assert named.stat().st_size > 0
    assert not [p for p in tmp_path.rglob("*.part")], "no temporary file is left behind"


def test_images_b64_download(client: Creatix, tmp_path: Path) -> None:
    result = client.images.generate("A blue cup", size="512x512", response_format="b64_json")
    assert result.assets[0].b64_json
    saved = client.download(result.assets[0], tmp_path / "cup.png")
    assert saved.read_bytes().startswith(b"\x89PNG")


def test_generations_lifecycle(client: Creatix) -> None:
    created = client.generations.create(
        "A lamp on a desk", model="creatix-flash", aspect_ratio="4:3", n=1, style="minimal"
    )
    assert created.raw_status == "processing"
    assert created.status in ("queued", "running")
    events: list[JobEvent] = []
    done = client.generations.wait(created.id, timeout=60, on_progress=events.append)
    assert done.status == "succeeded"
    assert done.raw_status == "completed"
    assert done.progress == 100
    assert done.urls
    assert done.prompt == "A lamp on a desk"
    assert client.generations.get(created.id).id == created.id
    assert created.id in [g.id for g in client.generations.list(limit=100)]
    assert all(e.event in ("queued", "progress") for e in events)
    assert client.generations.delete(created.id) is True
    with pytest.raises(NotFound) as caught:
        client.generations.get(created.id)
    assert caught.value.status == 404


def test_video_from_generation_and_from_local_image(client: Creatix, tmp_path: Path) -> None:
    generation = client.generations.wait(client.generations.create("A red chair").id)
    video = client.videos.create(
        "Smooth camera orbit", source_generation_id=generation.id, duration=3, resolution="720p"
    )
    assert video.source == "platform"
    done = client.videos.wait(video.id, timeout=120)
    assert done.status == "succeeded"
    assert done.video_url
    assert done.duration_seconds == 3
    saved = client.download(done.assets[0], tmp_path)
    assert saved.suffix == ".mp4"

    local = client.videos.create("A slow push-in", image=write_png(tmp_path / "in.png"), duration=5)
    assert local.source == "asset_generator"
    finished = client.videos.wait(local.id, timeout=120)
    assert finished.status == "succeeded"
    assert finished.assets[0].kind == "video"
    assert client.videos.get(local.id).source == "asset_generator"


def test_assets_copy_and_credits(client: Creatix) -> None:
    task = client.assets.create("creatix-flash", {"prompt": "A green lamp", "num_images": 2})
    assert task.raw_status in ("pending", "running", "done")
    done = client.assets.wait(task.id, timeout=60)
    assert done.status == "succeeded"
    assert len(done.assets) == 2
    assert client.assets.get(task.id).raw_status == "done"

    copy = client.copy.create("Three headlines for a cold brew subscription", schema=SCHEMA)
    answered = client.copy.wait(copy.id, timeout=60)
    assert answered.status == "succeeded", answered.error
    assert isinstance(answered.json()["headlines"], list)
    assert client.copy.get(copy.id).text == answered.text

    plain = client.copy.wait(client.copy.create("One tagline for sneakers").id)
    assert plain.text

    credits = client.credits()
    assert credits.balance <= 100_000
    assert credits.raw["balance"] == credits.balance


async def test_async_surface(aclient: AsyncCreatix, tmp_path: Path) -> None:
    image = await aclient.images.generate("An orange kite", size="512x512")
    assert (await aclient.download(image.assets[0], tmp_path)).exists()
    seen: list[JobEvent] = []

    async def progress(event: JobEvent) -> None:
        seen.append(event)

    generation = await aclient.generations.create("A yellow boat")
    done = await aclient.generations.wait(generation.id, on_progress=progress)
    assert done.status == "succeeded"
    # The signed URLs' queries move with the minute their links expire at; the files do not.
    again = (await aclient.generations.get(done.id)).urls
    assert [url.split("?")[0] for url in again] == [url.split("?")[0] for url in done.urls]
    assert await aclient.generations.list(limit=5)
    video = await aclient.videos.create("Orbit", source_generation_id=done.id, duration=3)
    assert (await aclient.videos.wait(video.id)).status == "succeeded"
    task = await aclient.assets.create("creatix-flash", {"prompt": "A grey wall"})
    assert (await aclient.assets.wait(task.id)).status == "succeeded"
    copy = await aclient.copy.create([{"role": "user", "content": "A tagline for tea"}])
    assert (await aclient.copy.wait(copy.id)).text
    assert (await aclient.credits()).balance >= 0
    assert await aclient.generations.delete(done.id)
    with pytest.raises(NotFound):
        await aclient.videos.get("01a00000-0000-7000-8000-000000000000")


def test_wait_uses_the_servers_event_stream(
    client_server: LiveServer, account: tuple[str, str, str]
) -> None:
    _, secret, key_id = account
    paths: list[str] = []
    http = httpx.Client(event_hooks={"request": [lambda r: paths.append(r.url.path)]})
    with Creatix(client_server.url, secret, key_id, http_client=http) as sdk:
        created = sdk.generations.create("A white lighthouse", n=2)
        done = sdk.generations.wait(created.id, timeout=60)
    assert done.status == "succeeded"
    events = f"/v1/jobs/{created.id}/events"
    poll = f"/api/platform/generations/{created.id}"
    assert paths[1:] == [events, poll], "one stream, then one GET for the result"


# -- typed errors, with the field at fault, per dialect --------------------------------------


def test_errors_name_the_field_per_dialect(client: Creatix, client_server: LiveServer) -> None:
    with pytest.raises(BadRequest) as v1:
        client.images.generate("A cat", size="300x300")
    assert (v1.value.status, v1.value.param) == (400, "size")
    with pytest.raises(BadRequest) as platform:
        client.generations.create("A cat on a mat", model="no-such-model")
    assert platform.value.param == "modelId"
    assert platform.value.code == "model_not_found"
    with pytest.raises(BadRequest) as assets:
        client.assets.create("creatix-flash", {"num_images": 2})
    assert assets.value.param == "input_params.prompt"
    assert "input_params.prompt" in assets.value.fields
    with pytest.raises(BadRequest) as copy:
        client.copy.create([{"role": "robot", "content": "hi"}])
    assert copy.value.param == "messages.0.role"
    with pytest.raises(BadRequest) as video:
        client.videos.create("Orbit it", source_generation_id="nope")
    assert video.value.param == "sourceGenerationId"
    # Artnex's envelope ({"success": false, "error": {...}}), read by the same parser.
    answer = httpx.post(
        f"{client_server.url}/v1/generate",
        headers={"Authorization": f"Bearer {client.generations._core.api_key}"},
        json={"model": "z-image-turbo"},
    )
    error = parse_error(answer.status_code, answer.content, dict(answer.headers))
    assert isinstance(error, BadRequest)
    assert error.code
    assert error.request_id


def test_auth_credits_and_missing_id_errors(client_server: LiveServer) -> None:
    with (
        Creatix(client_server.url, "sk_live_wrong") as wrong,
        pytest.raises(AuthenticationError) as caught,
    ):
        wrong.credits()
    assert caught.value.status == 401
    _, secret, _ = account_key(client_server, credits=0)
    with Creatix(client_server.url, secret) as broke:
        with pytest.raises(InsufficientCredits) as poor:
            broke.images.generate("A priced image", model="z-image-turbo", size="512x512")
        assert poor.value.status == 402


def test_the_key_id_is_learned_from_the_server(client_server: LiveServer, tmp_path: Path) -> None:
    name, secret, key_id = account_key(client_server, credits=10_000)
    paths: list[str] = []
    http = httpx.Client(event_hooks={"request": [lambda r: paths.append(r.url.path)]})
    with Creatix(client_server.url, secret, http_client=http) as sdk:
        me = sdk.me()
        assert (me.id, me.account) == (key_id, name)
        assert "generate" in me.scopes
        paths.clear()
        # The text generator and a video from a local image need the id: asked once.
        copy = sdk.copy.wait(sdk.copy.create("A tagline for tea").id)
        assert copy.status == "succeeded"
        local = sdk.videos.create("A push-in", image=write_png(tmp_path / "in.png"), duration=3)
        assert sdk.videos.wait(local.id).status == "succeeded"
    assert paths[0] == "/v1/me"
    assert paths.count("/v1/me") == 1


def test_a_server_without_v1_me_still_asks_for_the_key_id() -> None:
    stub = Stub(httpx.Response(404, json={"detail": "Not Found"}))
    with pytest.raises(MissingApiId, match="CREATIX_API_ID"):
        _stub_client(stub).copy.create("hello")
    assert [r.url.path for r in stub.requests] == ["/v1/me"]


def test_jobs_get_says_what_a_job_cost(client: Creatix) -> None:
    image = client.images.generate("A priced poster", model="z-image-turbo", size="512x512")
    assert image.credits_charged == 100
    assert image.job_id is not None
    job = client.jobs.get(image.job_id)
    assert (job.id, job.status, job.kind) == (image.job_id, "succeeded", "image")
    assert (job.credits_charged, job.credits_reserved, job.progress) == (100, 0, 100.0)
    assert len(job.assets) == 1
    assert job.error is None
    copy = client.copy.wait(client.copy.create("One tagline for tea").id)
    text = client.jobs.get(copy.id)
    assert (text.kind, text.text) == ("text", copy.text)
    with pytest.raises(NotFound):
        client.jobs.get("01a00000-0000-7000-8000-000000000000")


def test_configuration_from_the_environment(
    client_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, secret, key_id = account_key(client_server, credits=1000)
    monkeypatch.setenv("CREATIX_BASE_URL", client_server.url + "/")
    monkeypatch.setenv("CREATIX_API_KEY", secret)
    monkeypatch.setenv("CREATIX_API_ID", key_id)
    with Creatix() as sdk:
        assert sdk.base_url == client_server.url
        assert sdk.copy.wait(sdk.copy.create("A tagline").id).status == "succeeded"


# -- retries, against a stub transport -------------------------------------------------------


class Stub:
    """Answers queued responses in order and records every request."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


IMAGES = {"created": 1, "data": [{"url": "http://stub/files/a.png", "b64_json": None}]}


def _stub_client(stub: Stub, **kwargs: Any) -> Creatix:
    sdk = Creatix(
        "http://stub",
        "sk_live_x",
        http_client=httpx.Client(transport=httpx.MockTransport(stub)),
        **kwargs,
    )
    sdk._core.backoff_base = 0.01
    return sdk


def test_retries_keep_one_idempotency_key() -> None:
    stub = Stub(
        httpx.Response(429, headers={"Retry-After": "0"}, json={"error": {"code": "rate"}}),
        httpx.Response(503, json={"error": {"code": "unavailable", "message": "busy"}}),
        httpx.ConnectError("refused"),
        httpx.Response(200, json=IMAGES, headers={"X-Creatix-Job-Id": "job-1"}),
    )
    result = _stub_client(stub).images.generate("A cat")
    assert result.job_id == "job-1"
    keys = {r.headers["Idempotency-Key"] for r in stub.requests}
    assert len(stub.requests) == 4
    assert len(keys) == 1


def test_given_idempotency_key_and_retry_limits() -> None:
    stub = Stub(*(httpx.Response(429, headers={"Retry-After": "0"}) for _ in range(3)))
    with pytest.raises(RateLimited) as caught:
        _stub_client(stub, max_retries=2).images.generate("A cat", idempotency_key="row-1")
    assert len(stub.requests) == 3
    assert {r.headers["Idempotency-Key"] for r in stub.requests} == {"row-1"}
    assert caught.value.retry_after == 0
    # A spent quota's long Retry-After is not waited out.
    long = Stub(httpx.Response(429, headers={"Retry-After": "3600"}), *())
    with pytest.raises(RateLimited):
        _stub_client(long).images.generate("A cat")
    assert len(long.requests) == 1
    # A 500 is not retried; connection errors give up as ConnectionFailed.
    with pytest.raises(ServerError):
        _stub_client(Stub(httpx.Response(500, json={"error": "boom", "detail": "x"}))).credits()
    with pytest.raises(ConnectionFailed):
        _stub_client(Stub(*(httpx.ConnectError("no") for _ in range(2))), max_retries=1).credits()


async def test_async_retries_keep_one_idempotency_key() -> None:
    stub = Stub(
        httpx.Response(503, headers={"Retry-After": "0"}),
        httpx.Response(200, json={"id": "g1", "status": "processing"}),
    )
    sdk = AsyncCreatix(
        "http://stub",
        "sk_live_x",
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(stub)),
    )
    generation = await sdk.generations.create("A cat on a mat")
    assert generation.id == "g1"
    assert len({r.headers["Idempotency-Key"] for r in stub.requests}) == 1
    assert len(stub.requests) == 2


# -- the events stream, faked ----------------------------------------------------------------

STREAM = (
    ": keep-alive\n\n"
    'id: 0\nevent: queued\ndata: {"job_id": "j1", "status": "queued", "position": 2}\n\n'
    'id: 1\nevent: progress\ndata: {"job_id": "j1", "status": "running", "progress": 0,'
    ' "step": 0, "steps": 4}\n\n'
    ": keep-alive\n\n"
    'id: 51\nevent: progress\ndata: {"job_id": "j1", "status": "running", "progress": 50,'
    ' "step": 2, "steps": 4}\n\n'
)
END = (
    'id: 1000\nevent: completed\ndata: {"job_id": "j1", "status": "succeeded", "kind": "image",'
    ' "model": "creatix-flash", "credits_charged": 0, "assets": [{"id": "a1", "kind": "image",'
    ' "mime_type": "image/png", "width": 64, "height": 64, "duration_seconds": null,'
    ' "bytes": 10, "url": "http://stub/files/a.png"}], "text": null}\n\n'
)
DONE = {
    "generation": {
        "id": "j1",
        "status": "completed",
        "progress": 100,
        "prompt": "p",
        "image_url": "http://stub/files/a.png",
        "image_urls": ["http://stub/files/a.png"],
        "model_id": "creatix-flash",
        "error": None,
    }
}


def test_parse_events() -> None:
    events = parse_events(STREAM + END)
    assert [e.event for e in events] == ["queued", "progress", "progress", "completed"]
    assert events[0].position == 2
    assert events[2].progress == 50
    assert events[3].terminal
    assert events[3].assets[0].width == 64
    assert events[3].credits_charged == 0
    multi = parse_events('event: x\ndata: {"a":\ndata: 1}\n\n')
    assert multi[0].data == {"a": 1}


def test_wait_follows_the_stream_and_reconnects_with_last_event_id() -> None:
    stub = Stub(
        httpx.Response(200, text=STREAM, headers={"Content-Type": "text/event-stream"}),
        httpx.Response(200, text=END, headers={"Content-Type": "text/event-stream"}),
        httpx.Response(200, json=DONE),
    )
    events: list[JobEvent] = []
    done = _stub_client(stub).generations.wait("j1", on_progress=events.append)
    assert done.status == "succeeded"
    assert [e.progress for e in events if e.event == "progress"] == [0, 50]
    assert events[0].position == 2
    first, second, fetch = stub.requests
    assert first.url.path == "/v1/jobs/j1/events"
    assert "Last-Event-ID" not in first.headers
    assert second.headers["Last-Event-ID"] == "51"
    assert fetch.url.path == "/api/platform/generations/j1"


def test_wait_polls_when_the_server_has_no_events_endpoint() -> None:
    processing = {"generation": {**DONE["generation"], "status": "processing", "progress": 40}}
    stub = Stub(
        httpx.Response(404, json={"detail": "Not Found"}),
        httpx.Response(200, json=processing),
        httpx.Response(200, json=DONE),
    )
    events: list[JobEvent] = []
    sdk = _stub_client(stub)
    sdk._core.poll_interval = 0.01
    done = sdk.generations.wait("j1", on_progress=events.append)
    assert done.status == "succeeded"
    assert [e.progress for e in events] == [40]


def test_wait_falls_back_to_polling_after_repeated_stream_failures() -> None:
    broken = [httpx.ReadError("reset") for _ in range(3)]
    stub = Stub(*broken, httpx.Response(200, json=DONE))
    assert _stub_client(stub).generations.wait("j1").status == "succeeded"
    assert [r.url.path for r in stub.requests][-1] == "/api/platform/generations/j1"


# -- the package imports nothing of the server -----------------------------------------------


def test_client_imports_nothing_server_side() -> None:
    code = (
        "import sys, creatix.client\n"
        "bad = [m for m in sys.modules if m.startswith(('creatix.api', 'creatix.jobs', "
        "'sqlalchemy', 'fastapi', 'creatix.engines', 'creatix.db', 'pydantic'))]\n"
        "print(bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out.replace("'", '"')) == []


def test_upload_bytes(client: Creatix) -> None:
    stored = client.upload(png_bytes(), "image/png")
    assert stored.path
    assert stored.public_url.startswith("http")
