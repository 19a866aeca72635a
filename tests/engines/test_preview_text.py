"""The preview text engine: deterministic placeholder ad copy that follows the prompt, and
valid JSON Schema instances."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import pytest
from jsonschema import Draft7Validator, Draft202012Validator
from referencing import Registry

from creatix.engines.base import EngineError, TextEngine
from creatix.engines.preview_text import LABEL, PreviewTextEngine, answer, read_brief
from creatix.jobs.specs import ChatTurn, TextConfig, TextResult, TextSpec

MODEL = "creatix-copy"
COFFEE = "Write ad copy for our new cold brew coffee, aimed at busy parents."


def _spec(text: str = COFFEE, system: str = "", **config: Any) -> TextSpec:
    return TextSpec(
        messages=[ChatTurn(role="user", content=text)],
        system_instruction=system,
        config=TextConfig(**config),
    )


def _answer(text: str = COFFEE, system: str = "", **config: Any) -> TextResult:
    return answer(MODEL, _spec(text, system, **config))


def _copy_lines(text: str) -> list[str]:
    """The answer's lines of copy: no label, no blank lines, no list marks or piece labels."""
    lines = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("—"):
            continue
        line = re.sub(r"^(?:\d+\.|-)\s+", "", line)
        line = re.sub(r"^(?:Headlines?|Taglines?|Body|Call to action|Key points):\s*", "", line)
        if line:
            lines.append(line)
    return lines


# -- the engine ------------------------------------------------------------------------------


async def test_it_is_a_text_engine() -> None:
    engine = PreviewTextEngine()
    assert isinstance(engine, TextEngine)
    assert (engine.name, engine.max_batch) == ("preview_text", 1)
    assert engine.unavailable_reason(MODEL) is None
    result = await engine.generate_text(MODEL, _spec())
    assert result == _answer()
    await engine.close()


def test_options_are_checked() -> None:
    assert PreviewTextEngine.from_options({}).delay_seconds == 0
    assert PreviewTextEngine.from_options({"delay_seconds": "0.5"}).delay_seconds == 0.5
    with pytest.raises(ValueError, match="unknown preview_text option"):
        PreviewTextEngine.from_options({"delay": 1})
    with pytest.raises(ValueError, match="delay_seconds"):
        PreviewTextEngine.from_options({"delay_seconds": -1})
    with pytest.raises(ValueError, match="delay_seconds"):
        PreviewTextEngine.from_options({"delay_seconds": True})


async def test_the_delay_keeps_the_loop_free() -> None:
    engine = PreviewTextEngine.from_options({"delay_seconds": 0.3})
    started = time.perf_counter()
    await engine.generate_text(MODEL, _spec())
    one = time.perf_counter() - started
    started = time.perf_counter()
    results = await asyncio.gather(*(engine.generate_text(MODEL, _spec()) for _ in range(10)))
    ten = time.perf_counter() - started
    # Ten delays one after another take ten times one call; side by side, about one call.
    # Against the call measured here, a loaded machine slows both sides alike.
    assert ten < 5 * one, (one, ten)
    assert len({r.text for r in results}) == 1


# -- copy from the prompt --------------------------------------------------------------------


def test_the_same_spec_gives_the_same_answer_and_seeds_vary_it() -> None:
    assert _answer() == _answer()
    assert _answer(seed=1) == _answer(seed=1)
    texts = {_answer(seed=seed).text for seed in range(6)}
    assert len(texts) >= 5


def test_the_answer_is_labelled_as_preview_copy_and_counts_words() -> None:
    result = _answer(system="You write ads.")
    assert result.text.endswith("\n\n" + LABEL)
    assert result.input_tokens == len(COFFEE.split()) + 3
    assert result.output_tokens == len(result.text.split())


def test_the_default_answer_is_headline_body_and_call_to_action() -> None:
    blocks = _answer().text.split("\n\n")
    assert len(blocks) == 4  # headline, body, call to action, label
    headline, body, cta, _ = blocks
    assert "cold brew coffee" in (headline + body).lower()
    assert "busy parents" in _answer(seed=3).text or "busy parents" in body
    assert len(body.split(". ")) >= 2
    assert len(cta.split()) <= 6


