"""The diffusers engine behind the real path: catalog → Artnex ``POST /v1/generate`` → job
queue → worker → engine → watermark → storage → signed download, on a tiny random Stable
Diffusion pipeline on the CPU."""

from __future__ import annotations

import asyncio
import contextlib
import io
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")

import httpx
import numpy as np
import yaml
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creatix.accounts.models import Account
from creatix.catalog.loader import load_catalog
from creatix.engines.diffusers import DiffusersEngine
from creatix.jobs.models import JobRow
from creatix.jobs.specs import ImageSpec, JobStatus
from creatix.media.encoding import read_metadata
from creatix.media.watermark import apply_watermark, watermark_box
from support import LiveServer, make_settings

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

GENERATE = "/v1/generate"
PRICE = 10
TOLERANCE = 2
"""Most a pixel channel may differ between two runs of one seed in different batches."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, tiny_sd: Path) -> Iterator[LiveServer]:
    """The shipped catalog plus a diffusers engine serving ``tiny-sd`` and ``tiny-missing``
    (whose weights are not there). No worker runs until a test starts one."""
    tmp_path = tmp_path_factory.mktemp("diffusers-api")
    data = load_catalog().model_dump(mode="json")
    data["engines"]["diffusers"] = {
        "type": "diffusers",
        "options": {"device": "cpu", "steps": 2, "max_batch": 8},
    }
    tiny = {
        "engine": "diffusers",
        "credits_per_image": PRICE,
        "output_format": "png",  # lossless, to compare the stored pixels with the engine's
        "estimated_seconds": 1,
        "limits": {"max_n": 4, "max_prompt_chars": 500, "min_side": 64, "max_side": 128},
    }
    data["models"].extend(
        [
            {**tiny, "id": "tiny-sd", "display_name": "Tiny SD", "engine_model": str(tiny_sd)},
            {
                **tiny,
                "id": "tiny-missing",
                "display_name": "Tiny SD (no weights)",
                "engine_model": str(tmp_path / "absent"),
            },
        ]
    )
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(yaml.safe_dump(data))
    settings = make_settings(tmp_path / "data", catalog=catalog, run_worker=False)
    live = LiveServer(settings).start()
    yield live
    live.stop()


def _engine(server: LiveServer) -> DiffusersEngine:
    assert server.runtime is not None
    engine = server.runtime.engines.engine("diffusers")
    assert isinstance(engine, DiffusersEngine)
    return engine


def _engine_model(server: LiveServer) -> str:
    assert server.runtime is not None
    entry = server.runtime.catalog.model("tiny-sd")
    assert entry is not None
    assert entry.engine_model is not None
    return entry.engine_model


@contextlib.contextmanager
def _worker(server: LiveServer) -> Iterator[None]:
    """The server's worker, running on its loop for the duration."""
    assert server.runtime is not None
    runtime = server.runtime

    async def start() -> asyncio.Task[None]:
        return asyncio.create_task(runtime.worker().run())

    async def stop(task: asyncio.Task[None]) -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    task = server.call(start())
    try:
        yield
    finally:
        server.call(stop(task))


@pytest.fixture
def worker(server: LiveServer) -> Iterator[None]:
    with _worker(server):
        yield


def _jobs(server: LiveServer, name: str, status: JobStatus | None = None) -> int:
    assert server.runtime is not None

    def count(session: Session) -> int:
        query = (
            select(func.count())
            .select_from(JobRow)
            .join(Account, Account.id == JobRow.account_id)
            .where(Account.name == name)
        )
        if status is not None:
            query = query.where(JobRow.status == status)
        return int(session.execute(query).scalar_one())

    return server.call(server.runtime.db.read(count))


def _body(prompt: str = "a tiny red barn", **fields: Any) -> dict[str, Any]:
    return {"prompt": prompt, "model": "tiny-sd", "width": 64, "height": 64, **fields}


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is True
    return body


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    error: dict[str, Any] = body["error"]
    assert error["code"] == code, error
    return error


def _download(url: str) -> bytes:
    response = httpx.get(url, timeout=60)
    assert response.status_code == 200, response.text
    return response.content


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


# -- a request end to end --------------------------------------------------------------------


