"""The transformers engine on a tiny random Llama, on the CPU, offline: the real loading,
prompting, generation settings, threading and error mapping."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
import torch

from creatix.engines.base import EngineError, EngineRejected, TextEngine
from creatix.engines.transformers import TransformersEngine, TransformersOptions, loading
from creatix.engines.transformers import engine as engine_module
from creatix.engines.transformers.config import model_dir
from creatix.jobs.specs import ChatTurn, TextConfig, TextSpec
from tiny_transformers import build_tiny_lm, make_tokenizer

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Llama folder (as ``tiny_transformers.tiny_lm``, which conftest may load as a
    plugin; this module-local one then shadows it, to the same effect)."""
    return build_tiny_lm(tmp_path_factory.mktemp("models") / "tiny-lm")


@pytest.fixture
async def engine() -> AsyncIterator[TransformersEngine]:
    engine = TransformersEngine.from_options({"device": "cpu", "max_new_tokens": 64})
    yield engine
    await engine.close()


def _spec(text: str = "Write a headline for cold brew coffee.", **config: Any) -> TextSpec:
    return TextSpec(
        messages=[ChatTurn(role="user", content=text)],
        system_instruction="You write short ad copy.",
        config=TextConfig(**config),
    )


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


# -- generation ------------------------------------------------------------------------------


async def test_it_answers_with_real_token_counts(engine: TransformersEngine, tiny_lm: Path) -> None:
    assert isinstance(engine, TextEngine)
    assert (engine.name, engine.max_batch) == ("transformers", 1)
    spec = _spec(max_output_tokens=20)
    result = await engine.generate_text(str(tiny_lm), spec)
    assert result.text
    tokenizer = make_tokenizer()
    prompt = tokenizer.apply_chat_template(
        [
            {"role": "system", "content": spec.system_instruction},
            {"role": "user", "content": spec.messages[0].content},
        ],
        tokenize=False,
        add_generation_prompt=True,
    )
    expected = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    assert result.input_tokens == expected
    # The tiny model never ends by itself: exactly max_output_tokens new tokens.
    assert result.output_tokens == 20
    assert [(c.input_tokens, c.output_tokens) for c in engine.calls] == [(expected, 20)]


async def test_greedy_decoding_is_deterministic(engine: TransformersEngine, tiny_lm: Path) -> None:
    first = await engine.generate_text(str(tiny_lm), _spec(max_output_tokens=24))
    again = await engine.generate_text(str(tiny_lm), _spec(max_output_tokens=24, temperature=0))
    other = await engine.generate_text(str(tiny_lm), _spec("Now a tagline.", max_output_tokens=24))
    assert first.text == again.text
    assert other.text != first.text


async def test_sampling_is_reproducible_by_seed(engine: TransformersEngine, tiny_lm: Path) -> None:
    def sampled(seed: int) -> TextSpec:
        return _spec(max_output_tokens=24, temperature=1.5, top_p=0.95, top_k=50, seed=seed)

    model = str(tiny_lm)
    one = await engine.generate_text(model, sampled(1))
    one_again = await engine.generate_text(model, sampled(1))
    two = await engine.generate_text(model, sampled(2))
    greedy = await engine.generate_text(model, _spec(max_output_tokens=24))
    assert one.text == one_again.text
    assert two.text != one.text
    assert greedy.text not in (one.text, two.text)


async def test_max_output_tokens_is_capped_by_the_option(tiny_lm: Path) -> None:
    engine = TransformersEngine.from_options({"device": "cpu", "max_new_tokens": 8})
    result = await engine.generate_text(str(tiny_lm), _spec(max_output_tokens=50))
    assert result.output_tokens == 8
    default = await engine.generate_text(str(tiny_lm), _spec())
    assert default.output_tokens == 8
    await engine.close()


async def test_stop_sequences_end_the_answer_early(
    engine: TransformersEngine, tiny_lm: Path
) -> None:
    model = str(tiny_lm)
    full = await engine.generate_text(model, _spec(max_output_tokens=48))
    # A piece of the greedy answer, well inside it: the same run must stop there.
    stop = next(
        full.text[i : i + 2]
        for i in range(4, len(full.text) - 2)
        if full.text[i : i + 2].strip() and full.text.find(full.text[i : i + 2]) == i
    )
    cut = await engine.generate_text(model, _spec(max_output_tokens=48, stop_sequences=[stop]))
    assert cut.text == full.text[: full.text.index(stop)]
    assert stop not in cut.text
    assert cut.output_tokens < full.output_tokens


