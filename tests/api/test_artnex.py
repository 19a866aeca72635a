"""Artnex-compatible ``POST /v1/generate`` through a real HTTP client against a real server:
the documented example, credit prices, every error code in Artnex's envelope, idempotency."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
import yaml
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creatix.accounts.models import Account
from creatix.catalog.loader import load_catalog
from creatix.engines import registry
from creatix.engines.base import EngineParams, ProgressCallback
from creatix.engines.preview import PreviewEngine
from creatix.jobs.models import JobRow
from creatix.jobs.specs import ImageSpec, JobKind
from support import LiveServer, make_settings

GENERATE = "/v1/generate"

# The reference's example request, verbatim.
EXAMPLE = {
    "prompt": "A serene mountain landscape at sunset, photorealistic, golden hour lighting",
    "model": "flux-2-pro",
    "width": 1024,
    "height": 1024,
    "num_images": 1,
}


# -- helpers ---------------------------------------------------------------------------------


def _job_rows(server: LiveServer, name: str) -> int:
    assert server.runtime is not None

    def count(session: Session) -> int:
        query = (
            select(func.count())
            .select_from(JobRow)
            .join(Account, Account.id == JobRow.account_id)
            .where(Account.name == name)
        )
        return int(session.execute(query).scalar_one())

    return server.call(server.runtime.db.read(count))


def _download(url: str) -> Image.Image:
    response = httpx.get(url, timeout=60)
    assert response.status_code == 200, response.text
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image


def _assert_jpeg_link(url: str) -> None:
    """The link ends in .jpg and serves a JPEG: its bytes decode as one, its type says so."""
    assert httpx.URL(url).path.endswith(".jpg"), url
    response = httpx.get(url, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    assert response.content.startswith(b"\xff\xd8\xff"), "the JPEG start-of-image marker"
    with Image.open(io.BytesIO(response.content)) as image:
        assert image.format == "JPEG"
        image.load()


def _job_id(body: dict[str, object]) -> str:
    """The job's UUID from Artnex's ``req_`` + 32 hex digits."""
    return str(uuid.UUID(str(body["request_id"]).removeprefix("req_")))


def _ok(response: httpx.Response) -> dict[str, object]:
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    assert set(body) == {"success", "images", "request_id", "credits_used"}
    assert body["success"] is True
    assert body["request_id"] == "req_" + uuid.UUID(response.headers["X-Creatix-Job-Id"]).hex
    return body


def _error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    """Artnex's envelope: exactly success and error; error has code and message (and the
    request id for 5xx)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"success", "error"}
    assert body["success"] is False
    error: dict[str, object] = body["error"]
    expected = {"code", "message", "request_id"} if status >= 500 else {"code", "message"}
    assert set(error) == expected, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


@pytest.fixture
def rich(server: LiveServer) -> Iterator[tuple[str, httpx.Client]]:
    """An account on the paid plan with plenty of credits, and a client with its key."""
    name, secret = server.funded_account(credits=100_000)
    with server.client(secret) as client:
        yield name, client


# -- the documented example and prices -------------------------------------------------------


def test_doc_example_returns_one_1024_jpeg_and_charges_250(server: LiveServer) -> None:
    name, secret = server.funded_account(credits=1000)
    with server.client(secret) as client:
        response = client.post(GENERATE, json=EXAMPLE)
    body = _ok(response)
    assert body["credits_used"] == 250
    assert response.headers["X-Creatix-Engine"] == "preview"
    images = body["images"]
    assert isinstance(images, list)
    assert len(images) == 1
    assert set(images[0]) == {"url"}
    _assert_jpeg_link(images[0]["url"])
    assert _download(images[0]["url"]).size == (1024, 1024)
    assert server.balance(name) == 750


def test_doc_example_with_the_curl_headers(server: LiveServer) -> None:
    _, secret = server.funded_account(credits=1000)
    response = httpx.post(
        server.url + GENERATE,
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
        content=json.dumps(EXAMPLE, indent=4).encode(),
        timeout=60,
    )
    assert _ok(response)["credits_used"] == 250