@pytest.mark.parametrize(
    ("prompt", "product"),
    [
        ("Write a headline for our new cold brew coffee.", "cold brew coffee"),
        ("Give me 3 short headlines about running shoes for marathon runners", "running shoes"),
        ("Headline for busy parents about our meal kit", "meal kit"),
        ('Ad copy for a lamp called "Lumen Desk Lamp", please.', "Lumen Desk Lamp"),
        ("Product: Solar Garden Lights\nWrite a tagline.", "Solar Garden Lights"),
        ("Promote the Acme Trail Backpack to hikers", "Acme Trail Backpack"),
    ],
)
def test_the_product_from_the_prompt_is_mentioned(prompt: str, product: str) -> None:
    assert read_brief(_spec(prompt)).product == product
    text = " ".join(_answer(prompt, seed=seed).text for seed in range(3))
    assert product.lower() in text.lower()


def test_the_system_instruction_names_the_product_when_the_message_does_not() -> None:
    result = _answer("Write a tagline.", system="You write copy for Oatly oat milk.")
    assert "oat milk" in result.text.lower()


def test_tone_words_pick_the_vocabulary() -> None:
    assert read_brief(_spec("A luxurious headline for Lumen")).tone == "luxury"
    assert read_brief(_spec("Tone: playful\nA headline for socks")).tone == "playful"
    assert read_brief(_spec("A headline for socks")).tone == "friendly"
    luxury = " ".join(
        _answer("A premium headline and body for Lumen", seed=s).text for s in range(4)
    )
    assert re.search(r"refined|exquisite|timeless|elegant|crafted|luxury", luxury.lower())


def test_a_number_of_headlines_gives_that_many_different_lines() -> None:
    result = _answer("Write 4 headlines for our cold brew coffee.")
    lines = _copy_lines(result.text)
    assert len(lines) == 4
    assert len(set(lines)) == 4
    assert all(line.startswith(f"{i}. ") for i, line in enumerate(result.text.splitlines()[:4], 1))


def test_variants_repeat_the_asked_pieces() -> None:
    text = _answer("Write 2 variants of a headline and a CTA for a meditation app").text
    assert text.count("Variant ") == 2
    assert text.count("Headline: ") == 2
    assert text.count("Call to action: ") == 2
    assert len(_copy_lines(_answer("Give me five tagline options for oat milk").text)) == 5


def test_bullet_points_are_a_list() -> None:
    text = _answer("Write 3 bullet points for the Acme Trail Backpack.").text
    bullets = [line for line in text.splitlines() if line.startswith("- ")]
    assert len(bullets) == 3
    assert len(set(bullets)) == 3
    mixed = _answer("Write a headline, a tagline and 4 bullet points for Solar Garden Lights").text
    assert "Headline: " in mixed
    assert "Tagline: " in mixed
    assert len([line for line in mixed.splitlines() if line.startswith("- ")]) == 4


def test_hashtags_and_subject_lines() -> None:
    text = _answer("Write an Instagram caption with hashtags for our summer sandals").text
    assert re.search(r"Hashtags: (#\w+ ?){3}", text)
    subject = _answer("Write an email subject line for our headphones deal").text
    assert len(_copy_lines(subject)) == 1


@pytest.mark.parametrize("limit", [20, 35, 60, 90])
def test_a_character_limit_holds_for_every_line(limit: int) -> None:
    prompt = (
        "Write 5 headlines and a description for our new cold brew coffee, "
        f"under {limit} characters."
    )
    for seed in range(4):
        lines = _copy_lines(_answer(prompt, seed=seed).text)
        assert len(lines) == 6
        assert all(len(line) < limit for line in lines), lines


def test_limits_said_of_one_piece_hold_for_that_piece() -> None:
    prompt = (
        'Ad copy for "Lumen Desk Lamp". Keep the headline under 30 characters and a '
        "description under 100 characters."
    )
    brief = read_brief(_spec(prompt))
    assert (brief.limit("headline").chars, brief.limit("body").chars) == (29, 99)
    for seed in range(4):
        text = _answer(prompt, seed=seed).text
        headline = re.search(r"Headline: (.*)", text)
        body = re.search(r"Body: (.*)", text)
        assert headline is not None
        assert body is not None
        assert len(headline.group(1)) < 30
        assert len(body.group(1)) < 100


