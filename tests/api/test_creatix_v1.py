"""Creatix v1 through a real HTTP client against a real server: every documented behaviour."""

from __future__ import annotations

import asyncio
import base64
import io
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import numpy as np
import pytest
from PIL import Image

from creatix.engines.preview import PreviewEngine
from creatix.jobs.specs import ImageSpec
from creatix.media.encoding import read_metadata
from creatix.media.sizing import ASPECT_RATIOS, SIZE_SIDES, dimensions
from creatix.media.watermark import watermark_box
from creatix.provenance.mark import detect
from support import LiveServer

GENERATIONS = "/v1/images/generations"


def _image(item: dict[str, str | None]) -> Image.Image:
    assert item["b64_json"] is not None
    return Image.open(io.BytesIO(base64.b64decode(item["b64_json"])))


def _b64(api: httpx.Client, **payload: object) -> list[bytes]:
    response = api.post(GENERATIONS, json={"response_format": "b64_json", **payload})
    assert response.status_code == 200, response.text
    return [base64.b64decode(item["b64_json"]) for item in response.json()["data"]]


# -- the documented examples -----------------------------------------------------------------


def test_curl_example_returns_two_signed_urls_to_1344x768_images(api: httpx.Client) -> None:
    response = api.post(
        GENERATIONS,
        json={
            "prompt": "A majestic mountain landscape at sunset with a calm lake and pine trees, "
            "cinematic lighting",
            "n": 2,
            "size": "1024x1024",
            "aspect_ratio": "16:9",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"created", "data"}
    assert isinstance(body["created"], int)
    assert len(body["data"]) == 2
    assert response.headers["X-Creatix-Engine"] == "preview"
    assert response.headers["X-RateLimit-Limit"] == "600"
    assert response.headers["content-type"] == "application/json"
    for item in body["data"]:
        assert set(item) == {"url", "b64_json"}
        assert item["b64_json"] is None
        url = urlsplit(item["url"])
        assert url.path.startswith("/files/")
        assert url.path.endswith(".png")
        assert {"expires", "signature"} <= set(parse_qs(url.query))
        download = httpx.get(item["url"])
        assert download.status_code == 200
        assert download.headers["content-type"] == "image/png"
        image = Image.open(io.BytesIO(download.content))
        assert image.size == (1344, 768)
        assert read_metadata(download.content)["engine"] == "preview"
    assert body["data"][0]["url"] != body["data"][1]["url"]


@pytest.mark.parametrize(
    "payload",
    [
        {"prompt": "Cyberpunk city at night", "n": 1, "size": "1024x1024"},
        {"prompt": "A cat astronaut floating in space", "n": 1, "size": "1024x1024"},
    ],
    ids=["python-example", "javascript-example"],
)
def test_python_and_javascript_examples(api: httpx.Client, payload: dict[str, object]) -> None:
    response = api.post(GENERATIONS, json=payload)
    assert response.status_code == 200, response.text
    [item] = response.json()["data"]
    assert httpx.get(item["url"]).status_code == 200


def test_defaults_are_one_square_1024_png(api: httpx.Client) -> None:
    [data] = _b64(api, prompt="Minimalist product photo of a perfume bottle")
    image = Image.open(io.BytesIO(data))
    assert (image.format, image.size) == ("PNG", (1024, 1024))


# -- sizing, seeds, formats, styles ----------------------------------------------------------


@pytest.mark.parametrize("aspect_ratio", ASPECT_RATIOS)
@pytest.mark.parametrize("size", list(SIZE_SIDES))
def test_every_size_and_aspect_ratio_has_the_sizing_rules_pixels(
    api: httpx.Client, size: str, aspect_ratio: str
) -> None:
    [data] = _b64(api, prompt="sizing", size=size, aspect_ratio=aspect_ratio, seed=1)
    assert Image.open(io.BytesIO(data)).size == dimensions(SIZE_SIDES[size], aspect_ratio)


@pytest.mark.parametrize(
    ("size", "aspect_ratio", "expected"),
    [
        ("512x512", "16:9", (704, 384)),
        ("1024x1024", "16:9", (1344, 768)),
        ("1024x1024", "1:4", (512, 2048)),
        ("1024x1024", "4:3", (1152, 896)),
        ("2048x2048", "1:1", (2048, 2048)),
        ("2048x2048", "9:16", (1536, 2752)),
    ],
)
def test_the_sizing_rule_gives_the_documented_shapes(
    size: str, aspect_ratio: str, expected: tuple[int, int]
) -> None:
    assert dimensions(SIZE_SIDES[size], aspect_ratio) == expected


def _mean_difference(a: bytes, b: bytes) -> float:
    first = np.asarray(Image.open(io.BytesIO(a)).convert("RGB"), dtype=np.float64)
    second = np.asarray(Image.open(io.BytesIO(b)).convert("RGB"), dtype=np.float64)
    return float(np.abs(first - second).mean())


def test_same_seed_gives_the_same_picture_and_another_seed_does_not(api: httpx.Client) -> None:
    payload = {"prompt": "red sneaker on a blue floor", "size": "512x512", "n": 2}
    first = _b64(api, seed=42, **payload)
    again = _b64(api, seed=42, **payload)
    other = _b64(api, seed=43, **payload)
    # The same picture; only the invisible mark differs, as it names each job.
    assert _mean_difference(first[0], again[0]) < 4
    assert detect(Image.open(io.BytesIO(first[0]))) != detect(Image.open(io.BytesIO(again[0])))
    assert _mean_difference(first[0], first[1]) > 10, "the n images of one request differ"
    assert _mean_difference(first[0], other[0]) > 10


def test_watermark_is_drawn_in_its_box_and_nowhere_else(api: httpx.Client) -> None:
    spec = ImageSpec(prompt="white studio backdrop", width=512, height=512, seed=7)
    [served] = _b64(api, prompt=spec.prompt, size="512x512", seed=spec.seed)
    [[raw]] = asyncio.run(PreviewEngine().generate("creatix-flash", [spec]))
    served_pixels = np.asarray(Image.open(io.BytesIO(served)).convert("RGB"), dtype=np.float64)
    difference = np.abs(served_pixels - np.asarray(raw.convert("RGB"), dtype=np.float64))
    left, top, right, bottom = watermark_box(512, 512)
    inside = difference[top:bottom, left:right]
    outside = difference.copy()
    outside[top:bottom, left:right] = 0
    area = (right - left) * (bottom - top)
    # Outside the box only the invisible mark: a few levels on average.
    assert outside.sum() / (outside.size - area * 3) < 3
    changed = (inside.max(axis=2) > 16).sum()
    assert changed > area * 0.3, "the mark covers a good part of its box"


@pytest.mark.parametrize(("output_format", "pil_format"), [("jpeg", "JPEG"), ("webp", "WEBP")])
def test_output_format(api: httpx.Client, output_format: str, pil_format: str) -> None:
    response = api.post(
        GENERATIONS, json={"prompt": "a lemon", "size": "512x512", "output_format": output_format}
    )
    assert response.status_code == 200, response.text
    download = httpx.get(response.json()["data"][0]["url"])
    assert download.headers["content-type"] == f"image/{output_format}"
    assert Image.open(io.BytesIO(download.content)).format == pil_format
    assert read_metadata(download.content)["engine"] == "preview"


def test_style_negative_prompt_and_quality_change_the_image(api: httpx.Client) -> None:
    base = {"prompt": "orange and purple poster", "size": "512x512", "seed": 5}
    [plain] = _b64(api, **base)
    [styled] = _b64(api, **base, style="neon")
    [negated] = _b64(api, **base, negative_prompt="purple")
    [hd] = _b64(api, **base, quality="hd")
    assert len({plain, styled, negated, hd}) == 4


def test_openai_user_field_is_accepted(api: httpx.Client) -> None:
    response = api.post(GENERATIONS, json={"prompt": "a kite", "size": "512x512", "user": "u-1"})
    assert response.status_code == 200


# -- links -----------------------------------------------------------------------------------


def test_file_links_are_signed_and_expire(api: httpx.Client, server: LiveServer) -> None:
    response = api.post(GENERATIONS, json={"prompt": "a boat", "size": "512x512"})
    url = urlsplit(response.json()["data"][0]["url"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    base = f"{server.url}{url.path}"
    assert httpx.get(f"{base}?{urlencode(query)}").status_code == 200
    tampered = {**query, "signature": query["signature"][:-2] + "xx"}
    assert httpx.get(f"{base}?{urlencode(tampered)}").status_code == 403
    later = {**query, "expires": str(int(query["expires"]) + 60)}
    assert httpx.get(f"{base}?{urlencode(later)}").status_code == 403
    assert server.runtime is not None
    key = url.path.removeprefix("/files/")
    expired, signature = server.runtime.signer.sign(key, -1)
    stale = httpx.get(f"{base}?{urlencode({'expires': expired, 'signature': signature})}")
    assert stale.status_code == 403
    assert stale.json()["error"]["code"] == "invalid_signature"
    assert httpx.get(f"{server.url}/files/../secret.key?expires=1&signature=x").status_code in (
        403,
        404,
    )


# -- models, health, docs --------------------------------------------------------------------


def test_models_list_names_engine_limits_and_availability(api: httpx.Client) -> None:
    response = api.get("/v1/models")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    models = {m["id"]: m for m in body["data"]}
    assert {"creatix-flash", "creatix-pro"} <= set(models)
    flash = models["creatix-flash"]
    assert flash["object"] == "model"
    assert flash["engine"] == "preview"
    assert flash["available"] is True
    assert flash["limits"]["max_n"] == 4
    # No CREATIX_C2PA_CERT here: outputs are signed with the development certificate.
    assert flash["provenance"] == {
        "c2pa": True,
        "development_certificate": True,
        "invisible_mark": True,
    }
    assert api.get("/v1/models/creatix-pro").json()["id"] == "creatix-pro"
    missing = api.get("/v1/models/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["param"] == "model"


def test_healthz_and_docs(server: LiveServer) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    schema = httpx.get(f"{server.url}/openapi.json").json()
    operation = schema["paths"]["/v1/images/generations"]["post"]
    body_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][body_ref.rsplit("/", 1)[1]]["properties"]
    assert {"prompt", "model", "n", "size", "aspect_ratio", "response_format", "quality"} <= set(
        fields
    )
    assert fields["n"]["maximum"] == 4
    docs = httpx.get(f"{server.url}/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


def test_every_response_carries_a_request_id(api: httpx.Client) -> None:
    assert api.get("/v1/models").headers["X-Request-ID"].startswith("req_")
    echoed = api.get("/v1/models", headers={"X-Request-ID": "trace-123"})
    assert echoed.headers["X-Request-ID"] == "trace-123"


def test_an_idempotency_key_replays_the_original_generation(api: httpx.Client) -> None:
    payload = {"prompt": "idempotent kite", "size": "512x512", "response_format": "b64_json"}
    headers = {"Idempotency-Key": "campaign-7-banner"}
    first = api.post(GENERATIONS, json=payload, headers=headers)
    again = api.post(GENERATIONS, json=payload, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.headers["X-Creatix-Job-Id"] == again.headers["X-Creatix-Job-Id"]
    assert first.json()["data"] == again.json()["data"]
    other = api.post(GENERATIONS, json={**payload, "n": 2}, headers=headers)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"
