"""The Gemini provider, through ``UpstreamEngine`` over real HTTP against a fake Gemini API."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import jsonschema
import pytest
from PIL import Image

from creatix.engines.base import EngineParams
from creatix.engines.upstream import (
    ProviderAccess,
    ProviderFailed,
    ProviderOutage,
    ProviderRejected,
    UpstreamEngine,
    UpstreamOptions,
)
from creatix.engines.upstream.gemini import GeminiProvider, aspect_ratio
from creatix.engines.upstream.text import ChatMessage, ChatRequest
from creatix.jobs.specs import ImageSpec
from fakes.gemini import KEY, FakeGemini
from fakes.server import Fault, json_of

OPTIONS = UpstreamOptions(attempts=3, retry_base_delay=0.01, retry_max_delay=0.02)
MODEL = "gemini-2.5-flash-image"
PATH = f"/v1beta/models/{MODEL}:generateContent"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGemini]:
    server = FakeGemini()
    with server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(fake: FakeGemini) -> None:
    """One server for the module; each test starts with no calls and no faults queued."""
    fake.reset()


def _provider(fake: FakeGemini, key: str | None = KEY, **options: object) -> GeminiProvider:
    return GeminiProvider(
        replace(OPTIONS, **options), ProviderAccess(base_url=f"{fake.url}/v1beta", api_key=key)
    )


@pytest.fixture
async def provider(fake: FakeGemini) -> AsyncIterator[GeminiProvider]:
    made = _provider(fake)
    yield made
    await made.close()


@pytest.fixture
def engine(provider: GeminiProvider) -> UpstreamEngine:
    return UpstreamEngine(provider)


def _spec(prompt: str = "a lighthouse at dusk", **fields: object) -> ImageSpec:
    values: dict[str, object] = {"prompt": prompt, "width": 320, "height": 256, "seed": 41}
    values.update(fields)
    return ImageSpec.model_validate(values)


async def _generate(
    engine: UpstreamEngine,
    spec: ImageSpec,
    *,
    model: str = MODEL,
    source: Image.Image | None = None,
    params: EngineParams | None = None,
) -> list[Image.Image]:
    (images,) = await engine.generate(model, [spec], [source], params=params)
    return list(images)


async def test_an_image_of_the_asked_size(fake: FakeGemini, engine: UpstreamEngine) -> None:
    images = await _generate(engine, _spec(negative_prompt="people, text"))
    assert [image.size for image in images] == [(320, 256)]
    (call,) = fake.calls(PATH, "POST")
    assert call.query == ""
    assert json_of(call) == {
        "contents": [
            {"role": "user", "parts": [{"text": "a lighthouse at dusk Avoid: people, text"}]}
        ],
        "generationConfig": {
            "responseModalities": ["TEXT", "IMAGE"],
            "imageConfig": {"aspectRatio": "5:4"},
            "seed": 41,
        },
    }


@pytest.mark.parametrize(
    ("width", "height", "ratio"),
    [
        (512, 512, "1:1"),
        (1920, 1080, "16:9"),
        (1080, 1920, "9:16"),
        (1200, 800, "3:2"),
        (800, 1000, "4:5"),
        (3000, 1000, "21:9"),
        (100, 1000, "9:16"),
        (1000, 760, "4:3"),
    ],
)
def test_the_aspect_ratio_snaps_to_geminis(width: int, height: int, ratio: str) -> None:
    assert aspect_ratio(width, height) == ratio


async def test_n_images_are_n_concurrent_calls_with_consecutive_seeds(
    fake: FakeGemini, engine: UpstreamEngine
) -> None:
    done: list[float] = []
    (images,) = await engine.generate(
        MODEL, [_spec(n=2, width=400, height=400)], [None], progress=done.append
    )
    assert [image.size for image in images] == [(400, 400)] * 2
    calls = fake.calls(PATH)
    seeds = sorted(json_of(call)["generationConfig"]["seed"] for call in calls)
    assert seeds == [41, 42]
    assert {json_of(call)["generationConfig"]["imageConfig"]["aspectRatio"] for call in calls} == {
        "1:1"
    }
    assert done == [0.5, 1.0]


async def test_seeds_stay_within_32_bit_signed(fake: FakeGemini, engine: UpstreamEngine) -> None:
    await _generate(engine, _spec(seed=2**32 - 1))
    assert json_of(fake.calls(PATH)[0])["generationConfig"]["seed"] == 2**31 - 1


async def test_an_input_image_is_sent_inline(fake: FakeGemini, engine: UpstreamEngine) -> None:
    source = Image.new("RGB", (90, 60), (10, 200, 30))
    await _generate(engine, _spec(), source=source)
    (text, image) = json_of(fake.calls(PATH)[0])["contents"][0]["parts"]
    assert text == {"text": "a lighthouse at dusk"}
    assert image["inline_data"]["mime_type"] == "image/png"
    with Image.open(io.BytesIO(base64.b64decode(image["inline_data"]["data"]))) as sent:
        assert sent.format == "PNG"
        assert sent.size == (90, 60)


async def test_route_params_are_merged_into_the_body(
    fake: FakeGemini, engine: UpstreamEngine
) -> None:
    params = {
        "generationConfig.imageConfig.imageSize": "2K",
        "generationConfig.seed": 5,
        "generationConfig.temperature": 0.4,
        "labels.team": "art",
    }
    await _generate(engine, _spec(), params=params)
    body = json_of(fake.calls(PATH)[0])
    assert body["generationConfig"] == {
        "responseModalities": ["TEXT", "IMAGE"],
        "imageConfig": {"aspectRatio": "5:4", "imageSize": "2K"},
        "seed": 5,
        "temperature": 0.4,
    }
    assert body["labels"] == {"team": "art"}


async def test_snake_case_image_parts_are_read(engine: UpstreamEngine) -> None:
    assert len(await _generate(engine, _spec(), model="snake-model")) == 1


async def test_a_blocked_prompt_is_rejected_naming_the_reason(
    fake: FakeGemini, engine: UpstreamEngine
) -> None:
    with pytest.raises(ProviderRejected, match="PROHIBITED_CONTENT"):
        await _generate(engine, _spec("BLOCK ME now"))
    assert len(fake.calls(PATH)) == 1


async def test_a_safety_stop_is_a_failure(fake: FakeGemini, engine: UpstreamEngine) -> None:
    with pytest.raises(ProviderFailed, match="IMAGE_SAFETY"):
        await _generate(engine, _spec("UNSAFE things"))
    assert len(fake.calls(PATH)) == 1


async def test_an_answer_without_an_image_is_an_outage(
    fake: FakeGemini, engine: UpstreamEngine
) -> None:
    text_only = {
        "candidates": [{"content": {"parts": [{"text": "What colour?"}]}, "finishReason": "STOP"}]
    }
    fake.fail(PATH, Fault(200, body=json.dumps(text_only)))
    with pytest.raises(ProviderOutage, match=r"without an image.*What colour"):
        await _generate(engine, _spec())
    fake.fail(PATH, Fault(200, body='{"candidates": []}'))
    with pytest.raises(ProviderOutage, match="no candidate"):
        await _generate(engine, _spec())
    fake.fail(PATH, Fault(malformed=True))
    with pytest.raises(ProviderOutage, match="malformed"):
        await _generate(engine, _spec())


async def test_one_failed_image_fails_the_spec(fake: FakeGemini, engine: UpstreamEngine) -> None:
    fake.fail(PATH, Fault(400, body='{"error": {"code": 400, "message": "Bad seed."}}'))
    with pytest.raises(ProviderRejected, match="Bad seed"):
        await _generate(engine, _spec(n=3))
    # The three calls went out together; the other two are dropped (wait for the fake to
    # have seen them, so they do not land in the next test's record).
    for _ in range(200):
        if len(fake.calls(PATH)) == 3:
            break
        await asyncio.sleep(0.01)
    assert len(fake.calls(PATH)) == 3


async def test_a_400_is_rejected_after_one_attempt(
    fake: FakeGemini, engine: UpstreamEngine
) -> None:
    with pytest.raises(ProviderRejected, match="invalid argument"):
        await _generate(engine, _spec("REJECT ME"))
    assert len(fake.calls(PATH)) == 1
    with pytest.raises(ProviderRejected, match="not found"):
        await _generate(engine, _spec(), model="gemini-0")


async def test_a_500_then_success_is_two_attempts(fake: FakeGemini, engine: UpstreamEngine) -> None:
    fake.fail(PATH, Fault(500, body='{"error": {"code": 500, "status": "INTERNAL"}}'))
    assert len(await _generate(engine, _spec())) == 1
    assert len(fake.calls(PATH)) == 2


async def test_a_key_gemini_does_not_know_is_an_outage(fake: FakeGemini) -> None:
    """Gemini answers a wrong key with a 400 (API_KEY_INVALID): not the request's fault."""
    wrong = _provider(fake, key="AIza-wrong")
    keyless = _provider(fake, key=None, requires_key=False)
    try:
        with pytest.raises(ProviderOutage, match="credentials"):
            await _generate(UpstreamEngine(wrong), _spec())
        with pytest.raises(ProviderOutage, match="credentials"):
            await _generate(UpstreamEngine(keyless), _spec())
    finally:
        await wrong.close()
        await keyless.close()
    first, second = fake.calls(PATH)
    assert first.headers["x-goog-api-key"] == "AIza-wrong"
    assert "x-goog-api-key" not in second.headers


