"""The moderation engine against a fake endpoint on loopback (real HTTP)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator

import pytest
from PIL import Image

from creatix.policy.moderation import (
    Flag,
    ModerationEngine,
    ModerationUnavailable,
    over_threshold,
)
from fakes.moderation import KEY, FakeModeration
from fakes.server import Fault


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeModeration]:
    with FakeModeration() as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(fake: FakeModeration) -> None:
    fake.reset()


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    return buffer.getvalue()


def test_thresholds_pick_the_worst_category_over_its_own_threshold() -> None:
    scores = {"sexual": 0.6, "violence": 0.8, "hate": 0.2}
    assert over_threshold(scores, {"*": 0.5}) == Flag("violence", 0.8)
    assert over_threshold(scores, {"violence": 0.9, "*": 0.7}) is None
    assert over_threshold(scores, {"sexual": 0.5}) == Flag("sexual", 0.6)
    assert over_threshold(scores, {}) is None


def test_texts_in_one_call_and_an_image_as_a_data_url(fake: FakeModeration) -> None:
    async def run() -> tuple[list[dict[str, float]], dict[str, float]]:
        engine = ModerationEngine(f"{fake.url}/v1", KEY)
        try:
            texts = await engine.text_scores("omni-moderation-latest", ["calm", "FLAG:hate"])
            fake.flag_next_images("sexual")
            image = await engine.image_scores("omni-moderation-latest", _png())
            return texts, image
        finally:
            await engine.close()

    texts, image = asyncio.run(run())
    assert texts[0]["hate"] == pytest.approx(0.01)
    assert texts[1]["hate"] == pytest.approx(0.99)
    assert image["sexual"] == pytest.approx(0.99)
    first, second = fake.bodies
    assert first == {"model": "omni-moderation-latest", "input": ["calm", "FLAG:hate"]}
    [part] = second["input"]
    assert part["type"] == "image_url"
    assert part["image_url"]["url"].startswith("data:image/png;base64,")


def test_a_refused_key_is_unavailable_and_never_named(fake: FakeModeration) -> None:
    secret = "sk-wrong-key-never-shown"

    async def run() -> None:
        engine = ModerationEngine(f"{fake.url}/v1", secret)
        try:
            await engine.text_scores("m", ["hello"])
        finally:
            await engine.close()

    with pytest.raises(ModerationUnavailable) as caught:
        asyncio.run(run())
    assert secret not in str(caught.value)
    assert "credentials" in str(caught.value)


def test_a_5xx_is_retried_then_answered(fake: FakeModeration) -> None:
    fake.fail("/v1/moderations", Fault(status=502))

    async def run() -> list[dict[str, float]]:
        engine = ModerationEngine(f"{fake.url}/v1", KEY)
        try:
            return await engine.text_scores("m", ["hello"])
        finally:
            await engine.close()

    assert asyncio.run(run())[0]["sexual"] == pytest.approx(0.01)
    assert len(fake.calls("/v1/moderations")) == 2


def test_a_malformed_answer_is_unavailable(fake: FakeModeration) -> None:
    fake.fail("/v1/moderations", Fault(status=200, body='{"results": "nope"}'))

    async def run() -> None:
        engine = ModerationEngine(f"{fake.url}/v1", KEY)
        try:
            await engine.text_scores("m", ["hello"])
        finally:
            await engine.close()

    with pytest.raises(ModerationUnavailable):
        asyncio.run(run())
