"""The platform API's image side through a real HTTP client against a real server: models,
styles, asynchronous generate, polling, listing, deletion, accounts kept apart, and every
validation error as a 400 naming its field in the platform envelope."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from PIL import Image
from sqlalchemy.orm import Session

from creatix.accounts.service import account_named
from creatix.catalog.loader import load_catalog
from creatix.kit.clock import utcnow
from creatix.kit.ids import new_id
from creatix.uploads.models import UploadRow
from support import LiveServer, make_settings

API = "/api/platform"

# The reference's generate example, exactly as written: "nano-banana-2" is in the catalog.
EXAMPLE = {
    "prompt": "Luxury perfume bottle on marble surface, soft studio lighting",
    "modelId": "nano-banana-2",
    "aspectRatio": "1:1",
    "stylePreset": "studio-product",
}
CATALOG_MODEL = "nano-banana-2"
CATALOG_MODEL_PRICE = 400

GENERATION_FIELDS = {
    "id",
    "status",
    "progress",
    "prompt",
    "image_url",
    "image_urls",
    "model_id",
    "aspect_ratio",
    "style_preset",
    "batch_count",
    "created_at",
    "completed_at",
    "error",
}


# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    """A client with a fresh key of a fresh account."""
    with server.client(server.funded_account()[1]) as client:
        yield client


def _generate(client: httpx.Client, **fields: Any) -> str:
    body = {"prompt": "a red sneaker on a white table", "modelId": "creatix-flash", **fields}
    response = client.post(f"{API}/generate", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def _poll(client: httpx.Client, generation_id: str, timeout: float = 30) -> dict[str, Any]:
    """The generation once it is no longer processing."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"{API}/generations/{generation_id}")
        assert response.status_code == 200, response.text
        generation: dict[str, Any] = response.json()["generation"]
        if generation["status"] != "processing":
            return generation
        assert time.monotonic() < deadline, f"still processing after {timeout}s"
        time.sleep(0.05)


def _download(url: str) -> Image.Image:
    response = httpx.get(url, timeout=60)
    assert response.status_code == 200, response.text
    return Image.open(io.BytesIO(response.content))


def _png(width: int = 64, height: int = 64) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 60)).save(buffer, format="PNG")
    return buffer.getvalue()


def _upload(server: LiveServer, account: str, *, stored: bool = True) -> str:
    """An upload of the account's, made directly (the upload endpoint is not this test's)."""
    assert server.runtime is not None
    runtime = server.runtime
    data = _png()
    path = f"uploads/{account}/{uuid.uuid4().hex}.png"
    if stored:
        server.call(runtime.storage.put(path, data, "image/png"))

    def insert(session: Session) -> None:
        owner = account_named(session, account)
        session.add(
            UploadRow(
                id=new_id("upl"),
                account_id=owner.id,
                path=path,
                mime_type="image/png",
                size_bytes=len(data),
                width=64,
                height=64,
                created_at=utcnow(),
            )
        )

    server.call(runtime.db.write(insert))
    return path


def _assert_error(response: httpx.Response, status: int, param: str | None = None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"code", "message"}
    assert error["message"]
    assert error.get("param") == param, error


# -- the documented example ------------------------------------------------------------------


def test_the_generate_example_runs_with_a_catalog_model(server: LiveServer) -> None:
    _, secret = server.funded_account(credits=1000)
    with server.client(secret) as client:
        response = client.post(f"{API}/generate", json=EXAMPLE)
        assert response.status_code == 202, response.text
        accepted = response.json()
        assert set(accepted) == {"id", "status"}
        assert accepted["status"] == "processing"

        generation = _poll(client, accepted["id"])
        assert set(generation) == GENERATION_FIELDS
        assert generation["status"] == "completed"
        assert generation["id"] == accepted["id"]
        assert generation["prompt"] == EXAMPLE["prompt"]
        assert generation["model_id"] == CATALOG_MODEL
        assert generation["aspect_ratio"] == "1:1"
        assert generation["style_preset"] == "studio-product"
        assert generation["batch_count"] == 1
        assert generation["error"] is None
        assert generation["image_urls"] == [generation["image_url"]]
        created = datetime.fromisoformat(generation["created_at"])
        completed = datetime.fromisoformat(generation["completed_at"])
        assert created.tzinfo is not None
        assert completed >= created

        image = _download(generation["image_url"])
        assert image.format == "PNG"
        assert image.size == (1024, 1024)

        credits = client.get(f"{API}/credits").json()
    assert credits["balance"] == 1000 - CATALOG_MODEL_PRICE
    assert credits["lifetimeUsed"] == CATALOG_MODEL_PRICE