def test_short_asks_for_fewer_words() -> None:
    normal = [len(_answer(COFFEE, seed=s).text.split()) for s in range(4)]
    short = [len(_answer("Short " + COFFEE, seed=s).text.split()) for s in range(4)]
    assert sum(short) < sum(normal)


def test_max_output_tokens_counts_words() -> None:
    for budget in (3, 8, 12, 20):
        result = _answer(max_output_tokens=budget)
        assert result.output_tokens <= budget
        assert "preview" in result.text
    assert _answer(max_output_tokens=1000) == _answer()


def test_stop_sequences_cut_the_answer() -> None:
    full = _answer().text
    first_line = full.split("\n")[0]
    cut = _answer(stop_sequences=["\n"]).text
    assert "\n" not in cut
    assert cut.startswith(first_line)
    assert "preview engine" in cut  # the label moved onto the line
    word = full.split()[3]
    cut = _answer(stop_sequences=["zzz", word]).text
    assert word not in cut
    assert cut.startswith(full[: full.index(word)].rstrip())
    nothing = _answer(stop_sequences=["—", "["]).text
    assert "—" not in nothing
    assert "[" not in nothing


# -- JSON ------------------------------------------------------------------------------------


def _validator(schema: dict[str, Any]) -> Any:
    cls = Draft7Validator if "draft-07" in schema.get("$schema", "") else Draft202012Validator
    return cls(schema, format_checker=cls.FORMAT_CHECKER, registry=Registry())