async def test_without_a_key() -> None:
    access = ProviderAccess(base_url="http://127.0.0.1:9/v1beta")
    missing = GeminiProvider(UpstreamOptions(), access)
    try:
        assert missing.unavailable_reason() == (
            "no API key: set CREATIX_GEMINI_API_KEY or the engine's api_key_env"
        )
    finally:
        await missing.close()


async def test_the_key_is_only_in_its_header(
    fake: FakeGemini, engine: UpstreamEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "creatix"):
        caplog.set_level(logging.DEBUG, logger=name)
    echoed = json.dumps({"error": {"code": 400, "message": f"Key {KEY} has no access."}})
    fake.fail(PATH, Fault(503), Fault(400, body=echoed))
    with pytest.raises(ProviderRejected) as rejected:
        await _generate(engine, _spec())
    await _generate(engine, _spec(n=2))
    assert all(call.headers["x-goog-api-key"] == KEY for call in fake.requests)
    assert all(call.query == "" for call in fake.requests)
    assert "[redacted]" in str(rejected.value)
    assert KEY not in str(rejected.value)
    names = {record.name.split(".")[0] for record in caplog.records}
    assert {"httpx", "httpcore", "creatix"} <= names, "every client's debug logs were captured"
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in repr(record.__dict__)


# -- chat ------------------------------------------------------------------------------------