def test_an_unknown_model_id_is_a_400_naming_model_id(client: httpx.Client) -> None:
    response = client.post(f"{API}/generate", json={**EXAMPLE, "modelId": "nano-banana-9"})
    _assert_error(response, 400, "modelId")
    error = response.json()["error"]
    assert error["code"] == "model_not_found"
    assert "nano-banana-9" in error["message"]
    assert CATALOG_MODEL in error["message"]


def test_the_poll_example_answers_404_for_an_unknown_id(client: httpx.Client) -> None:
    response = client.get(f"{API}/generations/GEN_ID")
    _assert_error(response, 404)
    assert response.json()["error"]["code"] == "not_found"


# -- generating ------------------------------------------------------------------------------


def test_batch_count_makes_that_many_images(client: httpx.Client) -> None:
    generation = _poll(client, _generate(client, batchCount=3))
    assert generation["status"] == "completed"
    assert generation["batch_count"] == 3
    urls = generation["image_urls"]
    assert len(urls) == 3
    assert len(set(urls)) == 3
    assert generation["image_url"] == urls[0]
    for url in urls:
        assert _download(url).size == (1024, 1024)


def test_aspect_ratio_shapes_the_1024_budget(client: httpx.Client) -> None:
    generation = _poll(client, _generate(client, aspectRatio="16:9"))
    assert generation["status"] == "completed"
    assert generation["aspect_ratio"] == "16:9"
    assert _download(generation["image_url"]).size == (1344, 768)


def test_a_style_preset_is_echoed_and_the_prompt_kept_as_sent(client: httpx.Client) -> None:
    prompt = "a glass of orange juice"
    styled = _poll(client, _generate(client, prompt=prompt, stylePreset="studio-product"))
    plain = _poll(client, _generate(client, prompt=prompt))
    assert styled["status"] == plain["status"] == "completed"
    assert styled["style_preset"] == "studio-product"
    assert plain["style_preset"] is None
    assert styled["prompt"] == plain["prompt"] == prompt


def test_a_reference_image_of_ones_own_is_used(server: LiveServer) -> None:
    name, secret = server.funded_account()
    path = _upload(server, name)
    with server.client(secret) as client:
        generation = _poll(client, _generate(client, modelId="creatix-pro", inputImagePath=path))
    assert generation["status"] == "completed"
    assert _download(generation["image_url"]).size == (1024, 1024)


def test_upload_then_generate_from_it(server: LiveServer) -> None:
    """The reference's flow: POST /upload, then its path as inputImagePath; it is the
    uploader's alone."""
    with (
        server.client(server.funded_account()[1]) as owner,
        server.client(server.funded_account()[1]) as stranger,
    ):
        uploaded = owner.post(f"{API}/upload", files={"file": ("product.png", _png(), "image/png")})
        assert uploaded.status_code == 201, uploaded.text
        path = uploaded.json()["path"]
        generation = _poll(owner, _generate(owner, modelId="creatix-pro", inputImagePath=path))
        assert generation["status"] == "completed"
        response = stranger.post(
            f"{API}/generate", json={**VALID, "modelId": "creatix-pro", "inputImagePath": path}
        )
        _assert_error(response, 400, "inputImagePath")


def test_a_failed_generation_says_why(server: LiveServer) -> None:
    name, secret = server.funded_account()
    path = _upload(server, name, stored=False)  # recorded, but its file is gone
    with server.client(secret) as client:
        generation = _poll(client, _generate(client, modelId="creatix-pro", inputImagePath=path))
    assert generation["status"] == "failed"
    assert generation["error"]
    assert generation["image_url"] is None
    assert generation["image_urls"] == []
    assert generation["completed_at"] is not None