AD = {
    "type": "object",
    "properties": {
        "headline": {"type": "string", "maxLength": 40},
        "body": {"type": "string", "minLength": 20},
        "call_to_action": {"type": "string"},
    },
    "required": ["headline", "body", "call_to_action"],
    "additionalProperties": False,
}
SCHEMAS: dict[str, dict[str, Any]] = {
    "flat ad": AD,
    "nested objects": {
        "type": "object",
        "properties": {
            "campaign": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "audience": {
                        "type": "object",
                        "properties": {"segment": {"type": "string"}, "age": {"type": "integer"}},
                        "required": ["segment", "age"],
                    },
                },
                "required": ["name", "audience"],
            }
        },
        "required": ["campaign"],
    },
    "arrays with bounds": {
        "type": "object",
        "properties": {
            "headlines": {
                "type": "array",
                "items": {"type": "string", "maxLength": 60},
                "minItems": 4,
                "maxItems": 6,
                "uniqueItems": True,
            },
            "hashtags": {
                "type": "array",
                "items": {"type": "string", "pattern": "^#[A-Za-z0-9]+$"},
                "minItems": 3,
            },
        },
        "required": ["headlines", "hashtags"],
    },
    "enums and numbers": {
        "type": "object",
        "properties": {
            "tone": {"enum": ["playful", "bold", "calm"]},
            "platform": {"type": "string", "enum": ["instagram", "tiktok"]},
            "price": {"type": "number", "minimum": 0, "exclusiveMaximum": 100, "multipleOf": 0.01},
            "discount": {"type": "integer", "minimum": 5, "maximum": 50, "multipleOf": 5},
            "rating": {"type": "number", "exclusiveMinimum": 4.9, "maximum": 5},
            "featured": {"type": "boolean"},
            "label": {"const": "preview"},
        },
        "required": ["tone", "platform", "price", "discount", "rating", "featured", "label"],
    },
    "refs to $defs": {
        "$defs": {
            "variant": {
                "type": "object",
                "properties": {
                    "headline": {"$ref": "#/$defs/short_text"},
                    "tagline": {"$ref": "#/$defs/short_text"},
                },
                "required": ["headline", "tagline"],
                "additionalProperties": False,
            },
            "short_text": {"type": "string", "minLength": 5, "maxLength": 50},
        },
        "type": "object",
        "properties": {
            "variants": {"type": "array", "items": {"$ref": "#/$defs/variant"}, "minItems": 2}
        },
        "required": ["variants"],
    },
    "draft-07 definitions": {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "definitions": {"cta": {"type": "string", "maxLength": 25}},
        "type": "object",
        "properties": {
            "cta": {"$ref": "#/definitions/cta"},
            "pair": {"type": "array", "items": [{"type": "string"}, {"type": "integer"}]},
        },
        "required": ["cta", "pair"],
    },
    "anyOf and oneOf": {
        "type": "object",
        "properties": {
            "body": {
                "anyOf": [{"type": "string", "maxLength": 10, "minLength": 200}, {"type": "string"}]
            },
            "media": {
                "oneOf": [
                    {
                        "type": "object",
                        "properties": {"kind": {"const": "image"}, "alt": {"type": "string"}},
                        "required": ["kind", "alt"],
                    },
                    {
                        "type": "object",
                        "properties": {"kind": {"const": "video"}},
                        "required": ["kind"],
                    },
                ]
            },
        },
        "required": ["body", "media"],
    },
    "allOf merged": {
        "allOf": [
            {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]},
            {
                "properties": {"title": {"maxLength": 30}, "subtitle": {"type": "string"}},
                "required": ["subtitle"],
            },
        ]
    },
    "formats": {
        "type": "object",
        "properties": {
            "landing_page": {"type": "string", "format": "uri"},
            "contact": {"type": "string", "format": "email"},
            "starts_on": {"type": "string", "format": "date"},
            "published_at": {"type": "string", "format": "date-time"},
            "id": {"type": "string", "format": "uuid"},
        },
        "required": ["landing_page", "contact", "starts_on", "published_at", "id"],
    },
    "patterns": {
        "type": "object",
        "properties": {
            "sku": {"type": "string", "pattern": "^[A-Z]{3}-\\d{4}$"},
            "slug": {"type": "string", "pattern": "^[a-z0-9]+(?:-[a-z0-9]+)*$"},
            "headline": {"type": "string", "pattern": "^[A-Z]"},
            "code": {"type": "string", "pattern": "^(SAVE|DEAL)[0-9]{2}$"},
        },
        "required": ["sku", "slug", "headline", "code"],
    },
    "nullable type lists": {
        "type": "object",
        "properties": {
            "subtitle": {"type": ["string", "null"]},
            "nothing": {"type": "null"},
            "count": {"type": ["null", "integer"], "minimum": 2},
        },
        "required": ["subtitle", "nothing", "count"],
    },
    "prefixItems tuple": {
        "type": "array",
        "prefixItems": [{"type": "string", "format": "email"}, {"type": "number"}],
        "items": False,
        "minItems": 2,
    },
    "recursive tree": {
        "$defs": {
            "node": {
                "type": "object",
                "properties": {
                    "label": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
                },
                "required": ["label"],
            }
        },
        "$ref": "#/$defs/node",
    },
    "top-level array of ads": {
        "type": "array",
        "items": AD,
        "minItems": 3,
        "maxItems": 3,
    },
    "unique items in tight ranges": {
        "type": "object",
        "properties": {
            "slots": {
                "type": "array",
                "items": {"type": "integer", "minimum": 1, "maximum": 3},
                "minItems": 3,
                "uniqueItems": True,
            },
            "flags": {
                "type": "array",
                "items": {"type": "boolean"},
                "minItems": 2,
                "uniqueItems": True,
            },
            "overlap": {"oneOf": [{"type": "number"}, {"type": "integer"}]},
        },
        "required": ["slots", "flags", "overlap"],
    },
    "min properties from additionalProperties": {
        "type": "object",
        "additionalProperties": {"type": "string", "maxLength": 80},
        "minProperties": 3,
    },
}


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_json_answers_are_valid_instances_of_the_schema(name: str) -> None:
    schema = SCHEMAS[name]
    for seed in range(3):
        result = _answer(
            "Write ad copy for our cold brew coffee.",
            response_mime_type="application/json",
            response_json_schema=schema,
            seed=seed,
        )
        instance = json.loads(result.text)
        errors = [e.message for e in _validator(schema).iter_errors(instance)]
        assert not errors, (instance, errors)
        assert "preview engine" not in result.text
        assert result.output_tokens == len(result.text.split())


def test_json_strings_are_ad_copy_chosen_by_name() -> None:
    schema = {
        "type": "object",
        "properties": {
            "headline": {"type": "string"},
            "tagline": {"type": "string"},
            "cta": {"type": "string"},
            "description": {"type": "string"},
            "hashtags": {"type": "array", "items": {"type": "string"}},
            "bullet_points": {"type": "array", "items": {"type": "string"}},
        },
    }
    result = _answer(
        "Write 4 bullet points for our cold brew coffee. Bold tone.",
        response_mime_type="application/json",
        response_json_schema=schema,
    )
    instance = json.loads(result.text)
    assert set(instance) == set(schema["properties"])
    assert "cold brew coffee" in (instance["headline"] + instance["description"]).lower()
    assert len(instance["description"].split()) > len(instance["cta"].split())
    assert all(tag.startswith("#") for tag in instance["hashtags"])
    assert len(instance["bullet_points"]) == 4
    assert len(set(instance["bullet_points"])) == 4


