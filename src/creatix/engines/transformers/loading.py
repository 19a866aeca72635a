"""The torch and transformers boundary: devices, dtypes, loading, prompts and generation.

transformers' models and tokenizers are dynamic objects (their classes depend on the folder
loaded), so they are ``Any`` here; everything that touches them goes through this module.
Everything here blocks: the engine calls it from worker threads.
"""

from __future__ import annotations

import copy
import gc
import importlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from creatix.engines.options import DTYPES
from creatix.engines.transformers.config import Generated, Settings

SAMPLING_LOCK = threading.Lock()
"""transformers samples from torch's global generator: seeding it and sampling happen under
this lock, so a seeded run draws the same tokens whatever else the process runs."""

PLAIN_ROLES = {"user": "User", "model": "Model"}


@dataclass(frozen=True)
class LoadedModel:
    model: Any
    tokenizer: Any
    device: torch.device
    context_length: int | None
    """The model's positions (``max_position_embeddings``), when its config says."""


def pick_device(requested: str) -> torch.device:
    """``auto``: the first CUDA device when there is one, else the CPU."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {requested} was asked for but CUDA is not available")
    return device


def pick_dtype(requested: str, device: torch.device) -> torch.dtype:
    """``auto``: bfloat16 on CUDA, float32 elsewhere."""
    if requested == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    dtype: torch.dtype = getattr(torch, DTYPES[requested])
    return dtype


def _transformers() -> Any:
    return importlib.import_module("transformers")


@cache
def _dtype_keyword() -> str:
    """transformers 4.56 and later take ``dtype`` (and deprecate ``torch_dtype``)."""
    try:
        major, minor = (int(part) for part in _transformers().__version__.split(".")[:2])
    except ValueError:
        return "dtype"
    return "dtype" if (major, minor) >= (4, 56) else "torch_dtype"


def load(path: Path, dtype: torch.dtype, device: torch.device) -> LoadedModel:
    """The causal language model and tokenizer in ``path``, on ``device``; never downloads."""
    transformers = _transformers()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        str(path), local_files_only=True, **{_dtype_keyword(): dtype}
    )
    model.eval()
    model = model.to(device)
    config = getattr(model, "config", None)
    positions = getattr(config, "max_position_embeddings", None) or getattr(
        config, "n_positions", None
    )
    return LoadedModel(
        model=model,
        tokenizer=tokenizer,
        device=device,
        context_length=int(positions) if isinstance(positions, int) and positions > 0 else None,
    )


def prompt(tokenizer: Any, system: str, turns: Sequence[tuple[str, str]]) -> tuple[str, bool]:
    """The text to continue, and whether it came from the tokenizer's chat template (which
    writes its own special tokens, so tokenizing must not add them again).

    ``turns`` are ``(role, content)`` with roles ``user`` and ``model``. Without a chat
    template the conversation is written as ``System: …\\nUser: …\\nModel: …\\nModel:``.
    """
    if getattr(tokenizer, "chat_template", None):
        messages = [
            {"role": "assistant" if role == "model" else "user", "content": content}
            for role, content in turns
        ]
        try:
            text = _apply_template(tokenizer, system, messages)
        except Exception:
            if not system:
                raise
            # Some templates (Gemma's) refuse a system turn: it goes before the first message.
            first = next((m for m in messages if m["role"] == "user"), None)
            if first is None:
                messages.insert(0, {"role": "user", "content": system})
            else:
                first["content"] = f"{system}\n\n{first['content']}"
            text = _apply_template(tokenizer, "", messages)
        return text, True
    lines = [f"System: {system}"] if system else []
    lines.extend(f"{PLAIN_ROLES[role]}: {content}" for role, content in turns)
    lines.append("Model:")
    return "\n".join(lines), False


def _apply_template(tokenizer: Any, system: str, messages: list[dict[str, str]]) -> str:
    conversation = [{"role": "system", "content": system}, *messages] if system else messages
    text = tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
    return str(text)


def encode(loaded: LoadedModel, text: str, templated: bool) -> dict[str, torch.Tensor]:
    """``input_ids`` and ``attention_mask`` for one prompt, on the model's device."""
    encoded = loaded.tokenizer(text, return_tensors="pt", add_special_tokens=not templated)
    return {
        "input_ids": encoded["input_ids"].to(loaded.device),
        "attention_mask": encoded["attention_mask"].to(loaded.device),
    }


