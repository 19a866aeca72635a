"""The OpenAI provider, through ``UpstreamEngine`` over real HTTP against a fake OpenAI."""

from __future__ import annotations

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
from creatix.engines.upstream.openai import OpenAIProvider, pick_size
from creatix.engines.upstream.text import ChatMessage, ChatRequest
from creatix.jobs.specs import ImageSpec
from fakes.openai import KEY, FakeOpenAI
from fakes.server import Fault, json_of

OPTIONS = UpstreamOptions(attempts=3, retry_base_delay=0.01, retry_max_delay=0.02)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    with server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(fake: FakeOpenAI) -> None:
    """One server for the module; each test starts with no calls and no faults queued."""
    fake.reset()
    fake.edits.clear()


def _provider(fake: FakeOpenAI, key: str | None = KEY, **options: object) -> OpenAIProvider:
    return OpenAIProvider(
        replace(OPTIONS, **options), ProviderAccess(base_url=f"{fake.url}/v1", api_key=key)
    )


@pytest.fixture
async def provider(fake: FakeOpenAI) -> AsyncIterator[OpenAIProvider]:
    made = _provider(fake)
    yield made
    await made.close()


@pytest.fixture
def engine(provider: OpenAIProvider) -> UpstreamEngine:
    return UpstreamEngine(provider)


def _spec(prompt: str = "a red fox in the snow", **fields: object) -> ImageSpec:
    values: dict[str, object] = {"prompt": prompt, "width": 320, "height": 256, "seed": 7}
    values.update(fields)
    return ImageSpec.model_validate(values)


async def _generate(
    engine: UpstreamEngine,
    spec: ImageSpec,
    *,
    model: str = "gpt-image-1",
    source: Image.Image | None = None,
    params: EngineParams | None = None,
) -> list[Image.Image]:
    (images,) = await engine.generate(model, [spec], [source], params=params)
    return list(images)


async def test_text_to_image_gives_n_images_of_the_asked_size(
    fake: FakeOpenAI, engine: UpstreamEngine
) -> None:
    spec = _spec(n=2, negative_prompt="blurry")
    images = await _generate(engine, spec)
    assert [image.size for image in images] == [(320, 256)] * 2
    (call,) = fake.calls("/v1/images/generations", "POST")
    assert json_of(call) == {
        "model": "gpt-image-1",
        "prompt": "a red fox in the snow",
        "n": 2,
        "size": "320x256",
    }


async def test_listed_sizes_pick_the_closest_aspect_and_are_not_sent(
    fake: FakeOpenAI, engine: UpstreamEngine
) -> None:
    params = {"sizes": "1024x1024,1536x1024,1024x1536", "moderation": "low", "quality": "low"}
    images = await _generate(engine, _spec(width=300, height=200, quality="hd"), params=params)
    assert [image.size for image in images] == [(300, 200)]
    body = json_of(fake.calls("/v1/images/generations")[0])
    # The route's own fields are sent as they are and win over derived ones (hd → high).
    assert body == {
        "model": "gpt-image-1",
        "prompt": "a red fox in the snow",
        "n": 1,
        "size": "1536x1024",
        "moderation": "low",
        "quality": "low",
    }


def test_size_picking() -> None:
    sizes = "1024x1024,1536x1024,1024x1536"
    assert pick_size(320, 256, None) == "320x256"
    assert pick_size(256, 400, sizes) == "1024x1536"
    assert pick_size(500, 500, sizes) == "1024x1024"
    assert pick_size(300, 300, "512x512, 1024x1024") == "1024x1024"  # a tie: the larger
    with pytest.raises(ProviderRejected, match="no usable size"):
        pick_size(300, 300, "auto")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"engine_params": {"quality": "medium"}}, "medium"),
        ({"engine_params": {"quality": "high"}, "quality": "standard"}, "high"),
        ({"quality": "hd"}, "high"),
        ({"quality": "standard"}, None),
    ],
)
async def test_quality(
    fake: FakeOpenAI, engine: UpstreamEngine, fields: dict[str, object], expected: str | None
) -> None:
    await _generate(engine, _spec(**fields))
    assert json_of(fake.calls("/v1/images/generations")[0]).get("quality") == expected