def test_three_z_image_turbo_images_charge_300(server: LiveServer) -> None:
    name, secret = server.funded_account(credits=1000)
    with server.client(secret) as client:
        body = _ok(
            client.post(
                GENERATE, json={"prompt": "a red fox", "model": "z-image-turbo", "num_images": 3}
            )
        )
    assert body["credits_used"] == 300
    images = body["images"]
    assert isinstance(images, list)
    assert len(images) == 3
    assert len({item["url"] for item in images}) == 3
    assert server.balance(name) == 700


def test_width_and_height_shape_the_image(rich: tuple[str, httpx.Client]) -> None:
    _, client = rich
    payload = {"prompt": "a tall tower", "model": "z-image-turbo", "width": 512, "height": 768}
    body = _ok(client.post(GENERATE, json=payload))
    images = body["images"]
    assert isinstance(images, list)
    assert _download(images[0]["url"]).size == (512, 768)


def test_defaults_are_1024_square_and_one_image(rich: tuple[str, httpx.Client]) -> None:
    _, client = rich
    body = _ok(client.post(GENERATE, json={"prompt": "defaults", "model": "z-image-turbo"}))
    images = body["images"]
    assert isinstance(images, list)
    assert len(images) == 1
    assert _download(images[0]["url"]).size == (1024, 1024)
    assert body["credits_used"] == 100


def test_gpt_image_2_is_priced_by_resolution_and_quality(server: LiveServer) -> None:
    name, secret = server.funded_account(credits=5000)
    base = {"prompt": "a product shot", "model": "gpt-image-2"}
    with server.client(secret) as client:
        priced = _ok(client.post(GENERATE, json={**base, "resolution": "2k", "quality": "high"}))
        assert priced["credits_used"] == 800
        two = _ok(
            client.post(
                GENERATE, json={**base, "resolution": "2k", "quality": "high", "num_images": 2}
            )
        )
        assert two["credits_used"] == 1600
        default = _ok(client.post(GENERATE, json=base))
        assert default["credits_used"] == 150
        low = _ok(client.post(GENERATE, json={**base, "quality": "low"}))
        assert low["credits_used"] == 50
    assert server.balance(name) == 5000 - 800 - 1600 - 150 - 50
    assert server.runtime is not None
    job = server.call(server.runtime.jobs.get(_job_id(priced)))
    assert job.spec.engine_params == {"resolution": "2k", "quality": "high"}
    job = server.call(server.runtime.jobs.get(_job_id(default)))
    assert job.spec.engine_params == {"resolution": "1k", "quality": "medium"}


def _sizes(body: dict[str, object]) -> list[tuple[int, int]]:
    images = body["images"]
    assert isinstance(images, list)
    return [_download(item["url"]).size for item in images]


@pytest.mark.parametrize(
    ("fields", "size", "credits"),
    [
        ({"resolution": "4k", "quality": "high"}, (4096, 4096), 1600),
        ({"resolution": "4k", "quality": "low", "width": 4096, "height": 2304}, (4096, 2304), 200),
        ({"resolution": "4k", "quality": "low", "width": 2304}, (2304, 4096), 200),
        ({"resolution": "2k"}, (2048, 2048), 300),
        ({"resolution": "2k", "width": 1152, "height": 2048}, (1152, 2048), 300),
        ({"resolution": "2k", "height": 512}, (2048, 512), 300),
        ({}, (1024, 1024), 150),
        ({"resolution": "1k", "quality": "low", "width": 1024, "height": 576}, (1024, 576), 50),
    ],
)
def test_gpt_image_2_makes_the_resolution_it_prices(
    rich: tuple[str, httpx.Client],
    fields: dict[str, object],
    size: tuple[int, int],
    credits: int,
) -> None:
    """The resolution is the image's long side (1k 1024, 2k 2048, 4k 4096): the stored image,
    decoded, has it, and the charge is that resolution's."""
    _, client = rich
    payload = {"prompt": "a watch on a wrist", "model": "gpt-image-2", **fields}
    body = _ok(client.post(GENERATE, json=payload))
    assert _sizes(body) == [size]
    assert body["credits_used"] == credits


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"resolution": "4k", "width": 1024, "height": 1024}, "width"),
        ({"resolution": "4k", "width": 1024, "height": 2048}, "height"),
        ({"resolution": "1k", "width": 2048}, "width"),
        ({"resolution": "2k", "height": 4096}, "height"),
        ({"resolution": "1k", "width": 2048, "height": 1024}, "width"),
        ({"width": 512, "height": 512}, "width"),
        ({"quality": "high", "width": 4096, "height": 4096}, "width"),
    ],
)
def test_gpt_image_2_sides_that_contradict_the_resolution_are_invalid_dimensions(
    server: LiveServer, rich: tuple[str, httpx.Client], fields: dict[str, object], field: str
) -> None:
    name, client = rich
    balance = server.balance(name)
    payload = {"prompt": "a watch on a wrist", "model": "gpt-image-2", **fields}
    error = _error(client.post(GENERATE, json=payload), 400, "invalid_dimensions")
    message = str(error["message"])
    assert message.startswith(f"{field} "), message
    assert "resolution" in message
    assert _job_rows(server, name) == 0
    assert server.balance(name) == balance


