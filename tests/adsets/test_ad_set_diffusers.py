"""Ad sets whose key visuals a tiny random Stable Diffusion pipeline draws on the CPU (the real
diffusers engine, served through a catalog entry), with the copy from the preview text engine.

A set is checked from what the server made: it completes, every creative has its placement's
exact size, the creative is the composition of the stored key visual (so the text boxes the
layout step measured on it are the served creative's) and every glyph pixel lies inside a text
box inside the placement's safe zone, and the credits settled are the sum of the parts.

The key visual is sized for the largest placement (its sides rounded to multiples of 16, as
latent diffusion models need, and within the model's largest side). A tiny SD pipeline on one
CPU thread takes about 7 s at 256x448 and 107 s at 512x896 (the VAE's mid-block attention grows
with the square of the pixels), so a set holding a feed or story preset (1080x1920) is out of
reach here; the nine presets are asked of the model (accepted or refused at submit, on a server
with no worker) and the set that is made end to end holds the display presets with the
smallest key visual.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
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

from creatix.brands.schemas import BrandColors, BrandKit
from creatix.brands.service import brand_style
from creatix.catalog.loader import load_catalog
from creatix.layout import PLACEMENTS, AdCopy, BrandStyle, compose_layers
from creatix.media.finishing import decode_image
from support import LiveServer, make_settings

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]

AD_SETS = "/api/platform/ad-sets"
PRICE = 10
COLORS = {"primary": "#0a4d8c", "secondary": "#f2cc60", "background": "#ffffff", "text": "#111111"}
KIT = {"name": "Northwind", "colors": COLORS, "defaultCta": "Shop now"}
BRIEF = {"product": "cold brew coffee", "audience": "busy commuters", "offer": "20% off"}
MADE = ["display_728x90", "display_160x600"]
"""Display presets whose largest (160x600: a key visual of 160x608) SD can draw in seconds."""
INVISIBLE_MARK = 40
"""Most a pixel channel of a creative may differ from the same composition made here: the
key visual job's invisible mark (a paid plan gets no visible one)."""


def _catalog(tmp_path: Path, tiny_sd: Path) -> Path:
    data = load_catalog().model_dump(mode="json")
    data["engines"]["diffusers"] = {
        "type": "diffusers",
        "options": {"device": "cpu", "steps": 1, "max_batch": 1},
    }
    tiny = {
        "engine": "diffusers",
        "engine_model": str(tiny_sd),
        "credits_per_image": PRICE,
        "output_format": "png",
        "estimated_seconds": 5,
    }
    data["models"].extend(
        [
            {
                **tiny,
                "id": "tiny-sd",
                "display_name": "Tiny SD",
                "limits": {"max_n": 4, "min_side": 64, "max_side": 2048},
            },
            {
                **tiny,
                "id": "tiny-sd-128",
                "display_name": "Tiny SD, 128 px at most",
                "limits": {"max_n": 4, "min_side": 64, "max_side": 128},
            },
        ]
    )
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(yaml.safe_dump(data))
    return catalog


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, tiny_sd: Path) -> Iterator[LiveServer]:
    """A server with its worker and layout step: sets are made end to end."""
    tmp_path = tmp_path_factory.mktemp("ad-set-diffusers")
    live = LiveServer(make_settings(tmp_path / "data", catalog=_catalog(tmp_path, tiny_sd)))
    yield live.start()
    live.stop()


@pytest.fixture(scope="module")
def asked(tmp_path_factory: pytest.TempPathFactory, tiny_sd: Path) -> Iterator[LiveServer]:
    """A server with no worker: sets are checked and reserved at submit, never drawn."""
    tmp_path = tmp_path_factory.mktemp("ad-set-diffusers-asked")
    settings = make_settings(
        tmp_path / "data", catalog=_catalog(tmp_path, tiny_sd), run_worker=False
    )
    live = LiveServer(settings)
    yield live.start()
    live.stop()


def _body(kit_id: str, placements: list[str], **changes: Any) -> dict[str, Any]:
    return {
        "brandKitId": kit_id,
        "brief": BRIEF,
        "placements": placements,
        "variants": 2,
        "imageModel": "tiny-sd",
        "copyModel": "gemini-2.5-flash",
        **changes,
    }


def _kit_id(client: httpx.Client) -> str:
    created = client.post("/api/platform/brand-kits", json=KIT)
    assert created.status_code == 201, created.text
    kit_id: str = created.json()["id"]
    return kit_id


