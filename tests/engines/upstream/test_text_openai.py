"""Text generation through the OpenAI provider: ``UpstreamEngine.generate_text`` over real HTTP
against a fake OpenAI, asserting the exact ``chat/completions`` body for each ``TextSpec``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import jsonschema
import pytest

from creatix.engines.base import EngineError, EngineParams, TextEngine
from creatix.engines.upstream import (
    ProviderAccess,
    ProviderRejected,
    UpstreamEngine,
    UpstreamOptions,
)
from creatix.engines.upstream.fal import FalProvider
from creatix.engines.upstream.openai import OpenAIProvider
from creatix.engines.upstream.replicate import ReplicateProvider
from creatix.engines.upstream.text import TextProvider
from creatix.jobs.specs import TextResult, TextSpec
from fakes.openai import KEY, NOT_JSON, FakeOpenAI
from fakes.server import Fault, json_of

OPTIONS = UpstreamOptions(attempts=3, retry_base_delay=0.01, retry_max_delay=0.02)
MODEL = "gpt-4o-mini"
PATH = "/v1/chat/completions"
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["title"],
}
"""A schema as users write them: OpenAI's strict mode would refuse it (no
``additionalProperties: false``, not every property required)."""
CONVERSATION = [
    {"role": "user", "content": "hello there"},
    {"role": "model", "content": "hi"},
    {"role": "user", "content": "write a tagline"},
]
SENT_CONVERSATION = [
    {"role": "user", "content": "hello there"},
    {"role": "assistant", "content": "hi"},
    {"role": "user", "content": "write a tagline"},
]
EVERY_FIELD: dict[str, Any] = {
    "temperature": 0.3,
    "max_output_tokens": 64,
    "top_p": 0.8,
    "top_k": 40,
    "presence_penalty": 0.5,
    "frequency_penalty": -0.25,
    "seed": 1234,
    "stop_sequences": ["END", "STOP", "###", "\n\n", "sixth?", "seventh"],
    "response_mime_type": "application/json",
    "response_json_schema": SCHEMA,
}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    with server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(fake: FakeOpenAI) -> None:
    fake.reset()


@pytest.fixture
async def engine(fake: FakeOpenAI) -> AsyncIterator[UpstreamEngine]:
    provider = OpenAIProvider(OPTIONS, ProviderAccess(base_url=f"{fake.url}/v1", api_key=KEY))
    made = UpstreamEngine(provider)
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
    fake: FakeOpenAI, engine: UpstreamEngine, spec: TextSpec, params: EngineParams | None = None
) -> tuple[TextResult, dict[str, Any]]:
    result = await engine.generate_text(MODEL, spec, params)
    (call,) = fake.calls(PATH, "POST")
    assert call.headers["authorization"] == f"Bearer {KEY}"
    return result, json_of(call)


def test_an_openai_engine_is_a_text_engine(engine: UpstreamEngine) -> None:
    assert isinstance(engine, TextEngine)
    assert isinstance(engine.provider, TextProvider)


async def test_every_config_field(fake: FakeOpenAI, engine: UpstreamEngine) -> None:
    spec = _spec(CONVERSATION, "You write taglines.", **EVERY_FIELD)
    result, body = await _sent(fake, engine, spec)
    assert body == {
        "model": MODEL,
        "messages": [{"role": "system", "content": "You write taglines."}, *SENT_CONVERSATION],
        "temperature": 0.3,
        "top_p": 0.8,
        # top_k is no OpenAI parameter: dropped unless the route says send_top_k.
        "max_tokens": 64,
        "presence_penalty": 0.5,
        "frequency_penalty": -0.25,
        "seed": 1234,
        "stop": ["END", "STOP", "###", "\n\n"],  # OpenAI takes at most 4
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": SCHEMA, "strict": False},
        },
    }
    jsonschema.validate(json.loads(result.text), SCHEMA)
    assert result.input_tokens == 9  # the fake counts words: 3 + 2 + 1 + 3
    assert result.output_tokens == len(result.text.split())


async def test_route_control_params_send_top_k_and_rename_max_tokens(
    fake: FakeOpenAI, engine: UpstreamEngine
) -> None:
    params: EngineParams = {"send_top_k": True, "max_tokens_field": "max_completion_tokens"}
    _, body = await _sent(fake, engine, _spec(top_k=40, max_output_tokens=64), params)
    # The control keys themselves are never sent.
    assert body == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "write a tagline"}],
        "top_k": 40,
        "max_completion_tokens": 64,
    }
    fake.reset()
    _, body = await _sent(fake, engine, _spec(top_k=40), {"send_top_k": "false"})
    assert "top_k" not in body
    assert "send_top_k" not in body


async def test_an_unknown_max_tokens_field_is_rejected_unsent(
    fake: FakeOpenAI, engine: UpstreamEngine
) -> None:
    with pytest.raises(ProviderRejected, match="max_tokens_field"):
        await engine.generate_text(MODEL, _spec(), {"max_tokens_field": "tokens"})
    assert not fake.calls(PATH)


async def test_nothing_set_sends_nothing_extra(fake: FakeOpenAI, engine: UpstreamEngine) -> None:
    result, body = await _sent(fake, engine, _spec(CONVERSATION))
    assert body == {"model": MODEL, "messages": SENT_CONVERSATION}
    assert result == TextResult(text="echo: write a tagline", input_tokens=6, output_tokens=4)


async def test_a_schema_with_text_plain_is_not_sent(
    fake: FakeOpenAI, engine: UpstreamEngine
) -> None:
    _, body = await _sent(fake, engine, _spec(response_json_schema=SCHEMA))
    assert body == {"model": MODEL, "messages": [{"role": "user", "content": "write a tagline"}]}


async def test_json_without_a_schema_is_json_object_with_the_word_json(
    fake: FakeOpenAI, engine: UpstreamEngine
) -> None:
    # No message says "JSON": OpenAI would answer a 400 (as the fake does) without the line.
    result, body = await _sent(fake, engine, _spec(response_mime_type="application/json"))
    assert body == {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "Answer with JSON only."},
            {"role": "user", "content": "write a tagline"},
        ],
        "response_format": {"type": "json_object"},
    }
    assert json.loads(result.text) == {"echo": "write a tagline"}

    fake.reset()
    spec = _spec(system="You write taglines.", response_mime_type="application/json")
    _, body = await _sent(fake, engine, spec)
    assert body["messages"][0] == {
        "role": "system",
        "content": "You write taglines.\n\nAnswer with JSON only.",
    }

    fake.reset()
    spec = _spec(
        [{"role": "user", "content": "a tagline, as json"}],
        "Be brief.",
        response_mime_type="application/json",
    )
    _, body = await _sent(fake, engine, spec)
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "a tagline, as json"},
    ], "a message already says JSON: nothing is added"


async def test_route_params_win_verbatim(fake: FakeOpenAI, engine: UpstreamEngine) -> None:
    spec = _spec(temperature=0.3, top_p=0.8, stop_sequences=["END"])
    params: EngineParams = {"temperature": 1.0, "top_p": 1, "user": "creatix", "stop": "FIN"}
    _, body = await _sent(fake, engine, spec, params)
    assert body == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "write a tagline"}],
        "temperature": 1.0,
        "top_p": 1,
        "stop": "FIN",
        "user": "creatix",
    }


async def test_missing_usage_counts_zero_tokens(fake: FakeOpenAI, engine: UpstreamEngine) -> None:
    answer = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!"}}]}
    fake.fail(PATH, Fault(200, body=json.dumps(answer)))
    result = await engine.generate_text(MODEL, _spec())
    assert result == TextResult(text="Hi!", input_tokens=0, output_tokens=0)


async def test_a_400_is_rejected_after_one_attempt(
    fake: FakeOpenAI, engine: UpstreamEngine
) -> None:
    with pytest.raises(ProviderRejected, match="safety system"):
        await engine.generate_text(MODEL, _spec([{"role": "user", "content": "REJECT ME"}]))
    assert len(fake.calls(PATH)) == 1


async def test_a_500_then_success_is_two_attempts(fake: FakeOpenAI, engine: UpstreamEngine) -> None:
    fake.fail(PATH, Fault(500))
    result = await engine.generate_text(MODEL, _spec(temperature=0.1))
    assert result.text == "echo: write a tagline"
    first, second = fake.calls(PATH)
    assert json_of(first) == json_of(second)


async def test_the_fake_spoils_json_answers_on_demand(
    fake: FakeOpenAI, engine: UpstreamEngine
) -> None:
    """For the job core's schema check: the next answers are not JSON, then off the schema."""
    spec = _spec(response_mime_type="application/json", response_json_schema=SCHEMA)
    fake.invalid_json_times, fake.off_schema_times = 1, 1
    assert (await engine.generate_text(MODEL, spec)).text == NOT_JSON
    off = json.loads((await engine.generate_text(MODEL, spec)).text)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(off, SCHEMA)
    jsonschema.validate(json.loads((await engine.generate_text(MODEL, spec)).text), SCHEMA)
    assert len(fake.chat_bodies) == 3


@pytest.mark.parametrize("kind", [FalProvider, ReplicateProvider])
async def test_providers_without_chat_have_no_text_models(
    kind: type[FalProvider | ReplicateProvider],
) -> None:
    provider = kind(OPTIONS, ProviderAccess(base_url="http://127.0.0.1:9", api_key="k"))
    assert not isinstance(provider, TextProvider)
    engine = UpstreamEngine(provider)
    try:
        with pytest.raises(EngineError, match="no text models") as raised:
            await engine.generate_text("some-model", _spec())
        assert raised.value.code == "unsupported_model"
        assert not raised.value.retryable
        assert not raised.value.fallback
    finally:
        await engine.close()