async def test_penalties_change_the_answer(engine: TransformersEngine, tiny_lm: Path) -> None:
    plain = await engine.generate_text(str(tiny_lm), _spec(max_output_tokens=32))
    penalised = await engine.generate_text(
        str(tiny_lm), _spec(max_output_tokens=32, frequency_penalty=2.0)
    )
    assert penalised.text != plain.text
    settings = engine._settings(TextConfig(presence_penalty=0.5, frequency_penalty=-1))
    assert settings.repetition_penalty == 1.25
    assert engine._settings(TextConfig()).repetition_penalty is None
    assert engine._settings(TextConfig(frequency_penalty=9)).repetition_penalty == 2.0


async def test_a_model_without_a_chat_template_gets_a_plain_prompt(
    engine: TransformersEngine, tmp_path: Path
) -> None:
    path = build_tiny_lm(tmp_path / "plain", chat_template=False)
    spec = TextSpec(
        messages=[
            ChatTurn(role="user", content="A tagline for tea."),
            ChatTurn(role="model", content="Steep happy."),
            ChatTurn(role="user", content="Shorter."),
        ],
        system_instruction="Be brief.",
        config=TextConfig(max_output_tokens=5),
    )
    result = await engine.generate_text(str(path), spec)
    prompt = (
        "System: Be brief.\nUser: A tagline for tea.\nModel: Steep happy.\nUser: Shorter.\nModel:"
    )
    tokenizer = make_tokenizer(chat_template=False)
    assert result.input_tokens == len(tokenizer(prompt)["input_ids"])
    assert result.output_tokens == 5


