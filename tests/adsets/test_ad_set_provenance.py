"""An ad set's creatives carry the worker's provenance: valid content credentials from this
server and the invisible mark that names the key visual's job (the creative is a composite of
it); a product picture from the upload endpoint goes into the key visuals."""

from __future__ import annotations

import io
import time
from typing import Any

import httpx
from PIL import Image

from support import LiveServer

KIT = {"name": "Northwind", "defaultCta": "Shop now"}
BRIEF = {"product": "cold brew coffee", "audience": "commuters", "offer": "20% off"}


def _finished(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    started = client.post("/api/platform/ad-sets", json=body)
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 120
    while True:
        ad_set: dict[str, Any] = client.get(f"/api/platform/ad-sets/{started.json()['id']}").json()[
            "adSet"
        ]
        if ad_set["status"] != "processing" or time.monotonic() > deadline:
            return ad_set
        time.sleep(0.2)


def test_a_creative_verifies_and_names_its_key_visual_job(server: LiveServer) -> None:
    _, secret = server.funded_account(credits=10_000)
    with server.client(secret) as client:
        kit_id = client.post("/api/platform/brand-kits", json=KIT).json()["id"]
        picture = io.BytesIO()
        Image.new("RGB", (512, 512), (180, 90, 40)).save(picture, "PNG")
        upload = client.post(
            "/api/platform/upload", files={"file": ("product.png", picture.getvalue())}
        )
        assert upload.status_code == 201, upload.text
        ad_set = _finished(
            client,
            {
                "brandKitId": kit_id,
                "brief": {**BRIEF, "inputImagePath": upload.json()["path"]},
                "placements": ["square_feed"],
                "variants": 1,
                "imageModel": "creatix-pro",
                "copyModel": "gemini-2.5-flash",
            },
        )
        assert ad_set["status"] == "completed", ad_set
        creative = httpx.get(ad_set["variants"][0]["creatives"][0]["url"]).content
        verified = client.post("/v1/provenance/verify", files={"file": ("creative.png", creative)})
    assert verified.status_code == 200, verified.text
    body = verified.json()
    assert body["content_credentials"]["valid"] is True
    assert body["content_credentials"]["trusted"] is True
    assert body["invisible_mark"]["present"] is True
    assert body["job"]["id"] == ad_set["parts"][1]["jobId"], "the key visual's job"
    assert server.runtime is not None
    visual_job = server.call(server.runtime.jobs.get(ad_set["parts"][1]["jobId"]))
    assert visual_job.image_spec.input_image == upload.json()["path"]
