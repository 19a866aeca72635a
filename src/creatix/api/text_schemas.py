"""The text generator's wire types: the request's JSON Schema, and the task it answers with.

``POST /api/text_generator/`` validates its body with ``REQUEST_SCHEMA`` (``jsonschema``,
draft 2020-12) — the schema the OpenAPI document publishes for it — so what a client reads is
what the server enforces. ``request_errors`` names every failing field with a dotted path
(``config.temperature``, ``messages.0.role``) and says what is wrong with it. What a schema
cannot say (a model of the catalog, a model's most output tokens, a valid
``response_json_schema``, a safe ``webhook_url``) the dialect checks after it;
``response_schema_pattern_problems`` names each pattern of the ``response_json_schema``
that the server cannot run in linear time (``kit/patterns.py``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from pydantic import BaseModel, Field

from creatix.kit.patterns import schema_pattern_problems

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
MAX_MODEL_NAME_CHARS = 255
MAX_STOP_SEQUENCES = 5
"""Gemini's limit: the API this one mirrors names Gemini models."""
SEED_MIN, SEED_MAX = -(2**31), 2**31 - 1
"""Gemini's seed is a 32-bit signed integer."""
MAX_URL_CHARS = 2048
JSON_MIME = "application/json"

ROLES = ("user", "model")
MIME_TYPES = ("text/plain", JSON_MIME)


def _nullable(kind: str) -> list[str]:
    return [kind, "null"]


MESSAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {
        "role": {
            "type": "string",
            "enum": list(ROLES),
            "description": "user: the caller's turn; model: the model's own earlier answer.",
        },
        "content": {
            "type": "string",
            "minLength": 1,
            "pattern": r"\S",
            "description": "The text of the turn; not blank.",
        },
    },
    "additionalProperties": False,
}

CONFIG_SCHEMA: dict[str, Any] = {
    "type": _nullable("object"),
    "description": "Generation settings; a setting left out or null is the model's default.",
    "properties": {
        "temperature": {"type": _nullable("number"), "minimum": 0, "maximum": 2},
        "max_output_tokens": {"type": _nullable("integer"), "minimum": 1},
        "top_p": {"type": _nullable("number"), "minimum": 0, "maximum": 1},
        "top_k": {"type": _nullable("integer"), "minimum": 1},
        "presence_penalty": {"type": _nullable("number"), "minimum": -2, "maximum": 2},
        "frequency_penalty": {"type": _nullable("number"), "minimum": -2, "maximum": 2},
        "seed": {"type": _nullable("integer"), "minimum": SEED_MIN, "maximum": SEED_MAX},
        "stop_sequences": {
            "type": _nullable("array"),
            "items": {"type": "string", "minLength": 1},
            "maxItems": MAX_STOP_SEQUENCES,
        },
        "response_mime_type": {
            "type": _nullable("string"),
            "enum": [*MIME_TYPES, None],
            "default": "text/plain",
        },
        "response_json_schema": {
            "type": _nullable("object"),
            "description": "A JSON Schema the answer must satisfy; needs application/json.",
        },
    },
    "additionalProperties": False,
}

CONFIG_KEYS: tuple[str, ...] = tuple(CONFIG_SCHEMA["properties"])
RESPONSE_SCHEMA_FIELD = "config.response_json_schema"

REQUEST_SCHEMA: dict[str, Any] = {
    "$schema": JSON_SCHEMA_DIALECT,
    "title": "Text generation task",
    "type": "object",
    "required": ["model_name", "messages"],
    "properties": {
        "model_name": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_MODEL_NAME_CHARS,
            "description": "A text model of the catalog (e.g. gemini-2.5-flash).",
        },
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": MESSAGE_SCHEMA,
            "description": "The conversation so far, oldest first.",
        },
        "system_instruction": {"type": _nullable("string"), "default": ""},
        "config": CONFIG_SCHEMA,
        "webhook_url": {
            "type": _nullable("string"),
            "format": "uri",
            "maxLength": MAX_URL_CHARS,
            "description": "Receives the task when it is done or failed.",
        },
    },
    "additionalProperties": False,
}

BODY_FIELDS: tuple[str, ...] = tuple(REQUEST_SCHEMA["properties"])
_VALIDATOR = Draft202012Validator(REQUEST_SCHEMA)

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "object": "a JSON object",
    "array": "an array",
    "boolean": "true or false",
    "null": "null",
}


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "a JSON object"


def _expected(kinds: object) -> str:
    names = [_TYPE_NAMES.get(str(kind), str(kind)) for kind in _as_list(kinds) if kind != "null"]
    return " or ".join(names)


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else [value]


def _range(schema: dict[str, Any]) -> str:
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        return f"between {low} and {high}"
    if low is not None:
        return f"at least {low}"
    return f"at most {high}"


