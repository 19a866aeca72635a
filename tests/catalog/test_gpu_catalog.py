"""catalogs/gpu.yaml: every public model id on an open model, unavailable until its weights are
in place, never falling back to another engine."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from creatix.catalog.loader import load_catalog
from creatix.engines.registry import EngineRegistry

pytest.importorskip("diffusers")
from tiny_diffusers import build_tiny_sd

GPU_CATALOG = Path(__file__).parents[2] / "catalogs" / "gpu.yaml"


def _catalog_with_models_dir(tmp_path: Path, models_dir: Path) -> Path:
    data = yaml.safe_load(GPU_CATALOG.read_text())
    for engine in data["engines"].values():
        engine["options"]["models_dir"] = str(models_dir)
    path = tmp_path / "gpu.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_every_reference_model_id_is_served_by_a_diffusers_engine() -> None:
    catalog = load_catalog(GPU_CATALOG)
    ids = {model.id for model in catalog.models}
    assert {"creatix-flash", "creatix-pro", "flux-2-pro", "nano-banana-2", "gpt-image-2"} <= ids
    assert {catalog.engines[m.engine].type for m in catalog.models} == {"diffusers"}
    for model in catalog.models:
        assert model.engine_model, f"{model.id} names its open model"
        assert model.limits.min_side <= 1024 <= model.limits.max_side or model.id == "creatix-flash"


def test_models_without_weights_are_unavailable_with_the_reason(tmp_path: Path) -> None:
    catalog = load_catalog(_catalog_with_models_dir(tmp_path, tmp_path / "models"))
    registry = EngineRegistry.from_catalog(catalog)
    for model in catalog.models:
        status = registry.model_status(model)
        assert not status.available
        assert status.reason is not None
        assert "weights not found" in status.reason


def test_a_model_is_available_once_its_weights_are_in_place(tmp_path: Path) -> None:
    models = tmp_path / "models"
    build_tiny_sd(models / "stabilityai--sd-turbo")
    catalog = load_catalog(_catalog_with_models_dir(tmp_path, models))
    registry = EngineRegistry.from_catalog(catalog)
    flash = catalog.model("creatix-flash")
    pro = catalog.model("creatix-pro")
    assert flash is not None
    assert pro is not None
    assert registry.model_status(flash).available
    assert not registry.model_status(pro).available