async def test_an_input_image_is_an_edit_with_the_png(
    fake: FakeOpenAI, engine: UpstreamEngine
) -> None:
    source = Image.new("RGB", (90, 60), (10, 200, 30))
    params = {"sizes": "1024x1024,1536x1024,1024x1536", "input_fidelity": "high", "stream": False}
    images = await _generate(engine, _spec(n=2), source=source, params=params)
    assert [image.size for image in images] == [(320, 256)] * 2
    assert not fake.calls("/v1/images/generations")
    (edit,) = fake.edits
    assert edit.fields == {
        "model": "gpt-image-1",
        "prompt": "a red fox in the snow",
        "n": "2",
        "size": "1536x1024",
        "input_fidelity": "high",
        "stream": "false",
    }
    assert edit.image_type == "image/png"
    with Image.open(io.BytesIO(edit.image)) as sent:
        assert sent.format == "PNG"
        assert sent.size == (90, 60)
        assert sent.convert("RGB").getpixel((5, 5)) == (10, 200, 30)


async def test_url_results_are_downloaded(fake: FakeOpenAI, engine: UpstreamEngine) -> None:
    images = await _generate(engine, _spec(n=2), model="url-model")
    assert [image.size for image in images] == [(320, 256)] * 2
    assert len(fake.calls("/files/", "GET")) == 2


async def test_a_url_that_404s_is_a_failure(fake: FakeOpenAI, engine: UpstreamEngine) -> None:
    with pytest.raises(ProviderFailed, match="HTTP 404"):
        await _generate(engine, _spec(), model="missing-url-model")


async def test_a_400_is_rejected_after_one_attempt(
    fake: FakeOpenAI, engine: UpstreamEngine
) -> None:
    with pytest.raises(ProviderRejected, match="rejected as a result of our safety system"):
        await _generate(engine, _spec("REJECT ME please"))
    assert len(fake.calls("/v1/images/generations")) == 1
    with pytest.raises(ProviderRejected, match="`dall-e-9` does not exist"):
        await _generate(engine, _spec(), model="dall-e-9")


async def test_a_500_then_success_is_two_attempts(fake: FakeOpenAI, engine: UpstreamEngine) -> None:
    fake.fail("/v1/images/generations", Fault(500))
    assert len(await _generate(engine, _spec())) == 1
    assert len(fake.calls("/v1/images/generations")) == 2


async def test_bodies_that_break_the_protocol_are_outages(
    fake: FakeOpenAI, engine: UpstreamEngine
) -> None:
    fake.fail("/v1/images/generations", Fault(malformed=True))
    with pytest.raises(ProviderOutage, match="malformed"):
        await _generate(engine, _spec())
    fake.fail("/v1/images/generations", Fault(200, body='{"data": [{"revised_prompt": "x"}]}'))
    with pytest.raises(ProviderOutage, match="no file"):
        await _generate(engine, _spec())
    fake.fail("/v1/images/generations", Fault(200, body='{"data": [{"b64_json": "@@@"}]}'))
    with pytest.raises(ProviderOutage, match="not base64"):
        await _generate(engine, _spec())
    fake.fail("/v1/images/generations", Fault(200, body='{"data": []}'))
    with pytest.raises(ProviderOutage, match="returned 0 images"):
        await _generate(engine, _spec())


async def test_a_wrong_key_is_an_outage_after_one_attempt(fake: FakeOpenAI) -> None:
    provider = _provider(fake, key="sk-wrong")
    try:
        with pytest.raises(ProviderOutage, match="credentials"):
            await _generate(UpstreamEngine(provider), _spec())
    finally:
        await provider.close()
    assert len(fake.calls("/v1/images/generations")) == 1


async def test_without_a_key() -> None:
    access = ProviderAccess(base_url="http://127.0.0.1:9/v1")
    missing = OpenAIProvider(UpstreamOptions(), access)
    custom = OpenAIProvider(UpstreamOptions(api_key_env="LOCALAI_KEY"), access)
    keyless = OpenAIProvider(UpstreamOptions(requires_key=False), access)
    try:
        assert missing.unavailable_reason() == (
            "no API key: set CREATIX_OPENAI_API_KEY or the engine's api_key_env"
        )
        assert custom.unavailable_reason() == "no API key: set LOCALAI_KEY"
        assert keyless.unavailable_reason() is None
    finally:
        for provider in (missing, custom, keyless):
            await provider.close()


