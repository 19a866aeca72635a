"""``TransformersEngine``: local causal language models answering conversations.

How a ``TextConfig`` becomes generation arguments:

- ``temperature`` 0 or None: greedy decoding (``do_sample=False``), deterministic; above 0:
  sampling at that temperature, with ``top_p`` and ``top_k`` when given (the model's own
  generation defaults otherwise).
- ``max_output_tokens``: ``max_new_tokens``, capped by the engine's ``max_new_tokens`` option
  and by what the model's context leaves after the prompt.
- ``presence_penalty`` / ``frequency_penalty``: approximated. transformers has neither; its
  ``repetition_penalty`` divides the logits of every token already in the text (prompt
  included) by one factor, however often the token occurred. The engine uses
  ``1 + min(2, max(0, frequency_penalty, presence_penalty)) / 2`` (1 to 2; 1 is off);
  negative penalties (asking for repetition) are ignored.
- ``seed``: with sampling, torch's generator is seeded with it (a random seed when None)
  under a process-wide lock, so a seeded request draws the same tokens every time.
- ``stop_sequences``: generation stops once one shows in the decoded answer, and the answer
  is cut before the first one.
- ``application/json``: an instruction to answer with JSON only (and the schema, as compact
  JSON) is added to the last user message; code fences around the answer are taken off. No
  constrained decoding: the job core validates the answer and asks once more.

Token counts are the real ones: the prompt's tokens (chat template included) and the new
tokens generated (before any stop-sequence cut). Route ``params`` are not used.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

from creatix.engines.base import EngineError, EngineParams, EngineRejected
from creatix.engines.options import OptionValue
from creatix.engines.transformers.config import (
    Generated,
    Settings,
    TransformersOptions,
    display_name,
    model_dir,
    weights_problem,
)
from creatix.jobs.specs import SEED_LIMIT, TextConfig, TextResult, TextSpec

if TYPE_CHECKING:
    import torch

    from creatix.engines.transformers.loading import LoadedModel

log = logging.getLogger(__name__)

REQUIRED_PACKAGES = ("torch", "transformers")
MESSAGE_CHARS = 240
KEPT_CALLS = 1000
MAX_PENALTY = 2.0
JSON_INSTRUCTION = (
    "Answer only with one JSON document: no prose before or after it, no code fences."
)
ABSOLUTE_PATH = re.compile(r"(?<![\w.~-])(?:~|[A-Za-z]:)?[/\\](?:[^\s'\"`:,;()\[\]{}]+)")
FENCE = re.compile(r"^```[\w-]*\s*\n(.*?)\n?```$", re.DOTALL)


@dataclass(frozen=True)
class GenerationCall:
    """One generation, as logged."""

    model: str
    input_tokens: int
    output_tokens: int
    seconds: float


@dataclass
class _Slot:
    """A loaded model, and the locks that keep its generations one at a time."""

    loaded: LoadedModel
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    thread_lock: threading.Lock = field(default_factory=threading.Lock)
    """Held by the worker thread: a cancelled call's thread may still be finishing."""


def missing_packages() -> list[str]:
    return [name for name in REQUIRED_PACKAGES if find_spec(name) is None]


