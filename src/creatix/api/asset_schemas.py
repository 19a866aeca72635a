"""The asset generator's input schemas: one JSON Schema per image model, made from the catalog.

The schema ``GET /api/asset_generator/schemas/`` publishes is the schema ``POST
/api/asset_generator/`` validates ``input_params`` with (``jsonschema``, draft 2020-12, with a
``uri`` format check), so what a client reads is exactly what the server enforces:

- ``prompt`` (required): a string of 1 to the model's ``max_prompt_chars`` characters, not
  blank; ``negative_prompt``: up to as many.
- ``aspect_ratio``: the ratios whose 1024×1024 pixel budget fits the model's side limits
  (all of ``media.sizing.ASPECT_RATIOS`` for the shipped models), default ``1:1``.
- ``num_images``: 1 to the model's ``max_n``, default 1. ``style``: a catalog style id.
  ``seed``: 0 to 2³²−1.
- ``image_url`` (an absolute http(s) URL): only for models with ``supports_image_input``.
- A price table's parameters (``resolution``, ``quality`` for gpt-image-2): enums of the
  values the table prices, defaulting to the table's defaults; required where it has none.
- Nothing else (``additionalProperties: false``).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from creatix.catalog.schemas import Catalog, ModelEntry, PriceTable
from creatix.jobs.specs import JobKind
from creatix.media.sizing import ASPECT_RATIOS, dimensions

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
BUDGET_SIDE = 1024
"""Every asset generator image is a 1024×1024 pixel budget shaped by ``aspect_ratio``."""
DEFAULT_ASPECT_RATIO = "1:1"
MAX_SEED = 2**32 - 1
MAX_URL_CHARS = 2048

FORMAT_CHECKER = FormatChecker(formats=())


@FORMAT_CHECKER.checks("uri")
def _is_absolute_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return True  # "type" speaks for non-strings
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def image_models(catalog: Catalog) -> list[ModelEntry]:
    """The models the asset generator serves: the catalog's image models, in its order."""
    return [m for m in catalog.models if m.kind == JobKind.IMAGE]


def aspect_ratios(entry: ModelEntry) -> list[str]:
    """The aspect ratios whose pixels at the 1024 budget are within the model's side limits."""
    limits = entry.limits
    fitting = [
        ratio
        for ratio in ASPECT_RATIOS
        if all(
            limits.min_side <= side <= limits.max_side for side in dimensions(BUDGET_SIDE, ratio)
        )
    ]
    return fitting or list(ASPECT_RATIOS)


def price_choices(table: PriceTable) -> dict[str, list[str]]:
    """Each price-table parameter with the values the table prices, in the table's order."""
    return {
        name: list(dict.fromkeys(key.split("/")[position] for key in table.prices))
        for position, name in enumerate(table.by)
    }


def input_params_schema(entry: ModelEntry, catalog: Catalog) -> dict[str, Any]:
    """The JSON Schema of ``input_params`` for one image model."""
    limits = entry.limits
    ratios = aspect_ratios(entry)
    properties: dict[str, Any] = {
        "prompt": {
            "type": "string",
            "minLength": 1,
            "maxLength": limits.max_prompt_chars,
            "pattern": r"\S",
            "description": "What to draw.",
        },
        "negative_prompt": {
            "type": "string",
            "maxLength": limits.max_prompt_chars,
            "description": "What to keep out of the picture.",
        },
        "aspect_ratio": {
            "type": "string",
            "enum": ratios,
            "default": DEFAULT_ASPECT_RATIO if DEFAULT_ASPECT_RATIO in ratios else ratios[0],
            "description": "Shapes a 1024×1024 pixel budget (16:9 is 1344×768).",
        },
        "num_images": {
            "type": "integer",
            "minimum": 1,
            "maximum": limits.max_n,
            "default": 1,
            "description": "How many images to make.",
        },
    }
    if catalog.styles:
        properties["style"] = {
            "type": "string",
            "enum": [style.id for style in catalog.styles],
            "description": "A style preset: adds to the prompt (and the negative prompt).",
        }
    properties["seed"] = {
        "type": "integer",
        "minimum": 0,
        "maximum": MAX_SEED,
        "description": "Same seed and parameters, same images; random when left out.",
    }
    if entry.supports_image_input:
        properties["image_url"] = {
            "type": "string",
            "format": "uri",
            "maxLength": MAX_URL_CHARS,
            "description": "An http(s) URL of a PNG, JPEG or WebP to compose into the picture.",
        }
    required = ["prompt"]
    if entry.price_table is not None:
        table = entry.price_table
        for name, choices in price_choices(table).items():
            prop: dict[str, Any] = {
                "type": "string",
                "enum": choices,
                "description": f"The price depends on it (with {', '.join(table.by)}).",
            }
            if name in table.defaults:
                prop["default"] = table.defaults[name]
            else:
                required.append(name)
            properties[name] = prop
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": entry.display_name,
        "description": entry.description,
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(schema, format_checker=FORMAT_CHECKER)


_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "object": "a JSON object",
    "array": "an array",
    "boolean": "true or false",
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
    return "an object"


def _message(error: ValidationError) -> str:
    """A sentence about one failing field, naming the limit the schema sets."""
    rule = error.validator
    value: Any = error.validator_value
    instance: Any = error.instance
    schema: Any = error.schema
    shown = json.dumps(instance)
    if rule == "type":
        return f"must be {_TYPE_NAMES.get(str(value), str(value))}, not {_json_type(instance)}."
    if rule == "enum":
        choices = ", ".join(json.dumps(choice) for choice in value)
        return f"must be one of {choices}; got {shown}."
    if rule == "minLength":
        return "must not be empty." if value == 1 else f"must be at least {value} characters."
    if rule == "maxLength":
        return f"must be at most {value} characters; it has {len(instance)}."
    if rule in ("minimum", "maximum"):
        low, high = schema.get("minimum"), schema.get("maximum")
        return f"must be between {low} and {high}; got {shown}."
    if rule == "pattern":
        return "must not be blank."
    if rule == "format":
        return f"must be an absolute http or https URL; got {shown}."
    return f"is invalid: {error.message}."


def input_params_errors(
    schema: dict[str, Any], params: dict[str, Any], model_name: str
) -> dict[str, str]:
    """Each failing field of ``params`` (``input_params.<name>``) with what is wrong with it,
    in the schema's property order; empty when ``params`` is valid."""
    properties: dict[str, Any] = schema["properties"]
    found: dict[str, str] = {}
    for error in validator(schema).iter_errors(params):
        path = [str(part) for part in error.absolute_path]
        if error.validator == "required":
            missing = [name for name in error.validator_value if name not in error.instance]
            for name in missing:
                found.setdefault(name, f"is required by {model_name}.")
        elif error.validator == "additionalProperties":
            allowed = ", ".join(properties)
            for name in error.instance:
                if name not in properties:
                    found.setdefault(
                        name, f"is not an input parameter of {model_name}; it takes {allowed}."
                    )
        else:
            found.setdefault(".".join(path), _message(error))
    order = {name: index for index, name in enumerate(properties)}
    ranked = sorted(found.items(), key=lambda item: order.get(item[0], len(order)))
    return {f"input_params.{name}": message for name, message in ranked}