def test_a_request_is_drawn_watermarked_stored_and_charged(
    server: LiveServer, worker: None
) -> None:
    # The free plan: the catalog's policy marks its images on every dialect.
    name, secret = server.funded_account(credits=1000, plan="free")
    with server.client(secret) as client:
        response = client.post(GENERATE, json=_body(num_images=2, width=96))
    body = _ok(response)
    assert response.headers["X-Creatix-Engine"] == "diffusers"
    assert body["credits_used"] == 2 * PRICE
    assert server.balance(name) == 1000 - 2 * PRICE
    assert len(body["images"]) == 2
    for image in body["images"]:
        data = _download(image["url"])
        picture = Image.open(io.BytesIO(data))
        assert picture.format == "PNG"
        assert picture.size == (96, 64)
        metadata = read_metadata(data)
        assert metadata["engine"] == "diffusers"
        assert metadata["model"] == "tiny-sd"

    # The stored picture is the engine's own for that seed, with the watermark drawn on it.
    data = _download(body["images"][0]["url"])
    seed = int(read_metadata(data)["seed"])
    spec = ImageSpec(prompt="a tiny red barn", width=96, height=64, seed=seed)
    [[raw]] = server.call(_engine(server).generate(str(_engine_model(server)), [spec]))
    stored = _pixels(Image.open(io.BytesIO(data)))
    assert np.abs(stored - _pixels(apply_watermark(raw))).max() <= TOLERANCE
    left, top, right, bottom = watermark_box(96, 64)
    mark = np.abs(stored - _pixels(raw))[top:bottom, left:right]
    assert mark.max() > 40, "the watermark is drawn in its box"
    outside = np.abs(stored - _pixels(raw)).copy()
    outside[top:bottom, left:right] = 0
    assert outside.max() <= TOLERANCE, "and nowhere else"


def test_sizes_outside_the_models_limits_are_refused_before_charging(
    server: LiveServer,
) -> None:
    name, secret = server.funded_account(credits=1000)
    with server.client(secret) as client:
        too_big = client.post(GENERATE, json=_body(width=256))
        _error(too_big, 400, "invalid_dimensions")
    assert server.balance(name) == 1000
    assert _jobs(server, name) == 0


# -- batching --------------------------------------------------------------------------------


def test_four_concurrent_requests_are_one_pipeline_call(server: LiveServer) -> None:
    name, secret = server.funded_account(credits=1000)
    engine = _engine(server)
    calls_before = len(engine.calls)

    def post(index: int) -> httpx.Response:
        with server.client(secret) as client:
            return client.post(GENERATE, json=_body(f"poster number {index}"))

    with ThreadPoolExecutor(4) as pool:
        # No worker runs yet: the four requests queue with one batch key...
        futures = [pool.submit(post, index) for index in range(4)]
        deadline = time.monotonic() + 30
        while _jobs(server, name, JobStatus.QUEUED) < 4:
            assert time.monotonic() < deadline, "the four requests did not queue"
            time.sleep(0.05)
        # ...and the worker claims them together.
        with _worker(server):
            responses = [future.result(timeout=120) for future in futures]

    bodies = [_ok(response) for response in responses]
    assert len({body["request_id"] for body in bodies}) == 4
    new_calls = list(engine.calls)[calls_before:]
    assert [(call.specs, call.images) for call in new_calls] == [(4, 4)]
    assert new_calls[0].model == _engine_model(server)
    assert server.balance(name) == 1000 - 4 * PRICE
    pictures = [Image.open(io.BytesIO(_download(b["images"][0]["url"]))) for b in bodies]
    assert all(picture.size == (64, 64) for picture in pictures)


# -- unavailable weights and failures --------------------------------------------------------


def test_missing_weights_list_the_model_unavailable_and_refuse_with_503(
    server: LiveServer,
) -> None:
    name, secret = server.funded_account(credits=1000)
    with server.client(secret) as client:
        listed = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
        assert listed["tiny-missing"]["available"] is False
        assert listed["tiny-missing"]["engine"] == "diffusers"
        assert listed["tiny-sd"]["available"] is True
        response = client.post(GENERATE, json=_body(model="tiny-missing"))
    error = _error(response, 503, "unavailable")
    assert "weights not found at" in error["message"]
    assert server.balance(name) == 1000
    assert _jobs(server, name) == 0
    assert server.ledger_kinds(name) == ["grant"]
    assert server.runtime is not None
    entry = server.runtime.catalog.model("tiny-missing")
    assert entry is not None
    status = server.runtime.engines.model_status(entry)
    assert not status.available
    assert status.reason == f"weights not found at {entry.engine_model}"


def test_out_of_memory_fails_the_request_and_refunds_it(
    server: LiveServer, worker: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, secret = server.funded_account(credits=1000)
    with server.client(secret) as client:
        _ok(client.post(GENERATE, json=_body()))  # loaded and resident
        assert server.balance(name) == 1000 - PRICE
        resident = _engine(server).residency.get(_engine_model(server))
        assert resident is not None

        def out_of_memory(self: Any, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")

        monkeypatch.setattr(type(resident.pipeline), "__call__", out_of_memory)
        response = client.post(GENERATE, json=_body(num_images=3))
        error = _error(response, 500, "generation_failed")
        assert "out_of_memory" in error["message"]
        assert error["request_id"] == response.headers["X-Request-ID"]
        assert server.balance(name) == 1000 - PRICE, "the failed request is refunded in full"
        assert server.ledger_kinds(name) == [
            "charge",
            "grant",
            "refund",
            "refund",
            "reserve",
            "reserve",
        ]
        assert _jobs(server, name, JobStatus.FAILED) == 1
        monkeypatch.undo()
        _ok(client.post(GENERATE, json=_body()))  # the engine goes on
