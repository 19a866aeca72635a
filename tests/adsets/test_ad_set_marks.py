"""The watermark policy on ad sets: the parts' outputs are intermediate and unmarked; each
creative carries the visible mark the catalog gives the platform dialect on the account's
plan (free: the Creatix plate; paid: none), measured against the same composition made here
from the stored key visual."""

from __future__ import annotations

import io
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from creatix.brands.schemas import BrandColors, BrandKit
from creatix.brands.service import brand_style
from creatix.jobs import marking
from creatix.layout import PLACEMENTS, AdCopy, compose
from creatix.media.finishing import decode_image
from support import LiveServer, poll_within_rate_limit

KIT = {
    "name": "Northwind",
    "colors": {
        "primary": "#0a4d8c",
        "secondary": "#f2cc60",
        "background": "#ffffff",
        "text": "#111111",
    },
    "defaultCta": "Shop now",
}
BRIEF = {"product": "cold brew coffee", "audience": "commuters", "offer": "20% off"}


def _made(server: LiveServer, plan: str) -> tuple[dict[str, Any], bytes, bytes]:
    """An ad set of one variant in square_feed on ``plan``: the set, its creative's bytes and
    its key visual's stored bytes."""
    _, secret = server.funded_account(credits=10_000, plan=plan)
    with server.client(secret) as client:
        kit_id = client.post("/api/platform/brand-kits", json=KIT).json()["id"]
        body = {
            "brandKitId": kit_id,
            "brief": BRIEF,
            "placements": ["square_feed"],
            "variants": 1,
            "imageModel": "creatix-flash",
            "copyModel": "gemini-2.5-flash",
        }
        started = client.post("/api/platform/ad-sets", json=body)
        assert started.status_code == 202, started.text
        ad_set = poll_within_rate_limit(
            client,
            f"/api/platform/ad-sets/{started.json()['id']}",
            lambda r: r.json()["adSet"]["status"] != "processing",
            timeout=120,
        ).json()["adSet"]
    assert ad_set["status"] == "completed", ad_set
    creative = httpx.get(ad_set["variants"][0]["creatives"][0]["url"]).content
    assert server.runtime is not None
    visual_job = server.call(server.runtime.jobs.get(ad_set["parts"][1]["jobId"]))
    catalog = server.runtime.catalog
    part_mark = server.call(
        server.runtime.db.read(lambda session: marking.visible_mark(session, catalog, visual_job))
    )
    assert part_mark is None, "a part's outputs are intermediate: never visibly marked"
    visual = server.call(server.runtime.storage.get(visual_job.assets[0].storage_key))
    return ad_set, creative, visual


def _difference(server: LiveServer, ad_set: dict[str, Any], creative: bytes, visual: bytes) -> Any:
    """Per pixel, how far the stored creative is from the same composition made here."""
    copy = ad_set["variants"][0]["copy"]
    kit = BrandKit(
        id="k",
        account_id="a",
        name="Northwind",
        colors=BrandColors(**KIT["colors"]),
        font_name="open-sans-bold",
        created_at=ad_set["createdAt"],
        updated_at=ad_set["createdAt"],
    )
    assert server.runtime is not None
    style = server.call(brand_style(kit, server.runtime.storage))
    expected = compose(
        decode_image(visual),
        AdCopy(headline=copy["headline"], body=copy["body"], cta=copy["cta"]),
        style,
        PLACEMENTS["square_feed"],
    ).image
    with Image.open(io.BytesIO(creative)) as stored:
        made = np.asarray(stored.convert("RGB"), dtype=np.int16)
    return np.abs(made - np.asarray(expected, dtype=np.int16)).max(axis=2)


@pytest.mark.parametrize(("plan", "marked"), [("free", True), ("paid", False)])
def test_creatives_carry_the_dialects_visible_mark_for_the_plan(
    server: LiveServer, plan: str, marked: bool
) -> None:
    ad_set, creative, visual = _made(server, plan)
    difference = _difference(server, ad_set, creative, visual)
    size = difference.shape[0]
    corner = difference[int(size * 0.85) :, int(size * 0.7) :]
    elsewhere = difference[: int(size * 0.5), : int(size * 0.5)]
    assert elsewhere.max() < 40, "only the invisible mark touches the rest"
    if marked:
        assert (corner > 60).mean() > 0.01, "the Creatix plate is in the bottom-right corner"
    else:
        assert corner.max() < 40, "a paid plan's platform creatives are clean"
