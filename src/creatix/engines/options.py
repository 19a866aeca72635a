"""Reading an engine instance's catalog options (``engines: {name: {type, options}}``): an
unknown name is refused (a typo), values are typed, and what the local-model engines share
(device, dtype names) is here once."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

OptionValue = str | int | float | bool
Options = Mapping[str, OptionValue]

DEVICE_ENV = "CREATIX_DEVICE"
DTYPES = {
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
}
"""The dtype names an option may use, and the torch dtype each means."""


def check_known(options: Options, known: Iterable[str], engine: str) -> None:
    """Refuse options this engine does not take, naming those it does."""
    names = set(known)
    unknown = sorted(set(options) - names)
    if unknown:
        raise ValueError(
            f"unknown {engine} option(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}"
        )


def int_option(options: Options, name: str, default: int) -> int:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{name} must be an integer; got {value!r}")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be an integer; got {value!r}") from None


def float_option(options: Options, name: str, default: float) -> float:
    value = options.get(name, default)
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number; got {value!r}")
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number; got {value!r}") from None


def bool_option(options: Options, name: str, default: bool) -> bool:
    value = options.get(name, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on", "false", "no", "0"):
        return value.lower() in ("true", "yes", "1", "on")
    raise ValueError(f"{name} must be true or false; got {value!r}")


def requested_device(device: str) -> str:
    """The device asked for: the option, else ``CREATIX_DEVICE``, else ``auto``."""
    if device != "auto":
        return device
    return os.environ.get(DEVICE_ENV, "").strip() or "auto"
