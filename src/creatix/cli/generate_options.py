"""The options of a creative, checked as ``creatix generate`` sends them: one creative's
flags (``image``) and a ``--batch`` row's columns alike. A bad value is a usage error (exit 2)
whose message ``ProblemAt`` words: a flag for a command line, row and column for a batch."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from creatix.cli.generate_output import refuse

ProblemAt = Callable[[str, str], str]
"""Where a bad value is, in a user's words: (column, problem) → a one-line message."""

SIZES = ("512x512", "1024x1024", "2048x2048")
ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4", "1:4", "4:1")
QUALITIES = ("standard", "hd")
FORMATS = ("png", "jpeg", "webp")
RESOLUTIONS = ("720p", "1080p")
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off", "")
DEFAULT_VIDEO_PROMPT = "Smooth camera motion"


def _whole(value: Any, low: int, high: int, column: str, problem_at: ProblemAt) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        refuse(problem_at(column, f"must be a whole number, not {value!r}"))
    if not low <= number <= high:
        refuse(problem_at(column, f"must be {low} to {high}, not {number}"))
    return number


def _text(value: Any, column: str, problem_at: ProblemAt, choices: tuple[str, ...] = ()) -> str:
    if not isinstance(value, str):
        refuse(problem_at(column, f"must be text, not {value!r}"))
    if choices and value not in choices:
        refuse(problem_at(column, f"must be one of {', '.join(choices)}, not {value!r}"))
    return value


def image_options(raw: dict[str, Any], problem_at: ProblemAt) -> dict[str, Any]:
    """Options as ``images.generate`` takes them; a usage error naming the first bad one."""
    options: dict[str, Any] = {}
    for column, value in raw.items():
        if value is None or value == "":
            continue
        if column in ("n", "seed"):
            low, high = (1, 4) if column == "n" else (0, 2**32 - 1)
            options[column] = _whole(value, low, high, column, problem_at)
            continue
        choices = {
            "size": SIZES,
            "aspect_ratio": ASPECT_RATIOS,
            "quality": QUALITIES,
            "output_format": FORMATS,
        }.get(column, ())
        options[column] = _text(value, column, problem_at, choices)
    return options


def video_options(raw: dict[str, Any], problem_at: ProblemAt) -> dict[str, Any]:
    """A video row's options; ``from`` becomes ``image`` (an image file there is) or
    ``source_generation_id`` (anything else: a generation's id)."""
    options: dict[str, Any] = {}
    for column, value in raw.items():
        if value is None or value == "":
            continue
        if column == "from":
            source = _text(value, column, problem_at)
            name = "image" if Path(source).is_file() else "source_generation_id"
            options[name] = source
        elif column == "duration":
            options[column] = _whole(value, 1, 60, column, problem_at)
        elif column == "audio":
            # As --audio: asked for, or left out (a model without sound takes no "false").
            if _yes(value, column, problem_at):
                options[column] = True
        else:
            choices = RESOLUTIONS if column == "resolution" else ()
            options[column] = _text(value, column, problem_at, choices)
    return options


def _yes(value: Any, column: str, problem_at: ProblemAt) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word not in TRUE_WORDS + FALSE_WORDS:
        refuse(problem_at(column, f"must be true or false, not {value!r}"))
    return word in TRUE_WORDS


def copy_options(raw: dict[str, Any], problem_at: ProblemAt) -> dict[str, Any]:
    """A copy row's options; ``schema`` names a JSON Schema file, read here (an object in a
    JSONL row is taken as the schema itself)."""
    options: dict[str, Any] = {}
    for column, value in raw.items():
        if value is None or value == "":
            continue
        if column == "schema":
            options[column] = _schema(value, problem_at)
        elif column == "temperature":
            try:
                temperature = float(value)
            except (TypeError, ValueError):
                refuse(problem_at(column, f"must be a number, not {value!r}"))
            if not 0.0 <= temperature <= 2.0:
                refuse(problem_at(column, f"must be 0 to 2, not {temperature}"))
            options[column] = temperature
        elif column == "max_output_tokens":
            options[column] = _whole(value, 1, 1_000_000, column, problem_at)
        else:
            options[column] = _text(value, column, problem_at)
    return options


def _schema(value: Any, problem_at: ProblemAt) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    path = Path(_text(value, "schema", problem_at))
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        refuse(problem_at("schema", f"cannot read a JSON Schema from {path}: {exc}"))
    if not isinstance(schema, dict):
        refuse(problem_at("schema", f"{path} must hold a JSON object"))
    return schema
