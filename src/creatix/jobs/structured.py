"""Answers that must be JSON: checked against the schema, asked for once more, or refused.

When a text job asks for ``application/json`` (with or without a schema), its answer is
parsed (a single Markdown code fence around it is removed) and validated. An engine that
misses gets one repair turn: its own answer and what is wrong with it, and the request to
answer again with only valid JSON. A second miss fails the job (refunded). Both calls' tokens
are charged when the repair succeeds: both were spent on the answer.

The schema's patterns are matched by RE2 (``kit/patterns.py``), in linear time; a pattern it
cannot run fails the job (``invalid_output``: the schema cannot be applied). The schema is
the user's, and some cost more than linear time to validate against (nested ``oneOf``
doubles with each level): parsing and validating run in a worker process
(``kit/processes.py``), never on the event loop, and past ``VALIDATION_BUDGET_SECONDS`` it is
killed and the job fails with ``validation_timeout`` (refunded).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from jsonschema import exceptions as schema_errors
from jsonschema import validators
from referencing import Registry

from creatix.engines.base import EngineError, EngineParams, TextEngine
from creatix.jobs.specs import ChatTurn, TextConfig, TextResult, TextSpec
from creatix.kit.patterns import (
    UnsafePattern,
    check_schema,
    compile_linear,
    linear_validator_for,
)
from creatix.kit.processes import OutOfTime, ProcessRunner, WorkerDied

log = logging.getLogger(__name__)

JSON = "application/json"
FENCE = compile_linear(r"(?s)^\s*```[A-Za-z0-9_-]*\s*\n(?P<body>.*?)\n?\s*```\s*$")
"""A Markdown code fence around the whole answer. RE2: the answer is the engine's, and
Python's ``re`` takes cubic time on this pattern over a long run of blank lines."""
PROBLEM_CHARS = 300
VALIDATION_BUDGET_SECONDS = 10.0
VALIDATION_WORKERS = 2

_validation = ProcessRunner(
    workers=VALIDATION_WORKERS, budget_seconds=VALIDATION_BUDGET_SECONDS, preload=[__name__]
)
"""One pool per process, started by the first JSON answer."""


_UNKNOWN: Any = object()
"""What ``validator_for`` answers for a ``$schema`` it does not know."""


def invalid_schema(schema: dict[str, Any]) -> str | None:
    """Why ``schema`` is not a JSON Schema this server can hold answers to, if it is not:
    what every API that takes a response schema answers before a job is made."""
    dialect = schema.get("$schema")
    known = isinstance(dialect, str) and validators.validator_for(schema, _UNKNOWN) is not _UNKNOWN
    if dialect is not None and not known:
        return (
            f"names the JSON Schema dialect {json.dumps(dialect)}, which this server does "
            "not know; leave $schema out (draft 2020-12) or name a published draft."
        )
    validator_class = validators.validator_for(schema)
    try:
        check_schema(validator_class, schema)
    except schema_errors.SchemaError as exc:
        where = "/".join(str(part) for part in exc.absolute_path) or "the top level"
        return f"is not a valid JSON Schema: at {where}: {exc.message}."
    return None


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


async def _conformed_off_loop(text: str, config: TextConfig) -> tuple[str, str | None]:
    """``conformed``, in a worker process when there is JSON to parse and validate."""
    if config.response_mime_type != JSON:
        return text, None
    try:
        return await _validation.run(conformed, text, config)
    except OutOfTime:
        raise EngineError(
            f"The answer could not be checked against the response schema within "
            f"{VALIDATION_BUDGET_SECONDS:g} s; a simpler schema can be.",
            code="validation_timeout",
            retryable=False,
        ) from None
    except WorkerDied as exc:
        raise InvalidOutput(f"The answer could not be checked against the schema: {exc}.") from None


def schema_problem(value: Any, schema: dict[str, Any]) -> str | None:
    validator_class = linear_validator_for(schema)
    try:
        # An empty registry: a "$ref" to a URL is never fetched (jsonschema's default would).
        validator = validator_class(schema, registry=Registry())
        error = schema_errors.best_match(validator.iter_errors(value))
    except UnsafePattern as exc:
        raise InvalidOutput(f"The requested schema cannot be applied: {exc}."[:300]) from exc
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
    text, problem = await _conformed_off_loop(first.text, spec.config)
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
    text, problem = await _conformed_off_loop(second.text, spec.config)
    if problem is not None:
        raise InvalidOutput(
            f"The model's answer was not valid JSON for the requested schema, twice: {problem}."
        )
    return TextResult(
        text=text,
        input_tokens=first.input_tokens + second.input_tokens,
        output_tokens=first.output_tokens + second.output_tokens,
    )