@pytest.mark.slow
def test_nano_banana_pro_ultra_makes_8k(server: LiveServer) -> None:
    name, secret = server.funded_account(credits=1000)
    payload = {"prompt": "a city at night", "model": "nano-banana-pro-ultra"}
    with server.client(secret) as client:
        body = _ok(client.post(GENERATE, json={**payload, "width": 8192, "height": 8192}))
    assert _sizes(body) == [(8192, 8192)]
    assert body["credits_used"] == 1000
    assert server.balance(name) == 0


def test_nano_banana_pro_ultra_refuses_sides_over_8192(
    server: LiveServer, rich: tuple[str, httpx.Client]
) -> None:
    name, client = rich
    for side in ("width", "height"):
        payload = {"prompt": "x", "model": "nano-banana-pro-ultra", side: 8193}
        error = _error(client.post(GENERATE, json=payload), 400, "invalid_dimensions")
        assert str(error["message"]).startswith(f"{side} 8193"), error
        assert "8192" in str(error["message"])
    assert _job_rows(server, name) == 0


def test_unknown_fields_are_ignored(rich: tuple[str, httpx.Client]) -> None:
    _, client = rich
    payload = {
        **EXAMPLE,
        "negative_prompt": "blurry",
        "sdk_version": "3.2.1",
        "metadata": {"campaign": "spring"},
        "seed": "not even a number",
    }
    body = _ok(client.post(GENERATE, json=payload))
    assert body["credits_used"] == 250


def test_price_fields_are_ignored_on_models_without_a_price_table(
    rich: tuple[str, httpx.Client],
) -> None:
    _, client = rich
    payload = {**EXAMPLE, "resolution": "8k", "quality": 7}
    assert _ok(client.post(GENERATE, json=payload))["credits_used"] == 250