def _finished(client: httpx.Client, ad_set_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        response = client.get(f"{AD_SETS}/{ad_set_id}")
        assert response.status_code == 200, response.text
        ad_set: dict[str, Any] = response.json()["adSet"]
        if ad_set["status"] != "processing":
            return ad_set
        time.sleep(0.2)
    raise AssertionError(f"the ad set did not finish: {ad_set}")


def _key_visual(server: LiveServer, job_id: str) -> Image.Image:
    assert server.runtime is not None
    job = server.call(server.runtime.jobs.get(job_id))
    data = server.call(server.runtime.storage.get(job.assets[0].storage_key))
    return decode_image(data)


def _inside(box: tuple[int, int, int, int], zone: tuple[int, int, int, int]) -> bool:
    return zone[0] <= box[0] and zone[1] <= box[1] and box[2] <= zone[2] and box[3] <= zone[3]


def _check_creative(
    creative: dict[str, Any], visual: Image.Image, copy: dict[str, str], style: BrandStyle
) -> None:
    """The served creative is the composition of ``visual`` (less the invisible mark), at the
    placement's size, with every glyph pixel inside a text box inside the safe zone."""
    placement = PLACEMENTS[creative["placement"]]
    assert (creative["width"], creative["height"]) == (placement.width, placement.height)
    served = httpx.get(creative["url"])
    assert served.status_code == 200
    with Image.open(io.BytesIO(served.content)) as image:
        assert image.format == "PNG"
        assert image.size == (placement.width, placement.height)
        pixels = np.asarray(image.convert("RGB"), dtype=np.int16)
    ad_copy = AdCopy(
        headline=copy["headline"],
        body=copy["body"] if placement.body_chars else "",
        cta=copy["cta"],
    )
    layers = compose_layers(visual, ad_copy, style, placement)
    expected = np.asarray(layers.composition.image, dtype=np.int16)
    assert np.abs(pixels - expected).max() < INVISIBLE_MARK, creative["placement"]
    changed = np.any(expected != np.asarray(layers.backdrop, dtype=np.int16), axis=-1)
    covered = np.zeros_like(changed)
    boxes = layers.composition.text_boxes
    assert [t.role for t in boxes] == ["headline", *(["body"] * bool(ad_copy.body)), "cta"]
    for text in boxes:
        assert _inside(text.box, placement.safe_zone), (text.role, text.box, placement)
        left, top, right, bottom = text.box
        assert changed[top:bottom, left:right].any(), f"nothing drawn in the {text.role} box"
        covered[top:bottom, left:right] = True
        assert text.contrast >= 4.5, (text.role, text.contrast)
    assert not (changed & ~covered).any(), "a glyph pixel outside every text box"


def test_a_set_drawn_by_diffusers_completes_in_every_placement(made: LiveServer) -> None:
    name, secret = made.funded_account(credits=10_000)
    with made.client(secret) as client:
        started = client.post(AD_SETS, json=_body(_kit_id(client), MADE))
        assert started.status_code == 202, started.text
        ad_set = _finished(client, started.json()["id"])
    assert ad_set["status"] == "completed", ad_set
    assert [(p["name"], p["width"], p["height"]) for p in ad_set["placements"]] == [
        (n, PLACEMENTS[n].width, PLACEMENTS[n].height) for n in MADE
    ]
    parts = ad_set["parts"]
    assert [p["role"] for p in parts] == ["copy", "visual", "visual"]
    assert all(p["status"] == "completed" for p in parts), parts
    assert [p["creditsCharged"] for p in parts[1:]] == [PRICE, PRICE]
    charged = sum(p["creditsCharged"] for p in parts)
    assert ad_set["creditsCharged"] == charged
    assert made.balance(name) == 10_000 - charged

    kit = BrandKit(
        id="k",
        account_id="a",
        name="Northwind",
        colors=BrandColors(**COLORS),
        font_name="open-sans-bold",
        created_at=ad_set["createdAt"],
        updated_at=ad_set["createdAt"],
    )
    assert made.runtime is not None
    style = made.call(brand_style(kit, made.runtime.storage))
    visuals = {p["variant"]: _key_visual(made, p["jobId"]) for p in parts[1:]}
    assert {v.size for v in visuals.values()} == {(160, 608)}, "the largest placement's, stepped"
    assert visuals[0].tobytes() != visuals[1].tobytes(), "two variants, two pictures"
    for variant in ad_set["variants"]:
        assert variant["status"] == "completed", variant
        assert [c["placement"] for c in variant["creatives"]] == MADE
        for creative in variant["creatives"]:
            _check_creative(creative, visuals[variant["index"]], variant["copy"], style)


PRESET_ORDER = [
    "square_feed",
    "portrait_feed",
    "story",
    "landscape_link",
    "display_300x250",
    "display_728x90",
    "display_160x600",
    "display_300x600",
    "display_970x250",
]


def test_the_nine_presets_are_accepted_and_reserved_as_the_sum_of_the_parts(
    asked: LiveServer,
) -> None:
    assert sorted(PRESET_ORDER) == sorted(PLACEMENTS)
    name, secret = asked.funded_account(credits=10_000)
    with asked.client(secret) as client:
        started = client.post(AD_SETS, json=_body(_kit_id(client), PRESET_ORDER))
        assert started.status_code == 202, started.text
        shown = client.get(f"{AD_SETS}/{started.json()['id']}")
        assert shown.status_code == 200, shown.text
    ad_set = shown.json()["adSet"]
    assert [p["name"] for p in ad_set["placements"]] == PRESET_ORDER
    parts = ad_set["parts"]
    assert [p["creditsReserved"] for p in parts[1:]] == [PRICE, PRICE]
    assert ad_set["creditsReserved"] == sum(p["creditsReserved"] for p in parts)
    assert asked.balance(name) == 10_000 - ad_set["creditsReserved"]


def test_the_nine_presets_on_a_model_capped_below_the_story_are_refused(
    asked: LiveServer,
) -> None:
    name, secret = asked.funded_account(credits=10_000)
    with asked.client(secret) as client:
        body = _body(_kit_id(client), PRESET_ORDER, imageModel="tiny-sd-128")
        refused = client.post(AD_SETS, json=body)
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["param"] == "placements[2]", "the story is the largest placement"
    assert error["code"] == "size_out_of_range"
    assert "1080x1920" in error["message"]
    assert asked.balance(name) == 10_000, "nothing was reserved"


@pytest.mark.parametrize(
    "preset",
    [
        "square_feed",
        "portrait_feed",
        "story",
        "landscape_link",
        "display_300x250",
        "display_728x90",
        "display_160x600",
        "display_300x600",
        "display_970x250",
    ],
)
def test_each_preset_alone_is_accepted(asked: LiveServer, preset: str) -> None:
    _, secret = asked.funded_account(credits=10_000)
    with asked.client(secret) as client:
        started = client.post(AD_SETS, json=_body(_kit_id(client), [preset], variants=1))
    assert started.status_code == 202, started.text