def test_json_without_a_schema_is_a_small_ad() -> None:
    result = _answer(response_mime_type="application/json")
    instance = json.loads(result.text)
    assert set(instance) == {"headline", "body", "call_to_action"}
    assert all(isinstance(value, str) and value for value in instance.values())


def test_json_answers_are_deterministic_and_seeded() -> None:
    schema = SCHEMAS["arrays with bounds"]
    config = {"response_mime_type": "application/json", "response_json_schema": schema}
    assert _answer(**config) == _answer(**config)
    assert len({_answer(seed=s, **config).text for s in range(4)}) > 1


@pytest.mark.parametrize(
    ("schema", "keyword"),
    [
        ({"type": "string", "minLength": 10, "maxLength": 5}, "maxLength"),
        ({"type": "integer", "minimum": 5, "maximum": 4}, "maximum"),
        ({"type": "integer", "minimum": 1, "maximum": 4, "multipleOf": 5}, "multipleOf"),
        ({"enum": ["a", "b"], "type": "integer"}, "enum"),
        (
            {"type": "object", "required": ["x"], "additionalProperties": False},
            "additionalProperties",
        ),
        (
            {"type": "array", "items": {"enum": [1, 2]}, "minItems": 3, "uniqueItems": True},
            "uniqueItems",
        ),
        ({"allOf": [{"type": "string"}, {"type": "integer"}]}, "type"),
        ({"type": "object", "properties": {"x": False}, "required": ["x"]}, "false"),
        ({"$ref": "https://example.com/schemas/ad.json"}, "$ref"),
        ({"type": "string", "pattern": "^(?=a)b$"}, "pattern"),
        ({"type": "object", "properties": {"n": {"not": {}}}, "required": ["n"]}, "not"),
        ({"type": "strin"}, "$schema"),
    ],
)
def test_unsatisfiable_schemas_fail_with_schema_unsupported(
    schema: dict[str, Any], keyword: str
) -> None:
    with pytest.raises(EngineError) as caught:
        _answer(response_mime_type="application/json", response_json_schema=schema)
    assert caught.value.code == "schema_unsupported"
    assert not caught.value.retryable
    assert f"'{keyword}'" in str(caught.value)


def test_remote_references_are_never_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib.request

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a remote reference was fetched")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    schema = {"type": "object", "properties": {"a": {"$ref": "http://127.0.0.1:9/x.json"}}}
    with pytest.raises(EngineError):
        _answer(
            response_mime_type="application/json",
            response_json_schema={**schema, "required": ["a"]},
        )


def test_json_ignores_the_text_limits_that_would_break_it() -> None:
    config = {"response_mime_type": "application/json", "response_json_schema": AD}
    result = _answer(max_output_tokens=3, stop_sequences=[" "], **config)
    assert not list(_validator(AD).iter_errors(json.loads(result.text)))


# -- untrusted patterns and the hard budget --------------------------------------------------

CATASTROPHIC = "^(a|a)*$"
"""Exponential for a backtracking engine on a string of a's that ends in another letter."""


def _oneofs(depth: int) -> dict[str, Any]:
    """A schema whose validation doubles with every level (each level's two ``oneOf``
    branches are the same, so every value is tried against both): depth 16 is about a
    minute of jsonschema, which the builder's own time checks cannot interrupt."""
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"x": {"oneOf": [schema, schema]}}}
        schema["required"] = ["x"]
    return schema