def _message(error: ValidationError) -> str:
    """A sentence about one failing field, naming the limit the schema sets."""
    rule = error.validator
    value: Any = error.validator_value
    instance: Any = error.instance
    schema: Any = error.schema
    shown = json.dumps(instance)
    if rule == "type":
        return f"must be {_expected(value)}, not {_json_type(instance)}."
    if rule == "enum":
        choices = ", ".join(json.dumps(choice) for choice in value if choice is not None)
        return f"must be one of {choices}; got {shown}."
    if rule == "minLength":
        return "must not be empty." if value == 1 else f"must be at least {value} characters."
    if rule == "maxLength":
        return f"must be at most {value} characters; it has {len(instance)}."
    if rule in ("minimum", "maximum"):
        return f"must be {_range(schema)}; got {shown}."
    if rule == "minItems":
        return "must not be empty: send at least one message." if value == 1 else error.message
    if rule == "maxItems":
        return f"must have at most {value} items; it has {len(instance)}."
    if rule == "pattern":
        return "must not be blank."
    return f"is invalid: {error.message}."


def response_schema_pattern_problems(schema: object) -> dict[str, str]:
    """Each pattern of a ``response_json_schema`` that cannot be used, by its field
    (``config.response_json_schema.properties.code.pattern``), with why."""
    return {
        f"{RESPONSE_SCHEMA_FIELD}.{place}": problem
        for place, problem in schema_pattern_problems(schema).items()
    }


def _dotted(path: list[str], name: str | None = None) -> str:
    return ".".join([*path, name] if name is not None else path)


def request_errors(body: dict[str, Any]) -> dict[str, str]:
    """Each failing field of ``body`` (dotted: ``config.top_p``, ``messages.0.role``) with what
    is wrong with it, in the order of the body's fields; empty when ``body`` fits the schema."""
    found: dict[str, str] = {}
    for error in _VALIDATOR.iter_errors(body):
        path = [str(part) for part in error.absolute_path]
        if error.validator == "required":
            for name in error.validator_value:
                if name not in error.instance:
                    found.setdefault(_dotted(path, name), "is required.")
        elif error.validator == "additionalProperties":
            allowed = ", ".join(error.schema["properties"])
            for name in error.instance:
                if name not in error.schema["properties"]:
                    found.setdefault(_dotted(path, name), f"is not a parameter; send {allowed}.")
        else:
            found.setdefault(_dotted(path), _message(error))
    return dict(sorted(found.items(), key=lambda item: field_rank(item[0])))


def field_rank(name: str) -> tuple[int, int, int]:
    """Where a (dotted) field comes in the body: top-level order, then message or config order."""
    top, _, rest = name.partition(".")
    first = BODY_FIELDS.index(top) if top in BODY_FIELDS else len(BODY_FIELDS)
    head = rest.partition(".")[0]
    if top == "config":
        second = CONFIG_KEYS.index(head) if head in CONFIG_KEYS else len(CONFIG_KEYS)
    elif top == "messages" and head.isdigit():
        second = int(head)
    else:
        second = 0
    third = 0 if rest.endswith("role") else 1
    return first, second, third


# -- the task, as POST, GET, the list and the webhook show it --------------------------------

TaskStatus = Literal["pending", "running", "done", "failed"]


class Message(BaseModel):
    role: Literal["user", "model"]
    content: str


class TaskConfig(BaseModel):
    """Every setting, echoed; null where the caller left it to the model's default."""

    temperature: float | None
    max_output_tokens: int | None
    top_p: float | None
    top_k: int | None
    presence_penalty: float | None
    frequency_penalty: float | None
    seed: int | None
    stop_sequences: list[str] = Field(description="[] when none were given.")
    response_mime_type: Literal["text/plain", "application/json"]
    response_json_schema: dict[str, Any] | None


class TextProvenance(BaseModel):
    """Where the answer came from, beside it (the copy itself is never altered): verify a
    copy with ``POST /v1/provenance/verify`` (form field ``text``)."""

    generator: Literal["Creatix"] = "Creatix"
    ai_generated: Literal[True] = True
    model: str
    job_id: str
    created_at: datetime = Field(description="When the answer was made.")
    digest: str = Field(description="sha256: of the answer's normalized form.")


class TextTask(BaseModel):
    id: str = Field(description="The Creatix job id (a UUID).")
    model_name: str
    messages: list[Message]
    config: TaskConfig
    created_at: datetime
    updated_at: datetime = Field(description="When the task last changed status.")
    system_instruction: str
    status: TaskStatus
    response_text: str | None = Field(description="The model's answer; null until done.")
    failed_reason: str | None = Field(description="Why the task failed; null unless it did.")
    credits_used: float = Field(
        description="The credits charged: 0 until the task is done, and 0 if it failed."
    )
    provenance: TextProvenance | None = Field(
        default=None, description="Where the answer came from; null until the task is done."
    )


class TextTaskPage(BaseModel):
    count: int = Field(description="How many text tasks the account has in all.")
    next: str | None = Field(description="The next page's URL; null on the last page.")
    previous: str | None = Field(description="The previous page's URL; null on the first.")
    results: list[TextTask] = Field(description="This page's tasks, newest first.")
