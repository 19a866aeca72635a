"""``PreviewTextEngine``: offline placeholder ad copy, deterministic and fast.

The answer is built from the conversation (``brief.py`` reads the product, audience, tone and
format cues; ``copy.py`` writes) and from a random generator seeded by the conversation, the
answer's format and ``config.seed``: the same spec always gets the same answer, another seed
another one.

- text/plain: the copy, then a last line saying what it is (``LABEL``). ``max_output_tokens``
  is honoured roughly, counting whitespace-separated words as tokens (the label included; with
  fewer than 12 it shrinks to ``[preview]``); the answer is cut before the first of the
  ``stop_sequences`` and the label is left out rather than bring a stop sequence back.
- application/json: with ``response_json_schema``, a valid instance of it (``instances.py``,
  checked with ``jsonschema``), else ``{"headline", "body", "call_to_action"}``. No label is
  put inside the document: the engine's name ("preview_text") labels it, and the API reports
  the engine that served a job. A JSON answer is never cut (a cut document is no instance),
  so ``max_output_tokens`` and ``stop_sequences`` do not apply to it. A schema no instance
  can be built for fails the job with ``schema_unsupported``.

The answer is worked out in a worker process (``kit/processes.py``), never in this one: its
cost can grow faster than the request (a user's JSON Schema, regular expressions over a long
prompt), and a process, unlike a thread, can be stopped. Past ``budget_seconds`` the process
is killed and the job fails with ``engine_timeout``.

Token counts are words: of the system instruction and every message in, of the answer out.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from random import Random

from creatix.engines.base import EngineError, EngineParams
from creatix.engines.options import OptionValue, check_known, float_option, int_option
from creatix.engines.preview_text.brief import read_brief
from creatix.engines.preview_text.copy import Writer
from creatix.engines.preview_text.instances import SchemaUnsatisfiable, build_instance
from creatix.jobs.specs import TextConfig, TextResult, TextSpec
from creatix.kit.processes import OutOfTime, ProcessRunner, WorkerDied

LABEL = "— preview engine: offline placeholder copy"
SHORT_LABEL = "[preview]"
FULL_LABEL_MIN_TOKENS = 12
"""Below this ``max_output_tokens`` the label is ``SHORT_LABEL``."""
OPTIONS = frozenset({"delay_seconds", "budget_seconds", "workers"})
BUDGET_SECONDS = 10.0
"""The most one answer may take, in its worker process (the instance builder gives up on a
schema by itself after ``instances.TIME_BUDGET_SECONDS``)."""
WORKERS = 2


def word_count(text: str) -> int:
    return len(text.split())


def spec_rng(model: str, spec: TextSpec) -> Random:
    """The answer's randomness: bound to the model, the conversation, the answer's format and
    the seed. Not to ``max_output_tokens`` or ``stop_sequences``: as with a model, those
    only end the same answer sooner."""
    config = spec.config
    material = json.dumps(
        [
            model,
            spec.system_instruction,
            [[turn.role, turn.content] for turn in spec.messages],
            config.response_mime_type,
            config.response_json_schema,
            config.seed,
        ],
        sort_keys=True,
        default=str,
    )
    digest = hashlib.sha256(material.encode()).digest()
    return Random(int.from_bytes(digest, "big"))


def answer(model: str, spec: TextSpec) -> TextResult:
    """The engine's whole work for one spec (fast: well under a millisecond of copy writing;
    a schema with patterns may take a few)."""
    rng = spec_rng(model, spec)
    writer = Writer(read_brief(spec), rng)
    config = spec.config
    if config.response_mime_type == "application/json":
        text = json.dumps(_document(writer, config, rng), ensure_ascii=False)
    else:
        text = finish_plain(writer.plain(), config)
    words_in = word_count(spec.system_instruction) + sum(
        word_count(turn.content) for turn in spec.messages
    )
    return TextResult(text=text, input_tokens=words_in, output_tokens=word_count(text))


def _document(writer: Writer, config: TextConfig, rng: Random) -> object:
    if config.response_json_schema is None:
        return writer.default_json()
    try:
        return build_instance(config.response_json_schema, writer, rng)
    except SchemaUnsatisfiable as exc:
        raise EngineError(
            f"The preview engine cannot build an instance of the response schema: {exc}",
            code="schema_unsupported",
            retryable=False,
        ) from exc


def finish_plain(copy: str, config: TextConfig) -> str:
    """The copy within ``max_output_tokens`` (roughly), cut at the first stop sequence, with
    the preview label where it fits and brings no stop sequence back."""
    stops = [s for s in config.stop_sequences if s]
    budget = config.max_output_tokens
    labels: Sequence[str] = (f"\n\n{LABEL}", f" {LABEL}", f" {SHORT_LABEL}")
    if budget is not None:
        short = budget < FULL_LABEL_MIN_TOKENS
        labels = (f"\n\n{SHORT_LABEL}", f" {SHORT_LABEL}") if short else labels
        copy = first_words(copy, max(1, budget - word_count(labels[0])))
    copy = cut_at_stop(copy, stops)
    for label in labels:
        text = f"{copy}{label}" if copy else label.strip()
        if not any(stop in text for stop in stops):
            return text
    return copy


def first_words(text: str, count: int) -> str:
    """``text`` up to the end of its ``count``-th whitespace-separated word (layout kept)."""
    for number, match in enumerate(re.finditer(r"\S+", text), start=1):
        if number == count:
            return text[: match.end()]
    return text


def cut_at_stop(text: str, stops: Sequence[str]) -> str:
    """``text`` before the earliest stop sequence in it."""
    cut = min((i for s in stops if s and (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]


class PreviewTextEngine:
    """Built in, offline, deterministic and fast: placeholder ad copy for fresh installs, CI
    and demos (see the module docstring for what it honours)."""

    name = "preview_text"
    max_batch = 1

    def __init__(
        self,
        delay_seconds: float = 0.0,
        budget_seconds: float = BUDGET_SECONDS,
        workers: int = WORKERS,
    ) -> None:
        if delay_seconds < 0:
            raise ValueError("delay_seconds must not be negative")
        self.delay_seconds = delay_seconds
        self.budget_seconds = budget_seconds
        self._runner = ProcessRunner(
            workers=workers, budget_seconds=budget_seconds, preload=[__name__]
        )

    @classmethod
    def from_options(cls, options: Mapping[str, OptionValue]) -> PreviewTextEngine:
        """The catalog entry's options (``delay_seconds``, ``budget_seconds``, ``workers``);
        an unknown option is an error."""
        check_known(options, OPTIONS, "preview_text")
        delay = float_option(options, "delay_seconds", 0.0)
        budget = float_option(options, "budget_seconds", BUDGET_SECONDS)
        workers = int_option(options, "workers", WORKERS)
        if delay < 0:
            raise ValueError(f"delay_seconds must be a non-negative number; got {delay!r}")
        if budget <= 0:
            raise ValueError(f"budget_seconds must be a positive number; got {budget!r}")
        if workers < 1:
            raise ValueError(f"workers must be at least 1; got {workers!r}")
        return cls(delay_seconds=delay, budget_seconds=budget, workers=workers)

    def unavailable_reason(self, model: str) -> str | None:
        return None

    async def generate_text(
        self, model: str, spec: TextSpec, params: EngineParams | None = None
    ) -> TextResult:
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        try:
            return await self._runner.run(answer, model, spec)
        except OutOfTime:
            raise EngineError(
                f"The preview engine stopped working on this request after its budget of "
                f"{self.budget_seconds:g} s.",
                code="engine_timeout",
                retryable=False,
            ) from None
        except WorkerDied as exc:
            raise EngineError(
                f"The preview engine's worker process ended without an answer: {exc}.",
                code="engine_error",
                retryable=False,
            ) from None

    async def close(self) -> None:
        await self._runner.close()