def test_every_catalog_image_model_is_served(server: LiveServer) -> None:
    assert server.runtime is not None
    catalog = server.runtime.catalog
    _, secret = server.funded_account(credits=100_000)
    with server.client(secret) as client:
        for entry in catalog.models:
            if entry.kind != JobKind.IMAGE:
                continue
            payload: dict[str, object] = {"prompt": "catalog", "model": entry.id}
            if not entry.limits.resolutions:  # else the resolution's side, 1024 by default
                payload.update(width=256, height=256)
            body = _ok(client.post(GENERATE, json=payload))
            if entry.price_table is None:
                assert body["credits_used"] == entry.credits_per_image, entry.id
            images = body["images"]
            assert isinstance(images, list)
            _assert_jpeg_link(images[0]["url"])


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"model": "flux-2-pro"}, "missing_prompt"),
        ({"prompt": "", "model": "flux-2-pro"}, "missing_prompt"),
        ({"prompt": "   ", "model": "flux-2-pro"}, "missing_prompt"),
        ({"prompt": None, "model": "flux-2-pro"}, "missing_prompt"),
        ({"prompt": 42, "model": "flux-2-pro"}, "missing_prompt"),
        ({"prompt": ["a", "b"], "model": "flux-2-pro"}, "missing_prompt"),
        ({"prompt": "x" * 4001, "model": "flux-2-pro"}, "invalid_parameter"),
        ({"prompt": "x"}, "invalid_model"),
        ({"prompt": "x", "model": "dall-e-9"}, "invalid_model"),
        ({"prompt": "x", "model": 5}, "invalid_model"),
        ({"prompt": "x", "model": None}, "invalid_model"),
        ({"prompt": "x", "model": ""}, "invalid_model"),
        ({"prompt": "x", "model": "FLUX-2-PRO"}, "invalid_model"),
        ({"prompt": "x", "model": "flux-2-pro", "width": "1024"}, "invalid_dimensions"),
        ({"prompt": "x", "model": "flux-2-pro", "width": 1024.5}, "invalid_dimensions"),
        ({"prompt": "x", "model": "flux-2-pro", "width": 1024.0}, "invalid_dimensions"),
        ({"prompt": "x", "model": "flux-2-pro", "height": True}, "invalid_dimensions"),
        ({"prompt": "x", "model": "flux-2-pro", "height": None}, "invalid_dimensions"),
        ({"prompt": "x", "model": "flux-2-pro", "width": 100}, "invalid_dimensions"),
        ({"prompt": "x", "model": "flux-2-pro", "width": 248}, "invalid_dimensions"),
        ({"prompt": "x", "model": "flux-2-pro", "width": 2056}, "invalid_dimensions"),
        ({"prompt": "x", "model": "flux-2-pro", "height": 1020}, "invalid_dimensions"),
        ({"prompt": "x", "model": "flux-2-pro", "height": -1024}, "invalid_dimensions"),
        ({"prompt": "x", "model": "flux-2-pro", "width": 4096}, "invalid_dimensions"),
        ({"prompt": "x", "model": "flux-2-pro", "num_images": 0}, "invalid_parameter"),
        ({"prompt": "x", "model": "flux-2-pro", "num_images": -1}, "invalid_parameter"),
        ({"prompt": "x", "model": "flux-2-pro", "num_images": 5}, "invalid_parameter"),
        ({"prompt": "x", "model": "flux-2-pro", "num_images": "2"}, "invalid_parameter"),
        ({"prompt": "x", "model": "flux-2-pro", "num_images": 1.5}, "invalid_parameter"),
        ({"prompt": "x", "model": "flux-2-pro", "num_images": True}, "invalid_parameter"),
        ({"prompt": "x", "model": "gpt-image-2", "resolution": "8k"}, "invalid_parameter"),
        ({"prompt": "x", "model": "gpt-image-2", "quality": "ultra"}, "invalid_parameter"),
        ({"prompt": "x", "model": "gpt-image-2", "quality": 3}, "invalid_parameter"),
        ({"prompt": "x", "model": "gpt-image-2", "resolution": "2K"}, "invalid_parameter"),
    ],
)
def test_bad_fields_are_400_with_artnex_codes(
    server: LiveServer, rich: tuple[str, httpx.Client], payload: dict[str, object], code: str
) -> None:
    name, client = rich
    balance = server.balance(name)
    _error(client.post(GENERATE, json=payload), 400, code)
    assert _job_rows(server, name) == 0
    assert server.balance(name) == balance


def test_error_messages_name_the_field(rich: tuple[str, httpx.Client]) -> None:
    _, client = rich
    cases = [
        ({"prompt": "x", "model": "flux-2-pro", "width": "1024"}, "width"),
        ({"prompt": "x", "model": "flux-2-pro", "height": 100}, "height"),
        ({"prompt": "x", "model": "flux-2-pro", "num_images": 5}, "num_images"),
        ({"prompt": "x", "model": "gpt-image-2", "resolution": "8k"}, "resolution"),
        ({"prompt": "x", "model": "gpt-image-2", "quality": "ultra"}, "quality"),
        ({"prompt": "x" * 4001, "model": "flux-2-pro"}, "prompt"),
    ]
    for payload, field in cases:
        response = client.post(GENERATE, json=payload)
        assert response.status_code == 400
        assert field in str(response.json()["error"]["message"]), response.text
    unknown = _error(
        client.post(GENERATE, json={"prompt": "x", "model": "dall-e-9"}), 400, "invalid_model"
    )
    assert "dall-e-9" in str(unknown["message"])
    assert "flux-2-pro" in str(unknown["message"]), "the message lists the supported models"
    range_error = _error(
        client.post(GENERATE, json={"prompt": "x", "model": "flux-2-pro", "width": 100}),
        400,
        "invalid_dimensions",
    )
    assert "256" in str(range_error["message"])
    assert "2048" in str(range_error["message"])


