"""What a generation costs, from the catalog: never from code."""

from __future__ import annotations

import math

from creatix.catalog.schemas import ModelEntry
from creatix.jobs.specs import ImageSpec, TextResult, TextSpec, VideoSpec
from creatix.kit.errors import InvalidRequest


def credits_per_image(model: ModelEntry, spec: ImageSpec) -> int:
    """The price of one image of ``spec`` on ``model``."""
    table = model.price_table
    if table is None:
        return model.credits_per_image
    key = table.key(spec.engine_params)
    if key not in table.prices:
        choices = ", ".join(sorted(table.prices))
        raise InvalidRequest(
            f"{model.id} has no price for {'/'.join(table.by)} = {key}; priced: {choices}.",
            param=table.by[0],
            code="invalid_value",
        )
    return table.prices[key]


TOKENS_PER_MESSAGE = 16
"""What a chat template may add around each message (role markers, separators)."""


def text_charge(model: ModelEntry, result: TextResult) -> int:
    """What an answer costs: its tokens at the model's prices per 1,000, rounded up."""
    per_thousand = (
        result.input_tokens * model.credits_per_1k_input_tokens
        + result.output_tokens * model.credits_per_1k_output_tokens
    )
    return math.ceil(per_thousand / 1000)


def text_reservation(model: ModelEntry, spec: TextSpec) -> int:
    """The most an answer to ``spec`` can cost, held while it runs: every input byte counted
    as a token (no tokenizer makes more), and the longest answer allowed."""
    texts = [spec.system_instruction, *(turn.content for turn in spec.messages)]
    input_bound = sum(len(text.encode()) + TOKENS_PER_MESSAGE for text in texts)
    output_bound = spec.config.max_output_tokens or model.max_output_tokens
    bound = TextResult(text="", input_tokens=input_bound, output_tokens=output_bound)
    return text_charge(model, bound)


def video_credits(model: ModelEntry, spec: VideoSpec) -> int:
    """The price of a video of ``spec``'s duration; a duration the model does not make is an
    ``InvalidRequest`` naming ``duration_seconds``."""
    options = model.video
    if options is None:
        raise InvalidRequest(f"{model.id} does not make videos.", param="model")
    if spec.duration_seconds not in options.credits_by_duration:
        offered = ", ".join(str(d) for d in options.durations)
        raise InvalidRequest(
            f"{model.id} makes videos of {offered} seconds; "
            f"{spec.duration_seconds} is not one of them.",
            param="duration_seconds",
        )
    return options.credits_by_duration[spec.duration_seconds]
