"""The visible mark follows the catalog's policy, per plan and per dialect, checked in pixels:
each served image is compared with the preview engine's own picture for the job's spec."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from creatix.catalog.loader import CatalogError, load_catalog
from creatix.catalog.schemas import VisibleMarks, VisibleMarkStyle
from creatix.engines.preview.engine import PreviewEngine
from creatix.media.watermark import apply_watermark, watermark_box
from support import LiveServer, poll_within_rate_limit

MARKED_BOX_MEAN = 20.0
"""Least mean difference (levels) inside the mark's box for a marked image."""
CLEAN_MEAN = 4.0
"""Most mean difference anywhere else, and inside the box of a clean image (JPEG noise and
the invisible mark stay well below it)."""


def _pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float64)


def _raw(server: LiveServer, job_id: str) -> Image.Image:
    assert server.runtime is not None
    job = server.call(server.runtime.jobs.get(job_id))
    [[raw]] = server.call(PreviewEngine().generate(job.model, [job.image_spec]))
    return raw


def _assert_mark(served: Image.Image, raw: Image.Image, *, marked: bool) -> None:
    difference = np.abs(_pixels(served) - _pixels(raw)).mean(axis=2)
    left, top, right, bottom = watermark_box(*served.size)
    inside = difference[top:bottom, left:right].mean()
    outside = difference.copy()
    outside[top:bottom, left:right] = 0
    assert outside.sum() / (outside.size - (right - left) * (bottom - top)) < CLEAN_MEAN
    if marked:
        assert inside > MARKED_BOX_MEAN, f"no mark in its box (mean difference {inside:.1f})"
    else:
        assert inside < CLEAN_MEAN, f"a mark where none belongs (mean difference {inside:.1f})"


def _download(url: str) -> Image.Image:
    response = httpx.get(url, timeout=60)
    assert response.status_code == 200, response.text
    return Image.open(io.BytesIO(response.content))


def _creatix_v1(server: LiveServer, plan: str) -> tuple[Image.Image, str]:
    with server.client(server.key(plan=plan)) as client:
        response = client.post(
            "/v1/images/generations", json={"prompt": "a lemon on a table", "size": "512x512"}
        )
    assert response.status_code == 200, response.text
    return _download(response.json()["data"][0]["url"]), response.headers["X-Creatix-Job-Id"]


def _artnex(server: LiveServer, plan: str) -> tuple[Image.Image, str]:
    _, secret = server.funded_account(credits=1000, plan=plan)
    with server.client(secret) as client:
        response = client.post(
            "/v1/generate",
            json={"prompt": "a red fox", "model": "z-image-turbo", "width": 512, "height": 512},
        )
    assert response.status_code == 200, response.text
    return _download(response.json()["images"][0]["url"]), response.headers["X-Creatix-Job-Id"]


def _platform(server: LiveServer, plan: str) -> tuple[Image.Image, str]:
    _, secret = server.funded_account(credits=1000, plan=plan)
    with server.client(secret) as client:
        response = client.post(
            "/api/platform/generate", json={"prompt": "a red sneaker", "modelId": "creatix-flash"}
        )
        assert response.status_code == 202, response.text
        generation_id = response.json()["id"]
        generation = poll_within_rate_limit(
            client,
            f"/api/platform/generations/{generation_id}",
            lambda r: r.json()["generation"]["status"] != "processing",
            timeout=30,
        ).json()
    assert generation["generation"]["status"] == "completed", generation
    return _download(generation["generation"]["image_url"]), generation_id


DIALECTS = {"creatix_v1": _creatix_v1, "artnex": _artnex, "platform": _platform}


@pytest.mark.parametrize(
    ("dialect", "plan", "marked"),
    [
        ("creatix_v1", "free", True),
        ("creatix_v1", "paid", True),
        ("creatix_v1", "unlimited", True),
        ("artnex", "free", True),
        ("artnex", "paid", False),
        ("artnex", "unlimited", False),
        ("platform", "free", True),
        ("platform", "paid", False),
    ],
)
def test_the_shipped_policy_in_pixels(
    server: LiveServer, dialect: str, plan: str, marked: bool
) -> None:
    served, job_id = DIALECTS[dialect](server, plan)
    _assert_mark(served, _raw(server, job_id), marked=marked)


def test_the_shipped_catalog_states_the_policy() -> None:
    marks = load_catalog().visible_marks
    assert marks.for_output("paid", "creatix_v1") is not None
    assert marks.for_output("free", "asset_generator") is not None
    assert marks.for_output("paid", "asset_generator") is None
    assert marks.for_output("unlimited", "platform") is None


def test_a_rule_can_name_a_logo_corner_size_and_opacity(tmp_path: Path) -> None:
    logo = Image.new("RGBA", (200, 100), (255, 0, 0, 255))
    logo.save(tmp_path / "logo.png")
    (tmp_path / "catalog.yaml").write_text(
        "extends: shipped\n"
        "visible_marks:\n"
        "  marks:\n"
        "    brand: {logo: logo.png, corner: top-left, size: 0.1, opacity: 0.5}\n"
        "  rules:\n"
        "    - {plans: [paid], dialects: [platform], mark: brand}\n"
    )
    marks = load_catalog(tmp_path / "catalog.yaml").visible_marks
    style = marks.for_output("paid", "platform")
    assert style is not None
    assert marks.for_output("free", "creatix_v1") is None, "no rule matching: clean"
    white = Image.new("RGB", (512, 512), (255, 255, 255))
    left, top, right, bottom = watermark_box(512, 512, style)
    assert (left, top) < (64, 64), "top left"
    assert right - left == 2 * (bottom - top), "the logo's aspect"
    marked = _pixels(apply_watermark(white, style))
    red = marked[(top + bottom) // 2, (left + right) // 2]
    assert red[0] == pytest.approx(255, abs=2)
    assert red[1] == pytest.approx(128, abs=3), "half opacity over white"
    assert np.abs(marked - 255)[bottom:, :].max() == 0, "nothing outside the box"


def test_a_logo_that_cannot_be_read_fails_at_load_naming_it(tmp_path: Path) -> None:
    (tmp_path / "catalog.yaml").write_text(
        "extends: shipped\nvisible_marks:\n  marks:\n    brand: {logo: missing.png}\n"
    )
    with pytest.raises(CatalogError, match=r"visible_marks\.marks\.brand\.logo"):
        load_catalog(tmp_path / "catalog.yaml")


def test_a_rule_naming_an_unknown_mark_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown mark 'nope'"):
        VisibleMarks(marks={"a": VisibleMarkStyle()}, rules=[{"mark": "nope"}])  # type: ignore[list-item]