def test_the_first_bad_field_in_documented_order_wins(rich: tuple[str, httpx.Client]) -> None:
    _, client = rich
    everything_wrong = {"prompt": "", "model": 5, "width": "x", "num_images": 9}
    _error(client.post(GENERATE, json=everything_wrong), 400, "missing_prompt")
    _error(client.post(GENERATE, json={**everything_wrong, "prompt": "x"}), 400, "invalid_model")
    dims = {"prompt": "x", "model": "flux-2-pro", "width": "x", "num_images": 9}
    _error(client.post(GENERATE, json=dims), 400, "invalid_dimensions")


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"prompt": "x",', "application/json"),
        (b"", "application/json"),
        (b"not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'"a string"', "application/json"),
        (b"null", "application/json"),
        (b"\xff\xfe\xfd", "application/json"),
        (b"prompt=x&model=flux-2-pro", "application/x-www-form-urlencoded"),
        (json.dumps(EXAMPLE).encode(), "text/plain"),
    ],
)
def test_malformed_bodies_are_invalid_parameter(
    server: LiveServer, rich: tuple[str, httpx.Client], content: bytes, content_type: str
) -> None:
    name, client = rich
    response = client.post(GENERATE, content=content, headers={"Content-Type": content_type})
    _error(response, 400, "invalid_parameter")
    assert _job_rows(server, name) == 0


def test_missing_wrong_and_malformed_keys_are_401(server: LiveServer) -> None:
    with server.client() as anonymous:
        _error(anonymous.post(GENERATE, json=EXAMPLE), 401, "invalid_api_key")
        for header in ("Bearer wrong-key", "Basic dXNlcjpwYXNz", "Bearer", "wrong-key"):
            response = anonymous.post(GENERATE, json=EXAMPLE, headers={"Authorization": header})
            _error(response, 401, "invalid_api_key")
    with server.client("ck_definitely_not_a_key") as wrong:
        _error(wrong.post(GENERATE, json=EXAMPLE), 401, "invalid_api_key")


def test_the_key_is_checked_before_the_body(server: LiveServer) -> None:
    with server.client("wrong") as wrong:
        _error(wrong.post(GENERATE, json={}), 401, "invalid_api_key")
        response = wrong.post(GENERATE, content=b"{", headers={"Content-Type": "application/json"})
        _error(response, 401, "invalid_api_key")


def test_zero_balance_is_402_with_no_job_and_no_ledger_change(server: LiveServer) -> None:
    name, secret = server.funded_account()
    with server.client(secret) as client:
        error = _error(client.post(GENERATE, json=EXAMPLE), 402, "insufficient_credits")
    assert "250" in str(error["message"])
    assert _job_rows(server, name) == 0
    assert server.balance(name) == 0
    assert server.ledger_kinds(name) == []


def test_a_short_balance_is_402_and_keeps_every_credit(server: LiveServer) -> None:
    name, secret = server.funded_account(credits=400)
    with server.client(secret) as client:
        two = {**EXAMPLE, "num_images": 2}
        _error(client.post(GENERATE, json=two), 402, "insufficient_credits")
        assert _job_rows(server, name) == 0
        assert server.balance(name) == 400
        assert server.ledger_kinds(name) == ["grant"]
        assert _ok(client.post(GENERATE, json=EXAMPLE))["credits_used"] == 250
    assert server.balance(name) == 150