def test_the_same_idempotency_key_starts_one_generation(client: httpx.Client) -> None:
    body = {"prompt": "a blue teapot", "modelId": "creatix-flash"}
    headers = {"Idempotency-Key": f"platform-{uuid.uuid4().hex}"}
    first = client.post(f"{API}/generate", json=body, headers=headers)
    again = client.post(f"{API}/generate", json=body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    listed = client.get(f"{API}/generations").json()
    assert [g["id"] for g in listed] == [first.json()["id"]]
    other = client.post(f"{API}/generate", json={**body, "batchCount": 2}, headers=headers)
    _assert_error(other, 409)
    assert other.json()["error"]["code"] == "idempotency_key_reused"


def test_a_queued_generation_is_processing_until_a_worker_takes_it(tmp_path: Path) -> None:
    idle = LiveServer(make_settings(tmp_path, run_worker=False)).start()
    try:
        with idle.client(idle.key(plan="paid")) as client:
            generation_id = _generate(client)
            response = client.get(f"{API}/generations/{generation_id}")
            generation = response.json()["generation"]
            assert generation["status"] == "processing"
            assert generation["image_url"] is None
            assert generation["image_urls"] == []
            assert generation["completed_at"] is None
            assert generation["error"] is None
            # Deleting one still processing cancels it.
            assert client.delete(f"{API}/generations/{generation_id}").json() == {"deleted": True}
            _assert_error(client.get(f"{API}/generations/{generation_id}"), 404)
    finally:
        idle.stop()


def test_progress_rises_while_processing_and_is_100_when_completed(tmp_path: Path) -> None:
    catalog = load_catalog().model_dump(mode="json")
    catalog["engines"]["preview"]["options"] = {"delay_seconds": 2.0}
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(catalog))
    slow = LiveServer(make_settings(tmp_path / "data", catalog=tmp_path / "catalog.yaml")).start()
    try:
        with slow.client(slow.key(plan="paid")) as client:
            generation_id = _generate(client)
            seen: list[int] = []
            deadline = time.monotonic() + 60
            while True:
                generation = client.get(f"{API}/generations/{generation_id}").json()["generation"]
                if generation["status"] != "processing":
                    break
                seen.append(generation["progress"])
                assert time.monotonic() < deadline, f"still processing after 60 s: {seen}"
                time.sleep(0.1)
    finally:
        slow.stop()
    assert generation["status"] == "completed"
    assert generation["progress"] == 100
    during = [percent for percent in seen if 0 < percent < 100]
    assert len(set(during)) >= 3, f"progress seen while processing: {seen}"
    assert seen == sorted(seen), "progress never goes back"


# -- models and styles -----------------------------------------------------------------------


def test_models_list_the_image_models_and_aspect_ratios(client: httpx.Client) -> None:
    response = client.get(f"{API}/models")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"models", "aspectRatios"}
    models = {m["id"]: m for m in body["models"]}
    for model in models.values():
        assert set(model) == {
            "id",
            "displayName",
            "creditsCost",
            "estimatedSeconds",
            "supportsImageInput",
            "maxWidth",
            "maxHeight",
        }
    assert models["creatix-flash"] == {
        "id": "creatix-flash",
        "displayName": "Creatix Flash",
        "creditsCost": 0,
        "estimatedSeconds": 2,
        "supportsImageInput": False,
        "maxWidth": 4096,
        "maxHeight": 4096,
    }
    assert models["creatix-pro"]["supportsImageInput"] is True
    assert models["z-image-turbo"]["creditsCost"] == 100
    assert models["z-image-turbo"]["maxWidth"] == 2048
    assert models[CATALOG_MODEL]["creditsCost"] == CATALOG_MODEL_PRICE
    assert models["gpt-image-2"]["creditsCost"] == 150  # its table's default, 1k/medium
    ratios = {r["id"]: r for r in body["aspectRatios"]}
    assert list(ratios) == ["1:1", "16:9", "9:16", "4:3", "3:4", "1:4", "4:1"]
    assert ratios["1:1"] == {"id": "1:1", "label": "Square", "width": 1024, "height": 1024}
    assert ratios["16:9"] == {
        "id": "16:9",
        "label": "Landscape 16:9",
        "width": 1344,
        "height": 768,
    }
    assert ratios["1:4"]["width"] == 512
    assert ratios["1:4"]["height"] == 2048


def test_styles_list_the_presets(client: httpx.Client) -> None:
    response = client.get(f"{API}/styles")
    assert response.status_code == 200
    styles = response.json()["styles"]
    for style in styles:
        assert set(style) == {"id", "displayName", "category", "promptSuffix"}
    by_id = {s["id"]: s for s in styles}
    assert by_id["studio-product"] == {
        "id": "studio-product",
        "displayName": "Studio Product",
        "category": "product",
        "promptSuffix": "studio product shot, seamless backdrop, softbox lighting, "
        "crisp reflections",
    }
    assert by_id["lifestyle"]["category"] == "lifestyle"