def _short(exc: BaseException, path: Path | None = None, name: str = "") -> str:
    """An exception as one short line for a job's message, with no local path in it (the log
    has the full story)."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    if path is not None:
        for form in {str(path.resolve()), str(path)}:
            text = text.replace(form, name or path.name)
    text = ABSOLUTE_PATH.sub("…", text)
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


class TransformersEngine:
    """Text generation with local transformers causal LMs, one generation at a time per model.

    Models are loaded on first use and kept (``max_loaded`` of them, least recently used
    dropped first); every blocking step runs in a worker thread. See ``config.py`` for the
    options and the module docstring for how a request's settings are mapped.
    """

    name = "transformers"
    max_batch = 1

    def __init__(self, options: TransformersOptions | None = None) -> None:
        self.options = options or TransformersOptions()
        self._missing = missing_packages()
        self._device: torch.device | None = None
        self._dtype: torch.dtype | None = None
        self._slots: OrderedDict[str, _Slot] = OrderedDict()
        self._loading = asyncio.Lock()
        self.calls: deque[GenerationCall] = deque(maxlen=KEPT_CALLS)
        """The latest generations, oldest first."""
        if self._missing:
            log.warning("transformers engine lacks packages", extra={"missing": self._missing})
            return
        from creatix.engines.transformers import loading  # noqa: PLC0415

        self._device = loading.pick_device(self.options.requested_device())
        self._dtype = loading.pick_dtype(self.options.dtype, self._device)
        log.info(
            "transformers engine ready",
            extra={
                "device": str(self._device),
                "dtype": str(self._dtype).removeprefix("torch."),
                "max_new_tokens": self.options.max_new_tokens,
            },
        )

    @classmethod
    def from_options(cls, options: Mapping[str, OptionValue]) -> TransformersEngine:
        return cls(TransformersOptions.parse(options))

    # -- the protocol ------------------------------------------------------------------------

    def model_dir(self, model: str) -> Path:
        return model_dir(model, self.options.models_dir)

    def unavailable_reason(self, model: str) -> str | None:
        if self._missing:
            return (
                f"the transformers engine needs {', '.join(self._missing)}: "
                "pip install 'creatix[diffusers]'"
            )
        return weights_problem(model, self.model_dir(model))

    async def generate_text(
        self, model: str, spec: TextSpec, params: EngineParams | None = None
    ) -> TextResult:
        problem = self.unavailable_reason(model)
        if problem is not None:  # removed since the job was submitted, say
            log.warning("model unavailable", extra={"model": model, "reason": problem})
            raise EngineError(f"The model cannot be loaded: {problem}.", code="model_load_failed")
        settings = self._settings(spec.config)
        system, turns = _conversation(spec)
        slot = await self._slot(self.model_dir(model), model)
        cancelled = threading.Event()
        async with slot.lock:
            started = time.perf_counter()
            try:
                generated = await asyncio.to_thread(
                    self._run, slot, system, turns, settings, cancelled
                )
            except asyncio.CancelledError:
                cancelled.set()  # the thread stops at its next token
                raise
            except EngineError:
                raise
            except Exception as exc:
                raise await self._failure(exc, model) from exc
            seconds = time.perf_counter() - started
        call = GenerationCall(
            model=model,
            input_tokens=generated.input_tokens,
            output_tokens=generated.output_tokens,
            seconds=round(seconds, 4),
        )
        self.calls.append(call)
        log.info(
            "generation",
            extra={
                "engine": self.name,
                "model": model,
                "input_tokens": call.input_tokens,
                "output_tokens": call.output_tokens,
                "seconds": call.seconds,
            },
        )
        text = generated.text
        if spec.config.response_mime_type == "application/json":
            text = _unfenced(text)
        return TextResult(
            text=text, input_tokens=generated.input_tokens, output_tokens=generated.output_tokens
        )

    async def close(self) -> None:
        slots = list(self._slots.values())
        self._slots.clear()
        if slots and self._device is not None:
            from creatix.engines.transformers import loading  # noqa: PLC0415

            del slots
            await asyncio.to_thread(loading.unloaded, self._device)

    # -- settings ----------------------------------------------------------------------------

    def _settings(self, config: TextConfig) -> Settings:
        cap = self.options.max_new_tokens
        if config.max_output_tokens is not None and config.max_output_tokens < 1:
            raise EngineRejected("max_output_tokens must be at least 1", param="max_output_tokens")
        if config.top_p is not None and not 0 < config.top_p <= 1:
            raise EngineRejected("top_p must be in (0, 1]", param="top_p")
        if config.top_k is not None and config.top_k < 0:
            raise EngineRejected("top_k must not be negative", param="top_k")
        sampling = config.temperature is not None and config.temperature > 0
        penalty = max(0.0, config.frequency_penalty or 0.0, config.presence_penalty or 0.0)
        return Settings(
            max_new_tokens=min(cap, config.max_output_tokens or cap),
            do_sample=sampling,
            temperature=config.temperature if sampling else None,
            top_p=config.top_p,
            top_k=config.top_k,
            repetition_penalty=1 + min(MAX_PENALTY, penalty) / 2 if penalty > 0 else None,
            seed=config.seed if config.seed is not None else secrets.randbelow(SEED_LIMIT),
            stop=tuple(s for s in config.stop_sequences if s),
        )

    # -- loading -----------------------------------------------------------------------------

    async def _slot(self, path: Path, model: str) -> _Slot:
        key = str(path)
        slot = self._slots.get(key)
        if slot is not None:
            self._slots.move_to_end(key)
            return slot
        async with self._loading:  # one load at a time; a second asker finds it loaded
            slot = self._slots.get(key)
            if slot is not None:
                self._slots.move_to_end(key)
                return slot
            loaded = await asyncio.to_thread(self._load, path, model)
            slot = _Slot(loaded)
            self._slots[key] = slot
            dropped = 0
            while len(self._slots) > self.options.max_loaded:
                old, _ = self._slots.popitem(last=False)
                log.info("model unloaded", extra={"engine": self.name, "path": old})
                dropped += 1
            if dropped and self._device is not None:
                from creatix.engines.transformers import loading  # noqa: PLC0415

                await asyncio.to_thread(loading.unloaded, self._device)
            return slot

    def _load(self, path: Path, model: str) -> LoadedModel:
        """In a worker thread: the model folder, loaded and placed, or an ``EngineError``."""
        from creatix.engines.transformers import loading  # noqa: PLC0415

        if self._device is None or self._dtype is None:  # unavailable_reason said why
            raise EngineError("The transformers engine is not installed.", code="model_load_failed")
        started = time.perf_counter()
        try:
            loaded = loading.load(path, self._dtype, self._device)
        except Exception as exc:
            if loading.is_out_of_memory(exc):
                loading.free_memory(self._device)
                log.warning("out of memory loading a model", extra={"path": str(path)})
                raise EngineError(
                    f"Out of memory on {self._device.type} while loading the model.",
                    code="out_of_memory",
                ) from exc
            log.exception("model failed to load", extra={"path": str(path)})
            raise EngineError(
                f"The model could not be loaded ({_short(exc, path, display_name(model))}).",
                code="model_load_failed",
            ) from exc
        log.info(
            "model loaded",
            extra={
                "engine": self.name,
                "model": model,
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
        return loaded

    # -- one generation ----------------------------------------------------------------------

    def _run(
        self,
        slot: _Slot,
        system: str,
        turns: list[tuple[str, str]],
        settings: Settings,
        cancelled: threading.Event,
    ) -> Generated:
        """The blocking part, in a worker thread: prompt, limits, generation."""
        from creatix.engines.transformers import loading  # noqa: PLC0415

        loaded = slot.loaded
        with slot.thread_lock:
            text, templated = loading.prompt(loaded.tokenizer, system, turns)
            inputs = loading.encode(loaded, text, templated)
            length = loading.input_length(inputs)
            limit = self.options.max_input_tokens
            if limit is not None and length > limit:
                raise EngineRejected(
                    f"The conversation is {length} tokens long; this model takes at most {limit}.",
                    param="messages",
                )
            room = settings.max_new_tokens
            if loaded.context_length is not None:
                room = min(room, loaded.context_length - length)
                if room < 1:
                    raise EngineRejected(
                        f"The conversation is {length} tokens long; this model's context "
                        f"holds {loaded.context_length}.",
                        param="messages",
                    )
            if cancelled.is_set():
                raise asyncio.CancelledError
            return loading.generate(
                loaded, inputs, replace(settings, max_new_tokens=room), cancelled
            )

    async def _failure(self, exc: Exception, model: str) -> EngineError:
        from creatix.engines.transformers import loading  # noqa: PLC0415

        if loading.is_out_of_memory(exc):
            log.warning("out of memory generating", extra={"engine": self.name, "model": model})
            if self._device is not None:
                await asyncio.to_thread(loading.free_memory, self._device)
            device = self._device.type if self._device is not None else "the device"
            return EngineError(
                f"Out of memory on {device} generating the answer.",
                code="out_of_memory",
                retryable=False,
            )
        log.exception("generation failed", extra={"engine": self.name, "model": model})
        path = self.model_dir(model)
        return EngineError(
            f"The model failed ({_short(exc, path, display_name(model))}).",
            code="engine_error",
            retryable=True,
        )


def _conversation(spec: TextSpec) -> tuple[str, list[tuple[str, str]]]:
    """The system instruction and the turns, with the JSON instruction where one is asked."""
    turns: list[tuple[str, str]] = [(turn.role, turn.content) for turn in spec.messages]
    config = spec.config
    if config.response_mime_type != "application/json":
        return spec.system_instruction, turns
    instruction = JSON_INSTRUCTION
    if config.response_json_schema is not None:
        schema = json.dumps(config.response_json_schema, separators=(",", ":"), sort_keys=True)
        instruction += f" It must be an instance of this JSON Schema: {schema}"
    last_user = max((i for i, (role, _) in enumerate(turns) if role == "user"), default=None)
    if last_user is None:
        turns.append(("user", instruction))
    else:
        role, content = turns[last_user]
        turns[last_user] = (role, f"{content}\n\n{instruction}")
    return spec.system_instruction, turns


def _unfenced(text: str) -> str:
    """A JSON answer without the Markdown code fence small models like to wrap it in."""
    stripped = text.strip()
    match = FENCE.match(stripped)
    return match.group(1).strip() if match else stripped