CHAT_PATH = "/v1beta/models/gemini-2.5-flash:generateContent"


async def test_chat(fake: FakeGemini, provider: GeminiProvider) -> None:
    request = ChatRequest(
        model="gemini-2.5-flash",
        messages=[
            ChatMessage("user", "hello there"),
            ChatMessage("assistant", "hi"),
            ChatMessage("user", "write a tagline"),
        ],
        system="You write taglines.",
        temperature=0.2,
        max_tokens=50,
        params={"generationConfig.topP": 0.9},
    )
    result = await provider.chat(request)
    assert result.text == "echo: write a tagline"
    assert (result.input_tokens, result.output_tokens) == (3, 4)
    (call,) = fake.calls(CHAT_PATH, "POST")
    assert json_of(call) == {
        "contents": [
            {"role": "user", "parts": [{"text": "hello there"}]},
            {"role": "model", "parts": [{"text": "hi"}]},
            {"role": "user", "parts": [{"text": "write a tagline"}]},
        ],
        "systemInstruction": {"parts": [{"text": "You write taglines."}]},
        "generationConfig": {"temperature": 0.2, "maxOutputTokens": 50, "topP": 0.9},
    }


async def test_chat_with_a_json_schema(fake: FakeGemini, provider: GeminiProvider) -> None:
    schema = {
        "type": "object",
        "properties": {"title": {"type": "string"}, "score": {"type": "integer"}},
        "required": ["title", "score"],
    }
    request = ChatRequest("gemini-2.5-flash", [ChatMessage("user", "rate it")], json_schema=schema)
    result = await provider.chat(request)
    jsonschema.validate(json.loads(result.text), schema)
    body = json_of(fake.calls(CHAT_PATH)[0])
    assert body["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseJsonSchema": schema,
    }
    assert "systemInstruction" not in body


async def test_chat_outcomes(fake: FakeGemini, provider: GeminiProvider) -> None:
    ask = ChatRequest("gemini-2.5-flash", [ChatMessage("user", "hi")])
    with pytest.raises(ProviderRejected, match="PROHIBITED_CONTENT"):
        await provider.chat(replace(ask, messages=[ChatMessage("user", "BLOCK ME")]))
    safety = {"candidates": [{"finishReason": "SAFETY"}]}
    fake.fail(CHAT_PATH, Fault(200, body=json.dumps(safety)))
    with pytest.raises(ProviderFailed, match="SAFETY"):
        await provider.chat(ask)
    thinking = {
        "candidates": [
            {
                "content": {"parts": [{"text": "hmm", "thought": True}, {"text": "Hello!"}]},
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 1,
            "candidatesTokenCount": 2,
            "thoughtsTokenCount": 30,
        },
    }
    fake.fail(CHAT_PATH, Fault(200, body=json.dumps(thinking)))
    result = await provider.chat(ask)
    assert (result.text, result.input_tokens, result.output_tokens) == ("Hello!", 1, 32)