def test_plan_quota_is_rate_limit_exceeded_with_retry_after(server: LiveServer) -> None:
    name, secret = server.funded_account(plan="free")
    payload = {"prompt": "quota", "model": "creatix-flash", "width": 256, "height": 256}
    with server.client(secret) as client:
        for _ in range(12):
            _ok(client.post(GENERATE, json={**payload, "num_images": 4}))
        over = client.post(GENERATE, json={**payload, "num_images": 4})
        error = _error(over, 429, "rate_limit_exceeded")
        assert "50 images per day" in str(error["message"])
        assert 0 < int(over.headers["Retry-After"]) <= 86400
        _ok(client.post(GENERATE, json={**payload, "num_images": 2}))
        _error(client.post(GENERATE, json=payload), 429, "rate_limit_exceeded")
    assert _job_rows(server, name) == 13


def test_unknown_methods_and_subpaths_answer_in_the_artnex_envelope(
    rich: tuple[str, httpx.Client],
) -> None:
    _, client = rich
    response = client.get(GENERATE)
    _error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]
    _error(client.post(GENERATE + "/batch", json=EXAMPLE), 404, "unknown_url")
    native = client.get("/v1/images/variations").json()
    assert set(native) == {"error"}, "other /v1 paths keep the native envelope"


# -- idempotency -----------------------------------------------------------------------------


def test_same_key_and_body_replays_the_job_and_charges_once(server: LiveServer) -> None:
    name, secret = server.funded_account(credits=1000)
    headers = {"Idempotency-Key": f"order-{uuid.uuid4().hex}"}
    with server.client(secret) as client:
        first = _ok(client.post(GENERATE, json=EXAMPLE, headers=headers))
        again = _ok(client.post(GENERATE, json=EXAMPLE, headers=headers))
        reordered = json.dumps(dict(reversed(list(EXAMPLE.items()))), indent=2).encode()
        third = _ok(
            client.post(
                GENERATE,
                content=reordered,
                headers={**headers, "Content-Type": "application/json"},
            )
        )
    assert first["request_id"] == again["request_id"] == third["request_id"]
    assert first["credits_used"] == again["credits_used"] == 250
    first_images, again_images = first["images"], again["images"]
    assert isinstance(first_images, list)
    assert isinstance(again_images, list)
    assert _download(again_images[0]["url"]).size == (1024, 1024)
    assert server.balance(name) == 750
    assert _job_rows(server, name) == 1


def test_same_key_different_body_is_409(server: LiveServer) -> None:
    name, secret = server.funded_account(credits=1000)
    headers = {"Idempotency-Key": f"order-{uuid.uuid4().hex}"}
    with server.client(secret) as client:
        _ok(client.post(GENERATE, json=EXAMPLE, headers=headers))
        changed = {**EXAMPLE, "prompt": "A different prompt"}
        _error(client.post(GENERATE, json=changed, headers=headers), 409, "idempotency_key_reused")
        extra = {**EXAMPLE, "sdk": "1.0"}
        _error(client.post(GENERATE, json=extra, headers=headers), 409, "idempotency_key_reused")
    assert server.balance(name) == 750
    assert _job_rows(server, name) == 1


def test_without_a_key_each_request_is_a_new_job(server: LiveServer) -> None:
    name, secret = server.funded_account(credits=1000)
    with server.client(secret) as client:
        first = _ok(client.post(GENERATE, json=EXAMPLE))
        second = _ok(client.post(GENERATE, json=EXAMPLE))
    assert first["request_id"] != second["request_id"]
    assert server.balance(name) == 500


def test_keys_are_per_account(server: LiveServer) -> None:
    key = {"Idempotency-Key": f"shared-{uuid.uuid4().hex}"}
    _, one = server.funded_account(credits=1000)
    _, two = server.funded_account(credits=1000)
    with server.client(one) as first, server.client(two) as second:
        a = _ok(first.post(GENERATE, json=EXAMPLE, headers=key))
        b = _ok(second.post(GENERATE, json=EXAMPLE, headers=key))
    assert a["request_id"] != b["request_id"]


