"""The asset generator's input schemas: one JSON Schema per image or video model, made from
the catalog.

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

A video model's schema (``video_input_params_schema``), from its ``video`` options:

- ``prompt`` (required) as above; ``image_url`` (required): the image to animate.
- ``duration``: one of the model's durations, as an integer or a string of one (the
  reference's example sends ``"5"``), default the shortest, as a string.
- ``aspect_ratio``: ``16:9`` (default), ``9:16`` or ``1:1``; the video is that shape with its
  short side 720 (``video_dimensions``; 1080 for a model without 720p). ``seed`` as above.
- ``negative_prompt`` (up to 2500 characters) and ``cfg_scale`` (0..1) where the model takes
  them; ``generate_audio`` (boolean) where it supports audio.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from creatix.catalog.schemas import Catalog, ModelEntry, PriceTable, VideoOptions
from creatix.jobs.specs import JobKind
from creatix.media.sizing import ASPECT_RATIOS, dimensions

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
BUDGET_SIDE = 1024
"""Every asset generator image is a 1024×1024 pixel budget shaped by ``aspect_ratio``."""
DEFAULT_ASPECT_RATIO = "1:1"
MAX_SEED = 2**32 - 1
MAX_URL_CHARS = 2048

VIDEO_ASPECT_RATIOS: tuple[str, ...] = ("16:9", "9:16", "1:1")
DEFAULT_VIDEO_ASPECT_RATIO = "16:9"
VIDEO_SHORT_SIDE = 720
"""Asset generator videos are 720p (1080p for a model that makes only that): ``aspect_ratio``
shapes them around that short side."""
MAX_VIDEO_NEGATIVE_PROMPT_CHARS = 2500

FORMAT_CHECKER = FormatChecker(formats=())


@FORMAT_CHECKER.checks("uri")
def _is_absolute_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return True  # "type" speaks for non-strings
    try:
        parts = urlsplit(value)
    except ValueError:  # an unbalanced bracket, say
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def image_models(catalog: Catalog) -> list[ModelEntry]:
    """The catalog's image models, in its order."""
    return [m for m in catalog.models if m.kind == JobKind.IMAGE]


def served_models(catalog: Catalog) -> list[ModelEntry]:
    """The models the asset generator serves: the catalog's image and video models, in its
    order."""
    return [
        m
        for m in catalog.models
        if m.kind == JobKind.IMAGE or (m.kind == JobKind.VIDEO and m.video is not None)
    ]


def video_short_side(options: VideoOptions) -> int:
    """720, unless the model makes only 1080p videos."""
    return VIDEO_SHORT_SIDE if "720p" in options.resolutions else 1080


def video_dimensions(aspect_ratio: str, short: int = VIDEO_SHORT_SIDE) -> tuple[int, int]:
    """(width, height) of a video of ``aspect_ratio``: its short side ``short``, both sides
    even (at 720: ``16:9`` is 1280×720, ``9:16`` 720×1280, ``1:1`` 720×720)."""
    ratio_w, ratio_h = (int(part) for part in aspect_ratio.split(":"))
    if ratio_w >= ratio_h:
        return 2 * round(short * ratio_w / ratio_h / 2), short
    return short, 2 * round(short * ratio_h / ratio_w / 2)


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


def _prompt_schema(entry: ModelEntry, description: str) -> dict[str, Any]:
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": entry.limits.max_prompt_chars,
        "pattern": r"\S",
        "description": description,
    }


def _seed_schema(description: str) -> dict[str, Any]:
    return {"type": "integer", "minimum": 0, "maximum": MAX_SEED, "description": description}


def _document(entry: ModelEntry, required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "title": entry.display_name,
        "description": entry.description,
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": False,
    }


def duration_choices(options: VideoOptions) -> list[str | int]:
    """What ``duration`` may be: each of the model's durations as a string, then as an
    integer."""
    durations = options.durations
    return [*(str(d) for d in durations), *durations]


def video_input_params_schema(entry: ModelEntry, options: VideoOptions) -> dict[str, Any]:
    """The JSON Schema of ``input_params`` for one video model."""
    durations = ", ".join(str(d) for d in options.durations)
    short = video_short_side(options)
    width, _ = video_dimensions("16:9", short)
    properties: dict[str, Any] = {
        "prompt": _prompt_schema(entry, "How the picture should move."),
        "image_url": {
            "type": "string",
            "format": "uri",
            "maxLength": MAX_URL_CHARS,
            "description": "An http(s) URL of the PNG, JPEG or WebP to animate.",
        },
        "duration": {
            "type": ["string", "integer"],
            "enum": duration_choices(options),
            "default": str(options.durations[0]),
            "description": f"Seconds of video: {durations} (a string or an integer); "
            "the price depends on it.",
        },
        "aspect_ratio": {
            "type": "string",
            "enum": list(VIDEO_ASPECT_RATIOS),
            "default": DEFAULT_VIDEO_ASPECT_RATIO,
            "description": f"The video's shape, its short side {short} pixels "
            f"(16:9 is {width}×{short}).",
        },
    }
    if options.supports_negative_prompt:
        properties["negative_prompt"] = {
            "type": "string",
            "maxLength": MAX_VIDEO_NEGATIVE_PROMPT_CHARS,
            "description": "What to keep out of the video.",
        }
    if options.supports_cfg_scale:
        properties["cfg_scale"] = {
            "type": "number",
            "minimum": 0,
            "maximum": 1,
            "description": "How closely to follow the prompt, 0 to 1.",
        }
    if options.supports_audio:
        properties["generate_audio"] = {
            "type": "boolean",
            "default": False,
            "description": "Give the video a generated sound track.",
        }
    properties["seed"] = _seed_schema("Same seed and parameters, same video; random when left out.")
    return _document(entry, ["prompt", "image_url"], properties)


def input_params_schema(entry: ModelEntry, catalog: Catalog) -> dict[str, Any]:
    """The JSON Schema of ``input_params`` for one image or video model."""
    if entry.kind == JobKind.VIDEO and entry.video is not None:
        return video_input_params_schema(entry, entry.video)
    limits = entry.limits
    ratios = aspect_ratios(entry)
    properties: dict[str, Any] = {
        "prompt": _prompt_schema(entry, "What to draw."),
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
    properties["seed"] = _seed_schema(
        "Same seed and parameters, same images; random when left out."
    )
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
    return _document(entry, required, properties)


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
        types = value if isinstance(value, list) else [value]
        wanted = " or ".join(_TYPE_NAMES.get(str(t), str(t)) for t in types)
        return f"must be {wanted}, not {_json_type(instance)}."
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