def input_length(inputs: dict[str, torch.Tensor]) -> int:
    return int(inputs["input_ids"].shape[-1])


class StopOnText(StoppingCriteria):
    """Stops when a stop sequence shows in the decoded answer, or when ``cancelled`` is set.

    Decodes the whole answer at each step (answers are at most a few thousand tokens), which
    works with any tokenizer, where transformers' own ``stop_strings`` needs to map the
    tokenizer's vocabulary first."""

    def __init__(
        self, tokenizer: Any, prompt_length: int, stop: tuple[str, ...], cancelled: threading.Event
    ) -> None:
        self.tokenizer = tokenizer
        self.prompt_length = prompt_length
        self.stop = stop
        self.cancelled = cancelled

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        done = self.cancelled.is_set()
        if not done and self.stop:
            new = input_ids[0, self.prompt_length :]
            answer = self.tokenizer.decode(new, skip_special_tokens=True)
            done = any(sequence in answer for sequence in self.stop)
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)


def _generation_config(loaded: LoadedModel, settings: Settings) -> Any:
    """The model's own generation config with this request's settings on top."""
    config = copy.deepcopy(loaded.model.generation_config)
    update: dict[str, Any] = {
        "max_new_tokens": settings.max_new_tokens,
        "do_sample": settings.do_sample,
    }
    if settings.do_sample:
        update["temperature"] = settings.temperature
        if settings.top_p is not None:
            update["top_p"] = settings.top_p
        if settings.top_k is not None:
            update["top_k"] = settings.top_k
    else:  # greedy: the model's sampling defaults would only draw warnings
        update.update(temperature=None, top_p=None, top_k=None)
    if settings.repetition_penalty is not None:
        update["repetition_penalty"] = settings.repetition_penalty
    tokenizer = loaded.tokenizer
    if config.pad_token_id is None:
        pad = tokenizer.pad_token_id
        update["pad_token_id"] = pad if pad is not None else tokenizer.eos_token_id
    config.update(**update)
    return config


def generate(
    loaded: LoadedModel,
    inputs: dict[str, torch.Tensor],
    settings: Settings,
    cancelled: threading.Event,
) -> Generated:
    """One answer: greedy, or sampled from ``settings.seed``; cut at the first stop sequence."""
    prompt_length = input_length(inputs)
    arguments: dict[str, Any] = {
        **inputs,
        "generation_config": _generation_config(loaded, settings),
        "stopping_criteria": StoppingCriteriaList(
            [StopOnText(loaded.tokenizer, prompt_length, settings.stop, cancelled)]
        ),
    }
    with torch.inference_mode():
        if settings.do_sample:
            with SAMPLING_LOCK:
                torch.manual_seed(settings.seed)
                output = loaded.model.generate(**arguments)
        else:
            output = loaded.model.generate(**arguments)
    new_tokens = output[0, prompt_length:]
    text = str(loaded.tokenizer.decode(new_tokens, skip_special_tokens=True))
    return Generated(
        text=cut_at_stop(text, settings.stop),
        input_tokens=prompt_length,
        output_tokens=int(new_tokens.shape[-1]),
    )


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to (not including) the earliest stop sequence in it."""
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, torch.cuda.OutOfMemoryError | MemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def free_memory(device: torch.device) -> None:
    """Give cached accelerator memory back after an unload or an out-of-memory error."""
    gc.collect()
    if device.type == "cuda" and torch.cuda.is_available():
        torch.cuda.empty_cache()


def unloaded(device: torch.device) -> None:
    """After dropping models: on CUDA, collect them and give the cached memory back. On the
    CPU reference counting has freed them already (a full collection costs a fifth of a
    second with torch loaded), so nothing is done."""
    if device.type == "cuda":
        free_memory(device)