async def test_a_catastrophic_pattern_is_matched_in_linear_time() -> None:
    # The instance builder tries dozens of strings, some of them long, against the pattern;
    # with Python's re one of them ('a' * 41 + ' ...') would take longer than the universe.
    engine = PreviewTextEngine(budget_seconds=20)
    schema = {
        "type": "object",
        "properties": {"code": {"type": "string", "pattern": CATASTROPHIC, "minLength": 40}},
        "required": ["code"],
    }
    # The product, a word of 45 a's and a b, is among the strings tried first.
    prompt = f"Write a product code for {'a' * 45}b."
    try:
        result = await engine.generate_text(
            MODEL,
            _spec(prompt, response_mime_type="application/json", response_json_schema=schema),
        )
    finally:
        await engine.close()
    code = json.loads(result.text)["code"]
    assert len(code) >= 40
    assert set(code) == {"a"}


@pytest.mark.parametrize(
    ("pattern", "feature"),
    [("^(a)\\1$", "a backreference"), ("^(?=a)\\w+$", "a lookahead"), ("(?<!x)y", "a lookbehind")],
)
def test_a_pattern_the_linear_engine_cannot_run_is_unsupported(pattern: str, feature: str) -> None:
    schema = {"type": "object", "properties": {"code": {"type": "string", "pattern": pattern}}}
    with pytest.raises(EngineError) as caught:
        _answer(response_mime_type="application/json", response_json_schema=schema)
    assert caught.value.code == "schema_unsupported"
    assert "properties.code.pattern" in str(caught.value)
    assert feature in str(caught.value)


async def test_pattern_properties_are_matched_in_linear_time() -> None:
    hostile = "a" * 45 + "b"  # a name the pattern is tried on: 2^45 steps for re
    schema = {
        "type": "object",
        "properties": {hostile: {"type": "string"}},
        "patternProperties": {CATASTROPHIC: {"type": "string", "maxLength": 20}},
        "required": [hostile],
        "minProperties": 2,
        "additionalProperties": False,
    }
    engine = PreviewTextEngine(budget_seconds=20)
    try:
        result = await engine.generate_text(
            MODEL, _spec(response_mime_type="application/json", response_json_schema=schema)
        )
    finally:
        await engine.close()
    names = list(json.loads(result.text))
    assert names[0] == hostile
    assert len(names) >= 2
    assert all(set(name) == {"a"} for name in names[1:])


async def test_work_past_the_budget_is_killed_and_the_engine_goes_on() -> None:
    engine = PreviewTextEngine(budget_seconds=0.5, workers=1)
    slow = _spec(response_mime_type="application/json", response_json_schema=_oneofs(16))
    try:
        with pytest.raises(EngineError) as caught:
            await engine.generate_text(MODEL, slow)
        # The one worker was killed and replaced: the next answer comes from a new process.
        after = await engine.generate_text(MODEL, _spec())
    finally:
        await engine.close()
    assert caught.value.code == "engine_timeout"
    assert not caught.value.retryable
    assert "0.5 s" in str(caught.value)
    assert after == _answer()


async def test_the_event_loop_runs_while_the_engine_works() -> None:
    engine = PreviewTextEngine(budget_seconds=1, workers=1)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    slow = _spec(response_mime_type="application/json", response_json_schema=_oneofs(16))
    try:
        with pytest.raises(EngineError):
            await engine.generate_text(MODEL, slow)
    finally:
        ticker.cancel()
        await engine.close()
    assert ticks >= 20, "the loop was held while the engine worked"


def test_the_budget_and_workers_options_are_checked() -> None:
    engine = PreviewTextEngine.from_options({"budget_seconds": "2.5", "workers": 3})
    assert engine.budget_seconds == 2.5
    with pytest.raises(ValueError, match="budget_seconds"):
        PreviewTextEngine.from_options({"budget_seconds": 0})
    with pytest.raises(ValueError, match="workers"):
        PreviewTextEngine.from_options({"workers": 0})


@pytest.mark.parametrize(
    "text",
    [
        "1" + " " * 20_000 + "x",  # 9 s when brief.py's patterns backtracked
        "\n" * 20_000 + "headline",  # 44 s
        "headline under 5 words " * 4_000,  # 5 s: each count looked back over the whole text
    ],
)
def test_a_long_prompt_is_read_in_linear_time(text: str) -> None:
    ordinary = "word " * (len(text) // 5)
    started = time.perf_counter()
    _answer(ordinary)
    baseline = time.perf_counter() - started
    started = time.perf_counter()
    _answer(text)
    # The slack spares one scheduling stall on a loaded machine; each regression above took
    # several seconds.
    assert time.perf_counter() - started < 5 * baseline + 1.5
