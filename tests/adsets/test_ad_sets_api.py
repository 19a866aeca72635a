"""Ad sets through the real app: the preview engine draws the key visuals, the preview text
engine writes the copy, the layout step composes every placement. A part that fails refunds
only itself; another account's kit is a 404; bad input is a 400 naming the field."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from PIL import Image

from creatix.catalog.loader import load_catalog
from creatix.engines import registry
from creatix.engines.base import EngineError, EngineParams, ProgressCallback
from creatix.engines.preview import PreviewEngine
from creatix.jobs.specs import ImageSpec
from creatix.layout import PLACEMENTS
from support import LiveServer, make_settings

AD_SETS = "/api/platform/ad-sets"
KITS = "/api/platform/brand-kits"
BANNED = ["best", "free", "guaranteed", "cheap"]
KIT = {
    "name": "Northwind",
    "colors": {
        "primary": "#0a4d8c",
        "secondary": "#f2cc60",
        "background": "#ffffff",
        "text": "#111111",
    },
    "toneOfVoice": "warm and plain-spoken",
    "bannedWords": BANNED,
    "defaultCta": "Shop now",
    "legalLine": "Offer ends Sunday. Terms apply.",
}
SVG_LOGO = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40">'
    b'<rect width="120" height="40" rx="8" fill="#0a4d8c"/></svg>'
)
BRIEF = {
    "product": "cold brew coffee",
    "audience": "busy commuters",
    "offer": "20% off the first box",
}
THREE = ["square_feed", "story", "display_300x250"]
FAILING_VARIANT = "variation 2."
"""What the key-visual prompt of an ad set's second variant says (``adsets.plan``)."""


class FailsForOnePrompt(PreviewEngine):
    """The preview engine, one job per call, failing the second variant's key visual."""

    max_batch = 1

    async def generate(
        self,
        model: str,
        specs: Sequence[ImageSpec],
        input_images: Sequence[Image.Image | None] | None = None,
        progress: ProgressCallback | None = None,
        params: EngineParams | None = None,
    ) -> list[list[Image.Image]]:
        if any(FAILING_VARIANT in spec.prompt for spec in specs):
            raise EngineError("the test engine refuses this prompt", code="engine_error")
        return await super().generate(model, specs, input_images, progress, params)


@pytest.fixture(scope="module")
def ad_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose catalog adds ``flaky``, an image model at 100 credits an image whose
    engine fails the second variant's key visual."""
    tmp_path: Path = tmp_path_factory.mktemp("ad-sets")
    data = load_catalog().model_dump(mode="json")
    data["engines"]["flaky"] = {"type": "fails-for-one-prompt"}
    data["models"].append(
        {"id": "flaky", "engine": "flaky", "display_name": "Flaky", "credits_per_image": 100}
    )
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(yaml.safe_dump(data))
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(
            registry.FACTORIES, "fails-for-one-prompt", lambda options, context: FailsForOnePrompt()
        )
        live = LiveServer(make_settings(tmp_path / "data", catalog=catalog)).start()
        yield live
        live.stop()


def _kit(client: httpx.Client) -> str:
    created = client.post(KITS, json=KIT)
    assert created.status_code == 201, created.text
    kit_id: str = created.json()["id"]
    logo = client.put(
        f"{KITS}/{kit_id}/logo", content=SVG_LOGO, headers={"Content-Type": "image/svg+xml"}
    )
    assert logo.status_code == 200, logo.text
    return kit_id


def _body(kit_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "brandKitId": kit_id,
        "brief": BRIEF,
        "placements": THREE,
        "variants": 2,
        "imageModel": "z-image-turbo",
        "copyModel": "gemini-2.5-flash",
        **changes,
    }


