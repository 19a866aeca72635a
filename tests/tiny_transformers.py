"""A tiny causal language model with random weights, built offline for text-engine tests.

``build_tiny_lm`` writes a complete model folder with ``save_pretrained`` so that
``AutoTokenizer.from_pretrained(path)`` and ``AutoModelForCausalLM.from_pretrained(path)``
load it without the Hugging Face hub. The real classes are used (``LlamaForCausalLM`` and a
``tokenizers``-backed ``PreTrainedTokenizerFast``); only the sizes are tiny, so the text is
gibberish but every code path is the real one.

The tokenizer is made here: a byte-level BPE trained in memory on a few ad-copy sentences
(``VOCAB_SIZE`` entries: the 256 byte symbols, the specials and some merges), so any text
tokenizes and decodes back exactly, with ``<s>``, ``</s>``, ``<pad>`` and ``<unk>``. With
``chat_template=True`` (the default) it carries a small chat template
(``<|role|>\\ncontent</s>\\n`` per message, then ``<|assistant|>\\n``); without one, engines
write their own plain prompt.

The model never ends an answer by itself: its generation config names no end-of-sequence
token, so every generation makes exactly ``max_new_tokens`` tokens unless a stop sequence or
the caller ends it. That makes token counts exact in tests and generation time predictable
(about a millisecond a token on one CPU thread).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

VOCAB_SIZE = 320
CONTEXT_LENGTH = 1024
SPECIALS = {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"}
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}</s>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
SENTENCES = (
    "Write a short headline for our new cold brew coffee.",
    "Fresh running shoes for busy parents, every single morning.",
    "Meet the lightest backpack you will ever carry.",
    "Shop now and save twenty percent on your first order!",
    "System: you write ad copy. User: a tagline please. Model:",
)


def make_tokenizer(chat_template: bool = True) -> Any:
    """A ``PreTrainedTokenizerFast`` over a byte-level BPE trained on ``SENTENCES``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=list(SPECIALS.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(list(SENTENCES) * 4, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, model_max_length=CONTEXT_LENGTH, **SPECIALS
    )
    if chat_template:
        tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_tiny_lm(path: Path, chat_template: bool = True, seed: int = 0) -> Path:
    """Write a tiny Llama (2 layers, hidden size 32, random weights from ``seed``) and its
    tokenizer to ``path``; returns ``path``."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    tokenizer = make_tokenizer(chat_template)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=CONTEXT_LENGTH,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    # No eos_token_id: the model only stops at max_new_tokens (see the module docstring).
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return path


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama folder with a chat template (see ``build_tiny_lm``)."""
    return build_tiny_lm(tmp_path_factory.mktemp("models") / "tiny-lm")
