"""catalogs/gpu.yaml: every public model id on an open model, unavailable until its weights are
in place, never falling back to another engine."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from creatix.catalog.loader import load_catalog
from creatix.engines.registry import EngineRegistry
from creatix.jobs.specs import JobKind

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


def test_every_shipped_model_id_is_served_by_a_local_engine() -> None:
    """gpu.yaml replaces the model list: a shipped model it forgets is gone from the server."""
    catalog = load_catalog(GPU_CATALOG)
    assert {model.id for model in catalog.models} == {model.id for model in load_catalog().models}
    for model in catalog.models:
        assert model.engine_model, f"{model.id} names its open model"
        engine_type = catalog.engines[model.engine].type
        if model.kind is JobKind.TEXT:
            assert engine_type == "transformers", model.id
            continue
        assert engine_type == "diffusers", model.id
        if model.kind is JobKind.IMAGE:
            assert model.limits.min_side <= 1024 <= model.limits.max_side or (
                model.id == "creatix-flash"
            )


def test_text_models_keep_their_shipped_prices() -> None:
    shipped, gpu = load_catalog(), load_catalog(GPU_CATALOG)
    for model in gpu.models:
        if model.kind is not JobKind.TEXT:
            continue
        own = shipped.model(model.id)
        assert own is not None
        assert (model.credits_per_1k_input_tokens, model.credits_per_1k_output_tokens) == (
            own.credits_per_1k_input_tokens,
            own.credits_per_1k_output_tokens,
        )


def test_models_without_weights_are_unavailable_with_the_reason(tmp_path: Path) -> None:
    catalog = load_catalog(_catalog_with_models_dir(tmp_path, tmp_path / "models"))
    registry = EngineRegistry.from_catalog(catalog)
    for model in catalog.models:
        status = registry.model_status(model)
        assert not status.available
        assert status.reason is not None
        assert "weights" in status.reason
        assert "not found" in status.reason


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
