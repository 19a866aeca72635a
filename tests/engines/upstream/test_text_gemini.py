"""Text generation through the Gemini provider: ``UpstreamEngine.generate_text`` over real HTTP
against a fake Gemini API, asserting the exact ``generateContent`` body for each ``TextSpec``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import jsonschema
import pytest

from creatix.engines.base import EngineParams, TextEngine
from creatix.engines.upstream import (
    ProviderAccess,
    ProviderFailed,
    ProviderRejected,
    UpstreamEngine,
    UpstreamOptions,
)
from creatix.engines.upstream.gemini import GeminiProvider
from creatix.engines.upstream.text import TextProvider
from creatix.jobs.specs import TextResult, TextSpec
from fakes.gemini import KEY, FakeGemini
from fakes.openai import NOT_JSON
from fakes.server import Fault, json_of

OPTIONS = UpstreamOptions(attempts=3, retry_base_delay=0.01, retry_max_delay=0.02)
MODEL = "gemini-2.5-flash"
PATH = f"/v1beta/models/{MODEL}:generateContent"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "score": {"type": "integer"}},
    "required": ["title"],
}
CONVERSATION = [
    {"role": "user", "content": "hello there"},
    {"role": "model", "content": "hi"},
    {"role": "user", "content": "write a tagline"},
]
SENT_CONTENTS = [
    {"role": "user", "parts": [{"text": "hello there"}]},
    {"role": "model", "parts": [{"text": "hi"}]},
    {"role": "user", "parts": [{"text": "write a tagline"}]},
]
EVERY_FIELD: dict[str, Any] = {
    "temperature": 0.3,
    "max_output_tokens": 64,
    "top_p": 0.8,
    "top_k": 40,
    "presence_penalty": 0.5,
    "frequency_penalty": -0.25,
    "seed": 1234,
    "stop_sequences": ["END", "STOP", "###", "\n\n", "fifth", "sixth?", "seventh"],
    "response_mime_type": "application/json",
    "response_json_schema": SCHEMA,
}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeGemini]:
    server = FakeGemini()
    with server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(fake: FakeGemini) -> None:
    fake.reset()


@pytest.fixture
async def engine(fake: FakeGemini) -> AsyncIterator[UpstreamEngine]:
    access = ProviderAccess(base_url=f"{fake.url}/v1beta", api_key=KEY)
    made = UpstreamEngine(GeminiProvider(OPTIONS, access))
    yield made
    await made.close()


def _spec(
    messages: list[dict[str, str]] | None = None, system: str = "", **config: Any
) -> TextSpec:
    return TextSpec.model_validate(
        {
            "messages": messages or [{"role": "user", "content": "write a tagline"}],
            "system_instruction": system,
            "config": config,
        }
    )


async def _sent(
    fake: FakeGemini, engine: UpstreamEngine, spec: TextSpec, params: EngineParams | None = None
) -> tuple[TextResult, dict[str, Any]]:
    result = await engine.generate_text(MODEL, spec, params)
    (call,) = fake.calls(PATH, "POST")
    assert call.headers["x-goog-api-key"] == KEY
    assert KEY not in call.query
    return result, json_of(call)


def test_a_gemini_engine_is_a_text_engine(engine: UpstreamEngine) -> None:
    assert isinstance(engine, TextEngine)
    assert isinstance(engine.provider, TextProvider)


async def test_every_config_field(fake: FakeGemini, engine: UpstreamEngine) -> None:
    spec = _spec(CONVERSATION, "You write taglines.", **EVERY_FIELD)
    result, body = await _sent(fake, engine, spec)
    assert body == {
        "contents": SENT_CONTENTS,
        "systemInstruction": {"parts": [{"text": "You write taglines."}]},
        "generationConfig": {
            "temperature": 0.3,
            "topP": 0.8,
            "topK": 40,
            "maxOutputTokens": 64,
            "presencePenalty": 0.5,
            "frequencyPenalty": -0.25,
            "seed": 1234,
            "stopSequences": ["END", "STOP", "###", "\n\n", "fifth"],  # Gemini takes at most 5
            "responseMimeType": "application/json",
            "responseJsonSchema": SCHEMA,
        },
    }
    jsonschema.validate(json.loads(result.text), SCHEMA)
    assert result.input_tokens == 3  # the fake counts the last message's words
    assert result.output_tokens == len(result.text.split())


async def test_nothing_set_sends_nothing_extra(fake: FakeGemini, engine: UpstreamEngine) -> None:
    result, body = await _sent(fake, engine, _spec(CONVERSATION))
    assert body == {"contents": SENT_CONTENTS}
    assert result == TextResult(text="echo: write a tagline", input_tokens=3, output_tokens=4)


async def test_a_schema_with_text_plain_is_not_sent(
    fake: FakeGemini, engine: UpstreamEngine
) -> None:
    _, body = await _sent(fake, engine, _spec(response_json_schema=SCHEMA))
    assert body == {"contents": [{"role": "user", "parts": [{"text": "write a tagline"}]}]}


async def test_json_without_a_schema(fake: FakeGemini, engine: UpstreamEngine) -> None:
    result, body = await _sent(fake, engine, _spec(response_mime_type="application/json"))
    assert body == {
        "contents": [{"role": "user", "parts": [{"text": "write a tagline"}]}],
        "generationConfig": {"responseMimeType": "application/json"},
    }
    assert json.loads(result.text) == {"echo": "write a tagline"}


async def test_a_seed_beyond_32_bits_is_folded(fake: FakeGemini, engine: UpstreamEngine) -> None:
    _, body = await _sent(fake, engine, _spec(seed=2**32 + 5))
    assert body["generationConfig"] == {"seed": 5}
    fake.reset()
    _, body = await _sent(fake, engine, _spec(seed=-7))
    assert body["generationConfig"] == {"seed": -7}, "a negative int32 is Gemini's as it is"


async def test_route_params_are_deep_merged_and_win(
    fake: FakeGemini, engine: UpstreamEngine
) -> None:
    spec = _spec(system="Be brief.", temperature=0.3, top_p=0.8)
    params: EngineParams = {
        "generationConfig.temperature": 1.0,
        "generationConfig.thinkingConfig.thinkingBudget": 0,
        "systemInstruction.role": "system",
    }
    _, body = await _sent(fake, engine, spec, params)
    assert body == {
        "contents": [{"role": "user", "parts": [{"text": "write a tagline"}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}], "role": "system"},
        "generationConfig": {
            "temperature": 1.0,
            "topP": 0.8,
            "thinkingConfig": {"thinkingBudget": 0},
        },
    }


async def test_thinking_tokens_count_as_output(fake: FakeGemini, engine: UpstreamEngine) -> None:
    answer = {
        "candidates": [
            {
                "content": {"parts": [{"text": "hmm", "thought": True}, {"text": "Hello!"}]},
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 4,
            "candidatesTokenCount": 2,
            "thoughtsTokenCount": 9,
        },
    }
    fake.fail(PATH, Fault(200, body=json.dumps(answer)))
    result = await engine.generate_text(MODEL, _spec())
    assert result == TextResult(text="Hello!", input_tokens=4, output_tokens=11)
    fake.fail(PATH, Fault(200, body=json.dumps({"candidates": answer["candidates"]})))
    result = await engine.generate_text(MODEL, _spec())
    assert result == TextResult(text="Hello!", input_tokens=0, output_tokens=0)


async def test_a_400_is_rejected_after_one_attempt(
    fake: FakeGemini, engine: UpstreamEngine
) -> None:
    with pytest.raises(ProviderRejected, match="invalid argument"):
        await engine.generate_text(MODEL, _spec([{"role": "user", "content": "REJECT ME"}]))
    assert len(fake.calls(PATH)) == 1


async def test_a_refusal_is_a_failure(fake: FakeGemini, engine: UpstreamEngine) -> None:
    fake.fail(PATH, Fault(200, body=json.dumps({"candidates": [{"finishReason": "SAFETY"}]})))
    with pytest.raises(ProviderFailed, match="SAFETY"):
        await engine.generate_text(MODEL, _spec())


async def test_a_500_then_success_is_two_attempts(fake: FakeGemini, engine: UpstreamEngine) -> None:
    fake.fail(PATH, Fault(500))
    result = await engine.generate_text(MODEL, _spec(temperature=0.1))
    assert result.text == "echo: write a tagline"
    first, second = fake.calls(PATH)
    assert json_of(first) == json_of(second)


async def test_the_fake_spoils_json_answers_on_demand(
    fake: FakeGemini, engine: UpstreamEngine
) -> None:
    spec = _spec(response_mime_type="application/json", response_json_schema=SCHEMA)
    fake.invalid_json_times, fake.off_schema_times = 1, 1
    assert (await engine.generate_text(MODEL, spec)).text == NOT_JSON
    off = json.loads((await engine.generate_text(MODEL, spec)).text)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(off, SCHEMA)
    jsonschema.validate(json.loads((await engine.generate_text(MODEL, spec)).text), SCHEMA)
    assert len(fake.chat_bodies) == 3
