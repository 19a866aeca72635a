"""An ad set end to end: 3 variants across the nine placement presets (27 creatives) on the
preview engine and the preview text engine.

Starts ``creatix serve`` (embedded SQLite, one worker, its layout step), makes a brand kit
with an SVG logo, posts the set and polls ``GET /api/platform/ad-sets/{id}`` every 50 ms
until it is done. Prints one JSON object: the whole set's wall time (POST to completed), the
layout step's seconds per creative as the server recorded them (each variant's compose,
marks, encoding, content credentials and storage, divided by its placements), and, in this
process on one thread, ``layout.compose`` alone at 1080x1920 (median of ``--repeats``).

    .venv/bin/python benchmarks/ad_set.py [--variants 3] [--repeats 20]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from harness import start_creatix
from PIL import Image

from creatix.catalog.loader import load_catalog
from creatix.layout import PLACEMENTS, AdCopy, BrandStyle, compose, default_font, rasterize_logo

SVG_LOGO = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40">'
    b'<rect width="120" height="40" rx="8" fill="#0a4d8c"/></svg>'
)
KIT = {
    "name": "Northwind",
    "colors": {
        "primary": "#0a4d8c",
        "secondary": "#f2cc60",
        "background": "#ffffff",
        "text": "#111111",
    },
    "toneOfVoice": "warm and plain-spoken",
    "bannedWords": ["cheap", "guaranteed"],
    "defaultCta": "Shop now",
    "legalLine": "Offer ends Sunday. Terms apply.",
}


def _server_set(url: str, secret: str, variants: int) -> tuple[float, str]:
    """The seconds from POST to completed, and the set's id."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {secret}"}) as client:
        kit = client.post("/api/platform/brand-kits", json=KIT).json()
        logo = client.put(
            f"/api/platform/brand-kits/{kit['id']}/logo",
            content=SVG_LOGO,
            headers={"Content-Type": "image/svg+xml"},
        )
        assert logo.status_code == 200, logo.text
        body = {
            "brandKitId": kit["id"],
            "brief": {
                "product": "cold brew coffee",
                "audience": "busy commuters",
                "offer": "20% off the first box",
            },
            "placements": list(PLACEMENTS),
            "variants": variants,
            "imageModel": "creatix-flash",
            "copyModel": "gemini-2.5-flash",
        }
        started = time.perf_counter()
        response = client.post("/api/platform/ad-sets", json=body)
        assert response.status_code == 202, response.text
        ad_set_id = response.json()["id"]
        while True:
            ad_set = client.get(f"/api/platform/ad-sets/{ad_set_id}").json()["adSet"]
            if ad_set["status"] != "processing":
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        assert ad_set["status"] == "completed", ad_set
        made = sum(len(v["creatives"]) for v in ad_set["variants"])
        assert made == variants * len(PLACEMENTS), made
    return seconds, ad_set_id


def _recorded(database: Path, ad_set_id: str) -> dict[str, object]:
    """What the server recorded: each variant's layout seconds per creative, and when the
    parts and the variants ended, in seconds after the set was made."""
    with sqlite3.connect(database) as connection:
        made = connection.execute(
            "SELECT julianday(created_at) FROM ad_sets WHERE id = ?", (ad_set_id,)
        ).fetchone()[0]
        variants = connection.execute(
            "SELECT layout_seconds, julianday(v.finished_at), julianday(j.finished_at) "
            "FROM ad_set_variants v JOIN jobs j ON j.id = v.visual_job_id "
            'WHERE v.ad_set_id = ? ORDER BY v."index"',
            (ad_set_id,),
        ).fetchall()
        copy_done = connection.execute(
            "SELECT julianday(j.finished_at) FROM ad_sets s JOIN jobs j ON j.id = s.copy_job_id "
            "WHERE s.id = ?",
            (ad_set_id,),
        ).fetchone()[0]

    def after(day: float) -> float:
        return round((day - made) * 86400, 2)

    return {
        "layout_ms_per_creative": [round(v[0] * 1000 / len(PLACEMENTS), 1) for v in variants],
        "copy_done_at": after(copy_done),
        "visuals_done_at": [after(v[2]) for v in variants],
        "variants_done_at": [after(v[1]) for v in variants],
    }


def _compose_only(repeats: int) -> float:
    """The median milliseconds of ``compose`` for the story placement (1080x1920)."""
    visual = Image.effect_mandelbrot((1080, 1920), (-2.0, -1.5, 1.0, 1.5), 60).convert("RGB")
    style = BrandStyle(
        primary=(10, 77, 140),
        secondary=(242, 204, 96),
        background=(255, 255, 255),
        text=(17, 17, 17),
        font=default_font(),
        logo=rasterize_logo(SVG_LOGO),
    )
    copy = AdCopy(
        headline="Cold brew for the 7:40 train",
        body="Smooth, strong and ready when you are: 20% off your first box.",
        cta="Shop now",
        legal="Offer ends Sunday. Terms apply.",
    )
    compose(visual, copy, style, PLACEMENTS["story"])  # fonts and caches warm
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        compose(visual, copy, style, PLACEMENTS["story"])
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        server, url, secret = start_creatix(data_dir, load_catalog().model_dump(mode="json"))
        # The copy is priced by its tokens: the bench account needs credits for it.
        subprocess.run(
            [sys.executable, "-m", "creatix", "credits", "grant", "bench", "100000"],
            env={**os.environ, "CREATIX_DATA_DIR": str(data_dir)},
            check=True,
            capture_output=True,
        )
        try:
            seconds, ad_set_id = _server_set(url, secret, args.variants)
        finally:
            server.terminate()
            server.wait(timeout=60)
        recorded = _recorded(data_dir / "creatix.db", ad_set_id)
    result = {
        "variants": args.variants,
        "placements": len(PLACEMENTS),
        "creatives": args.variants * len(PLACEMENTS),
        "set_seconds": round(seconds, 2),
        **recorded,
        "compose_ms_1080x1920_median": round(_compose_only(args.repeats), 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
