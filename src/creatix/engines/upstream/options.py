"""An upstream engine instance's options, from its catalog entry; its credential, from settings.

``engines: {fal: {type: fal, options: {...}}}`` takes:

``base_url``
    The provider's API root; default the setting (``CREATIX_FAL_BASE_URL``, ...), else the
    provider's public URL. An ``openai`` engine pointed at LocalAI, vLLM, Ollama or a
    llama.cpp server is how any OpenAI-compatible server is used.
``api_key_env``
    The environment variable holding this instance's key, for a second account or an
    OpenAI-compatible server with a key of its own; default the setting
    (``CREATIX_OPENAI_API_KEY``, ``CREATIX_FAL_KEY``, ``CREATIX_REPLICATE_API_TOKEN``,
    ``CREATIX_GEMINI_API_KEY``), which is only sent to the setting's URL: an instance with a
    ``base_url`` option has no key unless ``api_key_env`` names one. Keys never live in
    catalog files.
``requires_key``
    Whether the instance is unavailable without a key (default true; a local
    OpenAI-compatible server usually wants none).
``timeout_seconds``, ``attempts``, ``retry_base_delay``, ``retry_max_delay``
    Per HTTP call: its timeout, how many tries, and the full-jitter backoff between them.
``poll_interval_seconds``, ``max_wait_seconds``
    Queue-style providers (fal, Replicate): how often a job is polled, and how long it may
    take before it is canceled upstream and counted as an outage.
``concurrency``
    How many jobs of this engine one worker runs at once (provider calls are mostly waiting).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from creatix.engines.options import OptionValue, check_known
from creatix.engines.upstream.http import ProviderAccess, RetryPolicy


@dataclass(frozen=True)
class UpstreamOptions:
    base_url: str = ""
    api_key_env: str = ""
    requires_key: bool = True
    timeout_seconds: float = 60.0
    attempts: int = 4
    retry_base_delay: float = 0.5
    retry_max_delay: float = 8.0
    poll_interval_seconds: float = 1.0
    max_wait_seconds: float = 600.0
    concurrency: int = 16

    def __post_init__(self) -> None:
        for name in ("timeout_seconds", "poll_interval_seconds", "max_wait_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.attempts < 1 or self.concurrency < 1:
            raise ValueError("attempts and concurrency must be at least 1")
        if self.retry_base_delay < 0 or self.retry_max_delay < 0:
            raise ValueError("retry delays must not be negative")

    @classmethod
    def parse(cls, options: Mapping[str, OptionValue]) -> UpstreamOptions:
        check_known(options, cls.__dataclass_fields__, "upstream")
        values: dict[str, OptionValue] = {}
        for name, value in options.items():
            default = cls.__dataclass_fields__[name].default
            values[name] = _typed(name, value, default)
        return cls(**values)  # type: ignore[arg-type]

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            attempts=self.attempts,
            base_delay=self.retry_base_delay,
            max_delay=self.retry_max_delay,
        )

    def access(self, configured: ProviderAccess) -> ProviderAccess:
        """The settings' access to this provider, with this instance's overrides. The
        settings' key goes only to the settings' URL: an instance with a ``base_url`` of its
        own (a local OpenAI-compatible server, say) has only the key its ``api_key_env``
        names."""
        if self.api_key_env:
            key = os.environ.get(self.api_key_env)
        else:
            key = None if self.base_url else configured.api_key
        return ProviderAccess(base_url=self.base_url or configured.base_url, api_key=key or None)


def _typed(name: str, value: OptionValue, default: object) -> OptionValue:
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise ValueError(f"{name} must be true or false; got {value!r}")
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be an integer; got {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name} must be a number; got {value!r}")
        return float(value)
    return str(value)