# -- listing and deleting --------------------------------------------------------------------


def test_generations_list_newest_first_with_limit_and_offset(client: httpx.Client) -> None:
    assert client.get(f"{API}/generations").json() == []
    ids = [_generate(client, prompt=f"poster number {i}") for i in range(3)]
    newest_first = list(reversed(ids))
    for generation_id in ids:
        _poll(client, generation_id)

    listed = client.get(f"{API}/generations").json()
    assert [g["id"] for g in listed] == newest_first
    assert all(set(g) == GENERATION_FIELDS for g in listed)
    assert [g["prompt"] for g in listed] == [f"poster number {i}" for i in (2, 1, 0)]
    assert all(g["status"] == "completed" and g["image_url"] for g in listed)

    def page(**params: int) -> list[str]:
        response = client.get(f"{API}/generations", params=params)
        assert response.status_code == 200, response.text
        return [g["id"] for g in response.json()]

    assert page(limit=2) == newest_first[:2]
    assert page(limit=2, offset=2) == newest_first[2:]
    assert page(limit=1, offset=1) == newest_first[1:2]
    assert page(offset=3) == []
    assert page(limit=100) == newest_first


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": "x"}, "offset"),
    ],
)
def test_bad_paging_is_a_400_naming_it(
    client: httpx.Client, params: dict[str, object], param: str
) -> None:
    _assert_error(client.get(f"{API}/generations", params=params), 400, param)


def test_delete_removes_the_record_and_its_files(client: httpx.Client) -> None:
    generation = _poll(client, _generate(client, batchCount=2))
    urls = generation["image_urls"]
    assert all(httpx.get(url).status_code == 200 for url in urls)

    response = client.delete(f"{API}/generations/{generation['id']}")
    assert response.status_code == 200
    assert response.json() == {"deleted": True}

    _assert_error(client.get(f"{API}/generations/{generation['id']}"), 404)
    assert client.get(f"{API}/generations").json() == []
    for url in urls:
        assert httpx.get(url).status_code == 404
    _assert_error(client.delete(f"{API}/generations/{generation['id']}"), 404)


def _unsigned(generation: dict[str, Any]) -> dict[str, Any]:
    """The generation with its URLs' queries (signature, expiry) cut off."""
    paths = [url.split("?", 1)[0] for url in generation["image_urls"]]
    return generation | {"image_url": paths[0], "image_urls": paths}


def test_accounts_never_see_each_others_generations(server: LiveServer) -> None:
    with (
        server.client(server.funded_account()[1]) as owner,
        server.client(server.funded_account()[1]) as stranger,
    ):
        generation = _poll(owner, _generate(owner))
        path = f"{API}/generations/{generation['id']}"

        _assert_error(stranger.get(path), 404)
        _assert_error(stranger.delete(path), 404)
        assert stranger.get(f"{API}/generations").json() == []
        for unknown in (f"{API}/generations/job_doesnotexist", f"{API}/generations/x"):
            _assert_error(stranger.get(unknown), 404)
            _assert_error(stranger.delete(unknown), 404)

        # The stranger's attempts changed nothing.
        # Their signed URLs expire at the next whole minute, so the query may differ.
        shown = owner.get(path).json()["generation"]
        assert _unsigned(shown) == _unsigned(generation)
        assert httpx.get(generation["image_url"]).status_code == 200
        assert [g["id"] for g in owner.get(f"{API}/generations").json()] == [generation["id"]]


# -- validation ------------------------------------------------------------------------------

