"""Answers that must be JSON: checked against the schema, asked for once more, or refused.

When a text job asks for ``application/json`` (with or without a schema), its answer is
parsed (a single Markdown code fence around it is removed) and validated. An engine that
misses gets one repair turn: its own answer and what is wrong with it, and the request to
answer again with only valid JSON. A second miss fails the job (refunded). Both calls' tokens
are charged when the repair succeeds: both were spent on the answer.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from jsonschema import exceptions as schema_errors
from jsonschema import validators
from referencing import Registry

from creatix.engines.base import EngineError, EngineParams, TextEngine
from creatix.jobs.specs import ChatTurn, TextConfig, TextResult, TextSpec

log = logging.getLogger(__name__)

JSON = "application/json"
FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n(?P<body>.*?)\n?\s*```\s*$", re.DOTALL)
PROBLEM_CHARS = 300


class InvalidOutput(EngineError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="invalid_output", retryable=False)


def conformed(text: str, config: TextConfig) -> tuple[str, str | None]:
    """The answer as it should be stored, and what is wrong with it (None: nothing)."""
    if config.response_mime_type != JSON:
        return text, None
    fenced = FENCE.match(text)
    candidate = fenced.group("body") if fenced else text.strip()
    try:
        value = json.loads(candidate)
    except json.JSONDecodeError as exc:
        return candidate, f"it is not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
    if config.response_json_schema is None:
        return candidate, None
    problem = schema_problem(value, config.response_json_schema)
    return candidate, problem


def schema_problem(value: Any, schema: dict[str, Any]) -> str | None:
    validator_class = validators.validator_for(schema)
    try:
        # An empty registry: a "$ref" to a URL is never fetched (jsonschema's default would).
        validator = validator_class(schema, registry=Registry())
        error = schema_errors.best_match(validator.iter_errors(value))
    except Exception as exc:  # an unresolvable $ref, say: no answer can be checked against it
        raise InvalidOutput(
            f"The requested schema cannot be applied ({type(exc).__name__}: {exc})."[:300]
        ) from exc
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path) or "the top level"
    return f"at {where}: {error.message}"[:PROBLEM_CHARS]


async def conforming_answer(
    engine: TextEngine, model: str, spec: TextSpec, params: EngineParams | None
) -> TextResult:
    """The engine's answer to ``spec``, valid as ``spec.config`` asks, or ``InvalidOutput``."""
    first = await engine.generate_text(model, spec, params)
    text, problem = conformed(first.text, spec.config)
    if problem is None:
        return first.model_copy(update={"text": text})
    log.info("answer did not conform; asking once more", extra={"problem": problem})
    repair = spec.model_copy(
        update={
            "messages": [
                *spec.messages,
                ChatTurn(role="model", content=first.text),
                ChatTurn(
                    role="user",
                    content=f"That answer is not valid: {problem}. Answer again with only the "
                    "JSON value, valid against the schema, and nothing else.",
                ),
            ]
        }
    )
    second = await engine.generate_text(model, repair, params)
    text, problem = conformed(second.text, spec.config)
    if problem is not None:
        raise InvalidOutput(
            f"The model's answer was not valid JSON for the requested schema, twice: {problem}."
        )
    return TextResult(
        text=text,
        input_tokens=first.input_tokens + second.input_tokens,
        output_tokens=first.output_tokens + second.output_tokens,
    )