def _finished(client: httpx.Client, ad_set_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        response = client.get(f"{AD_SETS}/{ad_set_id}")
        assert response.status_code == 200, response.text
        ad_set: dict[str, Any] = response.json()["adSet"]
        if ad_set["status"] != "processing":
            return ad_set
        time.sleep(0.2)
    raise AssertionError(f"the ad set did not finish: {ad_set}")


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def _words(text: str) -> set[str]:
    return {word.lower() for word in re.findall(r"[A-Za-z']+", text)}


def test_two_variants_in_three_placements(ad_server: LiveServer) -> None:
    name, secret = ad_server.funded_account(credits=10_000)
    with ad_server.client(secret) as client:
        kit_id = _kit(client)
        started = client.post(AD_SETS, json=_body(kit_id))
        assert started.status_code == 202, started.text
        assert started.json()["status"] == "processing"
        ad_set = _finished(client, started.json()["id"])
    assert ad_set["status"] == "completed"
    assert ad_set["progress"] == 100
    assert [p["name"] for p in ad_set["placements"]] == THREE
    assert [part["role"] for part in ad_set["parts"]] == ["copy", "visual", "visual"]
    assert all(part["status"] == "completed" for part in ad_set["parts"])
    headline_budget = min(PLACEMENTS[name].headline_chars for name in THREE)
    for variant in ad_set["variants"]:
        assert variant["status"] == "completed", variant
        copy = variant["copy"]
        assert 0 < len(copy["headline"]) <= headline_budget
        assert copy["cta"] == "Shop now", "the kit's default call to action is fixed"
        assert not _words(" ".join(copy.values())) & set(BANNED)
        assert [c["placement"] for c in variant["creatives"]] == THREE
        for creative in variant["creatives"]:
            preset = PLACEMENTS[creative["placement"]]
            assert (creative["width"], creative["height"]) == (preset.width, preset.height)
            served = httpx.get(creative["url"])
            assert served.status_code == 200
            with Image.open(io.BytesIO(served.content)) as image:
                assert image.format == "PNG"
                assert image.size == (preset.width, preset.height)
    charged = sum(part["creditsCharged"] for part in ad_set["parts"])
    assert ad_set["creditsCharged"] == charged
    assert charged >= 200, "two key visuals at 100 credits, and the copy's tokens"
    assert ad_set_balance(ad_server, name) == 10_000 - charged


def ad_set_balance(server: LiveServer, account: str) -> int:
    return server.balance(account)


def test_a_failed_part_refunds_only_itself(ad_server: LiveServer) -> None:
    name, secret = ad_server.funded_account(credits=10_000)
    with ad_server.client(secret) as client:
        kit_id = _kit(client)
        started = client.post(AD_SETS, json=_body(kit_id, imageModel="flaky"))
        assert started.status_code == 202, started.text
        ad_set = _finished(client, started.json()["id"])
    assert ad_set["status"] == "completed", "one variant was made"
    copy_part, first, second = ad_set["parts"]
    assert first["status"] == "completed"
    assert first["creditsCharged"] == 100
    assert second["status"] == "failed"
    assert second["creditsReserved"] == 100
    assert second["creditsCharged"] == 0
    assert copy_part["status"] == "completed"
    made, failed = ad_set["variants"]
    assert len(made["creatives"]) == 3
    assert failed["status"] == "failed"
    assert failed["creatives"] == []
    assert "refunded" in failed["error"]
    assert ad_server.balance(name) == 10_000 - 100 - copy_part["creditsCharged"]
    assert ad_server.ledger_kinds(name).count("refund") == 3, "each part settled on its own"


def test_another_accounts_kit_is_404(ad_server: LiveServer) -> None:
    with ad_server.client(ad_server.key()) as owner:
        kit_id = _kit(owner)
    _, secret = ad_server.funded_account(credits=10_000)
    with ad_server.client(secret) as other:
        error = _error(other.post(AD_SETS, json=_body(kit_id)), 404)
        assert error["param"] == "brandKitId"
        _error(other.get(f"{AD_SETS}/{'0' * 8}"), 404)


def test_another_accounts_ad_set_is_404_and_unlisted(ad_server: LiveServer) -> None:
    _, secret = ad_server.funded_account(credits=10_000)
    with ad_server.client(secret) as owner:
        started = owner.post(AD_SETS, json=_body(_kit(owner), imageModel="creatix-flash"))
        assert started.status_code == 202, started.text
        listed = owner.get(AD_SETS)
        assert listed.status_code == 200, listed.text
        assert [a["id"] for a in listed.json()] == [started.json()["id"]]
        assert listed.headers["X-Total-Count"] == "1"
    with ad_server.client(ad_server.key()) as other:
        _error(other.get(f"{AD_SETS}/{started.json()['id']}"), 404)
        assert other.get(AD_SETS).json() == []


@pytest.mark.parametrize(
    ("changes", "param", "words"),
    [
        ({"placements": ["square_feed", "billboard"]}, "placements[1]", "billboard"),
        ({"placements": ["story", {"width": 4000, "height": 3000}]}, "placements[1]", "2048"),
        ({"placements": [{"width": 20, "height": 3000}]}, "placements[0]", ""),
        ({"placements": ["story", {"width": "wide"}]}, "placements[1]", ""),
        (
            {"brief": {**BRIEF, "cta": "Order yours today"}},
            "placements[2]",
            "display_300x250",
        ),
        ({"imageModel": "gemini-2.5-flash"}, "imageModel", ""),
        ({"copyModel": "z-image-turbo"}, "copyModel", ""),
        ({"variants": 9}, "variants", ""),
        (
            {"brief": {**BRIEF, "inputImagePath": "uploads/nobody/x.png"}},
            "brief.inputImagePath",
            "",
        ),
    ],
)
def test_bad_input_is_400_naming_the_field(
    ad_server: LiveServer, changes: dict[str, Any], param: str, words: str
) -> None:
    name, secret = ad_server.funded_account(credits=10_000)
    with ad_server.client(secret) as client:
        kit_id = _kit(client)
        error = _error(client.post(AD_SETS, json=_body(kit_id, **changes)), 400)
    assert error["param"] == param
    assert words in error["message"]
    assert ad_server.balance(name) == 10_000, "nothing was reserved"


def test_an_idempotency_key_returns_the_same_set(ad_server: LiveServer) -> None:
    name, secret = ad_server.funded_account(credits=10_000)
    with ad_server.client(secret) as client:
        body = _body(_kit(client))
        key = {"Idempotency-Key": "launch-1"}
        first = client.post(AD_SETS, json=body, headers=key)
        assert first.status_code == 202, first.text
        _finished(client, first.json()["id"])
        spent = ad_server.balance(name)
        again = client.post(AD_SETS, json=body, headers=key)
        assert again.status_code == 202, again.text
        assert again.json() == {"id": first.json()["id"], "status": "completed"}
        assert ad_server.balance(name) == spent, "nothing reserved again"
        other = client.post(AD_SETS, json={**body, "variants": 1}, headers=key)
        assert _error(other, 409)["code"] == "idempotency_key_reused"
        assert len(client.get(AD_SETS).json()) == 1
