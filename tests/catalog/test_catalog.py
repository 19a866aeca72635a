"""The catalog's own rules: what a model is priced by is what it makes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from creatix.catalog.loader import CatalogError, load_catalog


def _with_model(tmp_path: Path, **fields: Any) -> Path:
    model = {
        "id": "priced",
        "engine": "preview",
        "display_name": "Priced by resolution",
        "price_table": {
            "by": ["resolution", "quality"],
            "defaults": {"resolution": "1k", "quality": "low"},
            "prices": {"1k/low": 10, "2k/low": 20},
        },
        **fields,
    }
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump({"extends": "shipped", "models": [model]}))
    return path


def test_the_shipped_gpt_image_2_says_what_each_resolution_makes() -> None:
    model = load_catalog().model("gpt-image-2")
    assert model is not None
    assert model.limits.resolutions == {"1k": 1024, "2k": 2048, "4k": 4096}
    assert model.long_side({}) == 1024, "the price table's default resolution"
    assert model.long_side({"resolution": "4k", "quality": "high"}) == 4096


def test_a_model_priced_by_resolution_must_say_each_ones_long_side(tmp_path: Path) -> None:
    unsaid = _with_model(tmp_path, limits={"resolutions": {"1k": 1024}})
    with pytest.raises(CatalogError, match="does not say the long side of 2k"):
        load_catalog(unsaid)
    said = _with_model(tmp_path, limits={"resolutions": {"1k": 1024, "2k": 2048}})
    model = load_catalog(said).model("priced")
    assert model is not None
    assert model.long_side({"resolution": "2k"}) == 2048


def test_a_resolution_must_be_a_side_the_model_makes(tmp_path: Path) -> None:
    too_big = _with_model(
        tmp_path, limits={"max_side": 2048, "resolutions": {"1k": 1024, "2k": 4096}}
    )
    with pytest.raises(CatalogError, match="resolution '2k' is 4096 px"):
        load_catalog(too_big)


def test_a_model_without_resolutions_keeps_the_requests_size() -> None:
    model = load_catalog().model("flux-2-pro")
    assert model is not None
    assert model.long_side({"resolution": "4k"}) is None
    assert model.output_format is None, "Artnex's own default (jpeg) applies"