VALID = {"prompt": "a red sneaker", "modelId": "creatix-flash"}


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"prompt": "ab"}, "prompt"),
        ({"prompt": "   "}, "prompt"),
        ({"prompt": "x" * 1001}, "prompt"),
        ({"prompt": 42}, "prompt"),
        ({"prompt": None}, "prompt"),
        ({"modelId": "nope"}, "modelId"),
        ({"modelId": None}, "modelId"),
        ({"aspectRatio": "2:1"}, "aspectRatio"),
        ({"aspectRatio": "1024x1024"}, "aspectRatio"),
        ({"negativePrompt": "n" * 501}, "negativePrompt"),
        ({"batchCount": 0}, "batchCount"),
        ({"batchCount": 5}, "batchCount"),
        ({"batchCount": "2"}, "batchCount"),
        ({"batchCount": 2.5}, "batchCount"),
        ({"stylePreset": "no-such-style"}, "stylePreset"),
        ({"inputImagePath": "someone/else.png", "modelId": "creatix-pro"}, "inputImagePath"),
        ({"batch_count": 2}, "batch_count"),
    ],
)
def test_bad_fields_are_a_400_naming_the_field(
    client: httpx.Client, change: dict[str, object], param: str
) -> None:
    body = {**VALID, **change}
    body = {key: value for key, value in body.items() if value is not None}
    response = client.post(f"{API}/generate", json=body)
    _assert_error(response, 400, param)
    assert client.get(f"{API}/generations").json() == []


def test_limits_at_the_edges_are_accepted(client: httpx.Client) -> None:
    body = {
        **VALID,
        "prompt": "p" * 1000,
        "negativePrompt": "n" * 500,
        "batchCount": 4,
        "stylePreset": "luxury",
    }
    response = client.post(f"{API}/generate", json=body)
    assert response.status_code == 202, response.text
    assert _poll(client, response.json()["id"])["status"] == "completed"
    assert client.post(f"{API}/generate", json={**VALID, "prompt": "abc"}).status_code == 202


def test_another_accounts_upload_is_a_400_naming_input_image_path(server: LiveServer) -> None:
    owner, _ = server.funded_account()
    path = _upload(server, owner)
    with server.client(server.funded_account()[1]) as stranger:
        response = stranger.post(
            f"{API}/generate", json={**VALID, "modelId": "creatix-pro", "inputImagePath": path}
        )
    _assert_error(response, 400, "inputImagePath")


def test_an_input_image_on_a_model_without_image_input_is_a_400(server: LiveServer) -> None:
    name, secret = server.funded_account()
    path = _upload(server, name)
    with server.client(secret) as client:
        response = client.post(f"{API}/generate", json={**VALID, "inputImagePath": path})
    _assert_error(response, 400, "inputImagePath")


def test_bodies_that_are_not_json_objects_are_a_400(client: httpx.Client) -> None:
    not_json = client.post(
        f"{API}/generate", content=b"prompt=x", headers={"Content-Type": "text/plain"}
    )
    _assert_error(not_json, 400)
    broken = client.post(
        f"{API}/generate", content=b"{", headers={"Content-Type": "application/json"}
    )
    _assert_error(broken, 400)
    array = client.post(f"{API}/generate", json=[VALID])
    _assert_error(array, 400)


def test_a_priced_model_without_credits_is_a_402(client: httpx.Client) -> None:
    response = client.post(f"{API}/generate", json={**VALID, "modelId": CATALOG_MODEL})
    _assert_error(response, 402)
    assert response.json()["error"]["code"] == "insufficient_credits"


def test_every_endpoint_needs_a_key(server: LiveServer) -> None:
    with server.client() as anonymous:
        for method, path in [
            ("GET", "/models"),
            ("GET", "/styles"),
            ("POST", "/generate"),
            ("GET", "/generations"),
            ("GET", "/generations/job_x"),
            ("DELETE", "/generations/job_x"),
        ]:
            response = anonymous.request(method, f"{API}{path}", json=VALID)
            _assert_error(response, 401)
            assert response.json()["error"]["code"] == "invalid_api_key"


def test_the_list_is_a_bare_array_paged_by_limit_and_offset(client: httpx.Client) -> None:
    made = [
        client.post(f"{API}/generate", json={"prompt": f"a teapot {n}", "modelId": "creatix-flash"})
        for n in range(3)
    ]
    assert [r.status_code for r in made] == [202, 202, 202]
    newest_first = [r.json()["id"] for r in reversed(made)]
    everything = client.get(f"{API}/generations")
    assert everything.status_code == 200
    assert everything.headers["X-Total-Count"] == "3"
    assert [g["id"] for g in everything.json()] == newest_first
    page = client.get(f"{API}/generations", params={"limit": 1, "offset": 1})
    assert page.headers["X-Total-Count"] == "3"
    assert [g["id"] for g in page.json()] == newest_first[1:2]
    beyond = client.get(f"{API}/generations", params={"offset": 3})
    assert beyond.json() == []
    assert beyond.headers["X-Total-Count"] == "3"