def test_an_overlong_idempotency_key_is_invalid_parameter(rich: tuple[str, httpx.Client]) -> None:
    _, client = rich
    response = client.post(GENERATE, json=EXAMPLE, headers={"Idempotency-Key": "k" * 256})
    error = _error(response, 400, "invalid_parameter")
    assert "Idempotency-Key" in str(error["message"])


# -- rate limits, engine failures and outages ------------------------------------------------


class CrashingEngine(PreviewEngine):
    async def generate(
        self,
        model: str,
        specs: Sequence[ImageSpec],
        input_images: Sequence[Image.Image | None] | None = None,
        progress: ProgressCallback | None = None,
        params: EngineParams | None = None,
    ) -> list[list[Image.Image]]:
        raise RuntimeError("secret internal detail: /opt/weights missing")


@pytest.fixture(scope="module")
def odd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Three requests a minute per key, a model whose engine crashes, one whose engine is
    absent."""
    tmp_path: Path = tmp_path_factory.mktemp("artnex-odd")
    data = load_catalog().model_dump(mode="json")
    for plan in data["plans"]:
        plan["requests_per_minute"] = 3
    data["engines"].update({"broken": {"type": "crashing"}, "absent": {"type": "no-such-engine"}})
    data["models"].extend(
        [
            {"id": "crashy", "engine": "broken", "display_name": "Crashy", "credits_per_image": 10},
            {"id": "ghost", "engine": "absent", "display_name": "Ghost", "credits_per_image": 10},
            {
                "id": "lossless",
                "engine": "preview",
                "display_name": "Lossless",
                "credits_per_image": 10,
                "output_format": "png",
            },
        ]
    )
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(yaml.safe_dump(data))
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(registry.FACTORIES, "crashing", lambda options, context: CrashingEngine())
        live = LiveServer(make_settings(tmp_path / "data", catalog=catalog, max_attempts=2))
        live.start()
        yield live
        live.stop()


def test_rate_limit_is_429_with_retry_after(odd_server: LiveServer) -> None:
    _, secret = odd_server.funded_account(credits=10_000)
    payload = {"prompt": "x", "model": "z-image-turbo", "width": 256, "height": 256}
    with odd_server.client(secret) as client:
        for _ in range(3):
            _ok(client.post(GENERATE, json=payload))
        limited = client.post(GENERATE, json=payload)
    _error(limited, 429, "rate_limit_exceeded")
    assert 1 <= int(limited.headers["Retry-After"]) <= 60


def test_engine_failure_is_500_generation_failed_and_refunded(odd_server: LiveServer) -> None:
    name, secret = odd_server.funded_account(credits=1000)
    with odd_server.client(secret) as client:
        response = client.post(GENERATE, json={"prompt": "x", "model": "crashy"})
    error = _error(response, 500, "generation_failed")
    assert error["request_id"] == response.headers["X-Request-ID"]
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text
    assert odd_server.balance(name) == 1000, "a failed generation charges nothing"


def test_absent_engine_is_503_unavailable(odd_server: LiveServer) -> None:
    name, secret = odd_server.funded_account(credits=1000)
    with odd_server.client(secret) as client:
        response = client.post(GENERATE, json={"prompt": "x", "model": "ghost"})
    error = _error(response, 503, "unavailable")
    assert error["request_id"] == response.headers["X-Request-ID"]
    assert _job_rows(odd_server, name) == 0
    assert odd_server.balance(name) == 1000


def test_a_models_catalog_output_format_overrides_jpeg(odd_server: LiveServer) -> None:
    _, secret = odd_server.funded_account(credits=1000)
    payload = {"prompt": "a lossless logo", "model": "lossless", "width": 256, "height": 256}
    with odd_server.client(secret) as client:
        body = _ok(client.post(GENERATE, json=payload))
    images = body["images"]
    assert isinstance(images, list)
    url = images[0]["url"]
    assert httpx.URL(url).path.endswith(".png"), url
    response = httpx.get(url, timeout=60)
    assert response.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(response.content)) as image:
        assert image.format == "PNG"
        assert image.size == (256, 256)
