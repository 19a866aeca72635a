"""catalogs/providers.yaml routes every model of the shipped catalog to a provider, priced as
shipped: it replaces the model list, so a model it forgets disappears from a server started
with it, and a price it changes is a price the references do not give."""

from __future__ import annotations

from pathlib import Path

import pytest

from creatix.catalog.loader import load_catalog
from creatix.catalog.schemas import Catalog, ModelEntry
from creatix.jobs.specs import JobKind

PROVIDERS_CATALOG = Path(__file__).parents[2] / "catalogs" / "providers.yaml"
PROVIDER_TYPES = {"openai", "fal", "replicate", "gemini"}
SHIPPED = load_catalog()
PROVIDERS = load_catalog(PROVIDERS_CATALOG)


def _pairs() -> list[tuple[ModelEntry, ModelEntry | None]]:
    return [(shipped, PROVIDERS.model(shipped.id)) for shipped in SHIPPED.models]


def test_every_shipped_model_id_is_routed() -> None:
    missing = [shipped.id for shipped, routed in _pairs() if routed is None]
    assert missing == [], "models a server started with providers.yaml would lose"
    assert {m.id for m in PROVIDERS.models} == {m.id for m in SHIPPED.models}


@pytest.mark.parametrize("model_id", [m.id for m in SHIPPED.models])
def test_each_model_keeps_its_kind_and_its_shipped_prices(model_id: str) -> None:
    shipped, routed = SHIPPED.model(model_id), PROVIDERS.model(model_id)
    assert shipped is not None
    assert routed is not None
    assert routed.kind == shipped.kind
    assert routed.credits_per_image == shipped.credits_per_image
    assert routed.price_table == shipped.price_table
    assert routed.limits.resolutions == shipped.limits.resolutions
    assert routed.credits_per_1k_input_tokens == shipped.credits_per_1k_input_tokens
    assert routed.credits_per_1k_output_tokens == shipped.credits_per_1k_output_tokens
    assert routed.max_output_tokens == shipped.max_output_tokens
    if shipped.kind is JobKind.VIDEO:
        assert shipped.video is not None
        assert routed.video is not None
        offered = routed.video.credits_by_duration
        assert offered, "a video model offers at least one duration"
        assert offered.items() <= shipped.video.credits_by_duration.items(), (
            "each duration offered is priced as shipped"
        )
        assert routed.video.supports_audio == shipped.video.supports_audio


def _types(catalog: Catalog, model: ModelEntry) -> set[str]:
    return {catalog.engines[route.engine].type for route in model.routes()}


def test_every_route_is_a_provider_and_every_media_model_has_a_fallback() -> None:
    for model in PROVIDERS.models:
        assert _types(PROVIDERS, model) <= PROVIDER_TYPES, model.id
        if model.kind is not JobKind.TEXT:
            assert model.fallbacks, f"{model.id} has a second provider for outages"


def test_the_video_and_text_models_go_where_the_references_expect() -> None:
    def route(model_id: str) -> list[tuple[str, str]]:
        model = PROVIDERS.model(model_id)
        assert model is not None
        return [(r.engine, r.engine_model) for r in model.routes()]

    assert route("kling-video/v1.6/pro/image-to-video") == [
        ("fal", "fal-ai/kling-video/v1.6/pro/image-to-video"),
        ("replicate", "kwaivgi/kling-v1.6-pro"),
    ]
    assert route("kling-v2.5-turbo") == [
        ("fal", "fal-ai/kling-video/v2.5-turbo/pro/image-to-video"),
        ("replicate", "kwaivgi/kling-v2.5-turbo-pro"),
    ]
    assert route("kling-v3-pro") == [
        ("fal", "fal-ai/kling-video/v3/pro/image-to-video"),
        ("replicate", "kwaivgi/kling-v3-video"),
    ]
    for text in ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.5-flash-lite", "gemini-2.0-flash"):
        assert route(text) == [("gemini", text)]