async def test_a_keyless_server_gets_no_authorization_header() -> None:
    server = FakeOpenAI(api_key=None)
    with server:
        provider = _provider(server, key=None, requires_key=False)
        try:
            assert len(await _generate(UpstreamEngine(provider), _spec())) == 1
        finally:
            await provider.close()
        (call,) = server.calls("/v1/images/generations")
        assert "authorization" not in call.headers


async def test_the_key_is_only_in_the_auth_header(
    fake: FakeOpenAI, engine: UpstreamEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "creatix"):
        caplog.set_level(logging.DEBUG, logger=name)
    echoed = json.dumps({"error": {"message": f"Incorrect API key provided: {KEY}."}})
    fake.fail("/v1/images/generations", Fault(500), Fault(400, body=echoed))
    with pytest.raises(ProviderRejected) as rejected:
        await _generate(engine, _spec())
    fake.fail("/v1/images/generations", Fault(401, body=echoed))
    with pytest.raises(ProviderOutage) as refused:
        await _generate(engine, _spec())
    await _generate(engine, _spec(n=2), model="url-model")
    calls = fake.calls("/v1/images/generations")
    assert all(call.headers["authorization"] == f"Bearer {KEY}" for call in calls)
    assert all(KEY not in call.query for call in fake.requests)
    assert "[redacted]" in str(rejected.value)
    assert KEY not in str(rejected.value)
    assert KEY not in str(refused.value)
    names = {record.name.split(".")[0] for record in caplog.records}
    assert {"httpx", "httpcore", "creatix"} <= names, "every client's debug logs were captured"
    for record in caplog.records:
        assert KEY not in record.getMessage()
        assert KEY not in repr(record.__dict__)


# -- chat ------------------------------------------------------------------------------------


async def test_chat(fake: FakeOpenAI, provider: OpenAIProvider) -> None:
    request = ChatRequest(
        model="gpt-4o-mini",
        messages=[
            ChatMessage("user", "hello there"),
            ChatMessage("assistant", "hi"),
            ChatMessage("user", "write a tagline"),
        ],
        system="You write taglines.",
        temperature=0.2,
        max_tokens=50,
        params={"top_p": 0.9},
    )
    result = await provider.chat(request)
    assert result.text == "echo: write a tagline"
    assert (result.input_tokens, result.output_tokens) == (9, 4)
    (call,) = fake.calls("/v1/chat/completions", "POST")
    assert json_of(call) == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You write taglines."},
            {"role": "user", "content": "hello there"},
            {"role": "assistant", "content": "hi"},
            {"role": "user", "content": "write a tagline"},
        ],
        "temperature": 0.2,
        "max_tokens": 50,
        "top_p": 0.9,
    }


async def test_chat_with_a_json_schema(fake: FakeOpenAI, provider: OpenAIProvider) -> None:
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "tone": {"type": "string", "enum": ["calm", "bold"]},
        },
        "required": ["title", "tags", "tone"],
        "additionalProperties": False,
    }
    request = ChatRequest("gpt-4o-mini", [ChatMessage("user", "describe")], json_schema=schema)
    result = await provider.chat(request)
    jsonschema.validate(json.loads(result.text), schema)
    body = json_of(fake.calls("/v1/chat/completions")[0])
    # Not strict: OpenAI's strict mode refuses the schemas users often write.
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": False},
    }
    assert "temperature" not in body
    assert "max_tokens" not in body


async def test_chat_failures(fake: FakeOpenAI, provider: OpenAIProvider) -> None:
    with pytest.raises(ProviderRejected, match="safety system"):
        await provider.chat(ChatRequest("gpt-4o-mini", [ChatMessage("user", "REJECT ME")]))
    refusal = {
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "refusal": "I can't help."},
                "finish_reason": "stop",
            }
        ]
    }
    fake.fail("/v1/chat/completions", Fault(200, body=json.dumps(refusal)))
    with pytest.raises(ProviderFailed, match="I can't help"):
        await provider.chat(ChatRequest("gpt-4o-mini", [ChatMessage("user", "hi")]))
    fake.fail("/v1/chat/completions", Fault(200, body='{"choices": []}'))
    with pytest.raises(ProviderOutage, match="no message"):
        await provider.chat(ChatRequest("gpt-4o-mini", [ChatMessage("user", "hi")]))