async def test_json_mode_asks_for_json_in_the_prompt(
    engine: TransformersEngine, tiny_lm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prompts: list[str] = []
    real_prompt = loading.prompt

    def spy(tokenizer: Any, system: str, turns: Any) -> tuple[str, bool]:
        text, templated = real_prompt(tokenizer, system, turns)
        prompts.append(text)
        return text, templated

    monkeypatch.setattr(loading, "prompt", spy)
    schema = {"type": "object", "properties": {"headline": {"type": "string"}}}
    spec = _spec(
        max_output_tokens=4, response_mime_type="application/json", response_json_schema=schema
    )
    await engine.generate_text(str(tiny_lm), spec)
    assert "Answer only with one JSON document" in prompts[0]
    assert json.dumps(schema, separators=(",", ":"), sort_keys=True) in prompts[0]
    assert prompts[0].index("cold brew") < prompts[0].index("JSON Schema")
    assert engine_module._unfenced('```json\n{"a": 1}\n```\n') == '{"a": 1}'


async def test_the_event_loop_stays_responsive_while_generating(tiny_lm: Path) -> None:
    engine = TransformersEngine.from_options({"device": "cpu", "max_new_tokens": 400})
    model = str(tiny_lm)
    await engine.generate_text(model, _spec(max_output_tokens=1))  # load outside the timing
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    result = await engine.generate_text(model, _spec(max_output_tokens=400))
    elapsed = time.perf_counter() - started
    task.cancel()
    assert result.output_tokens == 400
    assert elapsed > 0.1, "the generation is too short to tell"
    # A blocked loop would tick about once; a free one about elapsed / 5 ms times, less what
    # the generating thread's hold on the GIL and a loaded machine's scheduling take (each
    # tick can cost two 5 ms switch intervals): an eighth of that still fails a blocked loop.
    assert ticks >= elapsed / 0.005 / 8
    await engine.close()


async def test_generations_on_one_model_take_turns(
    engine: TransformersEngine, tiny_lm: Path
) -> None:
    model = str(tiny_lm)
    results = await asyncio.gather(
        *(engine.generate_text(model, _spec(f"Ad {i}", max_output_tokens=8)) for i in range(3))
    )
    assert [r.output_tokens for r in results] == [8, 8, 8]
    alone = await engine.generate_text(model, _spec("Ad 1", max_output_tokens=8))
    assert results[1].text == alone.text
    assert len(engine._slots) == 1


async def test_a_cancelled_generation_stops_its_thread(
    tiny_lm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = TransformersEngine.from_options({"device": "cpu", "max_new_tokens": 2000})
    model = str(tiny_lm)
    made: list[tuple[int, int]] = []  # each generation's token limit and tokens made
    long_one_started = threading.Event()
    real_generate = loading.generate

    def spy(loaded: Any, inputs: Any, settings: Any, cancelled: Any) -> Any:
        if settings.max_new_tokens > 100:
            long_one_started.set()
        generated = real_generate(loaded, inputs, settings, cancelled)
        made.append((settings.max_new_tokens, generated.output_tokens))
        return generated

    monkeypatch.setattr(loading, "generate", spy)
    await engine.generate_text(model, _spec(max_output_tokens=1))
    started = time.perf_counter()
    await engine.generate_text(model, _spec(max_output_tokens=100))
    hundred_tokens = time.perf_counter() - started  # this machine's speed, as loaded now
    task = asyncio.create_task(engine.generate_text(model, _spec(max_output_tokens=900)))
    deadline = time.monotonic() + 30
    while not long_one_started.is_set():  # cancelled while generating
        assert not task.done(), task
        assert time.monotonic() < deadline, "the long generation never started"
        await asyncio.sleep(0.005)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    started = time.perf_counter()
    after = await engine.generate_text(model, _spec(max_output_tokens=2))
    # The next call waits for the cancelled thread, which stops at its next token; left
    # running, it would first make the hundreds of tokens it had left. The slack spares a
    # scheduling stall on a loaded machine; on a fast one it can exceed those hundreds of
    # tokens, so the tokens the cancelled generation made are checked as well.
    assert time.perf_counter() - started < 4 * hundred_tokens + 1.0, hundred_tokens
    assert after.output_tokens == 2
    [(limit, tokens)] = [(limit, tokens) for limit, tokens in made if limit > 100]
    assert tokens < limit, f"the cancelled generation ran to its limit: {made}"
    await engine.close()


# -- models on disk --------------------------------------------------------------------------


def test_missing_weights_are_reported(engine: TransformersEngine, tmp_path: Path) -> None:
    missing = tmp_path / "nothing-here"
    assert "not found" in (engine.unavailable_reason(str(missing)) or "")
    assert str(tmp_path) not in (engine.unavailable_reason(str(missing)) or "")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "config.json" in (engine.unavailable_reason(str(empty)) or "")


async def test_a_missing_model_fails_the_job(engine: TransformersEngine, tmp_path: Path) -> None:
    with pytest.raises(EngineError) as caught:
        await engine.generate_text(str(tmp_path / "gone"), _spec())
    assert caught.value.code == "model_load_failed"
    assert not caught.value.retryable
    assert str(tmp_path) not in str(caught.value)


def test_hub_ids_are_found_under_models_dir(tiny_lm: Path, tmp_path: Path) -> None:
    flat = _copy(tiny_lm, tmp_path / "acme--tiny-lm")
    engine = TransformersEngine.from_options({"device": "cpu", "models_dir": str(tmp_path)})
    assert engine.model_dir("acme/tiny-lm") == flat
    assert engine.unavailable_reason("acme/tiny-lm") is None
    assert engine.model_dir("tiny-lm-relative") == tmp_path / "tiny-lm-relative"

    cache = tmp_path / "models--acme--cached-lm"
    _copy(tiny_lm, cache / "snapshots" / "abc123")
    (cache / "refs").mkdir()
    (cache / "refs" / "main").write_text("abc123\n")
    assert engine.model_dir("acme/cached-lm") == cache / "snapshots" / "abc123"
    assert engine.unavailable_reason("acme/cached-lm") is None
    assert model_dir(str(tiny_lm), tmp_path) == tiny_lm
    assert "not found" in (engine.unavailable_reason("acme/absent") or "")


async def test_a_hub_id_under_models_dir_generates(tiny_lm: Path, tmp_path: Path) -> None:
    cache = tmp_path / "models--acme--cached-lm"
    _copy(tiny_lm, cache / "snapshots" / "abc123")
    (cache / "refs").mkdir()
    (cache / "refs" / "main").write_text("abc123")
    engine = TransformersEngine.from_options({"device": "cpu", "models_dir": str(tmp_path)})
    result = await engine.generate_text("acme/cached-lm", _spec(max_output_tokens=3))
    assert result.output_tokens == 3
    await engine.close()


@pytest.mark.parametrize("broken", ["config.json", "model.safetensors"])
async def test_a_corrupt_model_fails_to_load_without_naming_paths(
    engine: TransformersEngine, tiny_lm: Path, tmp_path: Path, broken: str
) -> None:
    path = _copy(tiny_lm, tmp_path / "corrupt")
    (path / broken).write_text("{ this is not what it should be")
    assert engine.unavailable_reason(str(path)) is None  # it looks like a model folder
    with pytest.raises(EngineError) as caught:
        await engine.generate_text(str(path), _spec())
    assert caught.value.code == "model_load_failed"
    assert not caught.value.retryable
    message = str(caught.value)
    assert str(tmp_path) not in message
    assert not re.search(r"(^|[\s'\"(])/\w", message), message


async def test_out_of_memory_is_not_retried(
    engine: TransformersEngine, tiny_lm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def oom(*args: Any) -> None:
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")

    monkeypatch.setattr(loading, "generate", oom)
    with pytest.raises(EngineError) as caught:
        await engine.generate_text(str(tiny_lm), _spec())
    assert (caught.value.code, caught.value.retryable) == ("out_of_memory", False)


async def test_other_errors_are_retryable_and_name_no_path(
    engine: TransformersEngine, tiny_lm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> None:
        raise ValueError(f"bad tensor in {tiny_lm}/model.safetensors and /etc/secret/file")

    monkeypatch.setattr(loading, "generate", broken)
    with pytest.raises(EngineError) as caught:
        await engine.generate_text(str(tiny_lm), _spec())
    assert (caught.value.code, caught.value.retryable) == ("engine_error", True)
    message = str(caught.value)
    assert "ValueError" in message
    assert str(tiny_lm) not in message
    assert "/etc" not in message


async def test_long_conversations_are_rejected(tiny_lm: Path) -> None:
    engine = TransformersEngine.from_options({"device": "cpu", "max_input_tokens": 10})
    with pytest.raises(EngineRejected) as caught:
        await engine.generate_text(str(tiny_lm), _spec("word " * 50))
    assert caught.value.param == "messages"
    await engine.close()


async def test_bad_settings_are_rejected(engine: TransformersEngine, tiny_lm: Path) -> None:
    for config in ({"max_output_tokens": 0}, {"top_p": 1.5}, {"top_k": -1}):
        with pytest.raises(EngineRejected):
            await engine.generate_text(str(tiny_lm), _spec(**config))


async def test_loaded_models_are_kept_least_recently_used_first(
    tiny_lm: Path, tmp_path: Path
) -> None:
    other = _copy(tiny_lm, tmp_path / "other")
    engine = TransformersEngine.from_options({"device": "cpu", "max_loaded": 1})
    await engine.generate_text(str(tiny_lm), _spec(max_output_tokens=1))
    await engine.generate_text(str(other), _spec(max_output_tokens=1))
    assert list(engine._slots) == [str(other)]
    two = TransformersEngine.from_options({"device": "cpu", "max_loaded": 2})
    for path in (tiny_lm, other, tiny_lm):
        await two.generate_text(str(path), _spec(max_output_tokens=1))
    assert list(two._slots) == [str(other), str(tiny_lm)]
    await engine.close()
    await two.close()
    assert not two._slots


# -- options ---------------------------------------------------------------------------------


def test_options_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="unknown transformers option"):
        TransformersEngine.from_options({"stepz": 2})
    with pytest.raises(ValueError, match="max_new_tokens"):
        TransformersOptions.parse({"max_new_tokens": 0})
    with pytest.raises(ValueError, match="dtype"):
        TransformersOptions.parse({"dtype": "int3"})
    with pytest.raises(ValueError, match="integer"):
        TransformersOptions.parse({"max_loaded": "two"})
    parsed = TransformersOptions.parse(
        {"models_dir": "~/models", "max_new_tokens": "128", "max_input_tokens": 900}
    )
    assert parsed.models_dir == Path("~/models").expanduser()
    assert (parsed.max_new_tokens, parsed.max_input_tokens) == (128, 900)
    monkeypatch.setenv("CREATIX_DEVICE", "cpu")
    assert TransformersOptions().requested_device() == "cpu"
    engine = TransformersEngine()
    assert engine._device == torch.device("cpu")
    assert engine._dtype == torch.float32


def test_without_transformers_every_model_is_unavailable(
    monkeypatch: pytest.MonkeyPatch, tiny_lm: Path
) -> None:
    monkeypatch.setattr(engine_module, "missing_packages", lambda: ["transformers"])
    engine = TransformersEngine()
    assert "pip install" in (engine.unavailable_reason(str(tiny_lm)) or "")
