"""Provider type → provider class, for the registry."""

from __future__ import annotations

from collections.abc import Callable

from creatix.engines.upstream.engine import ImageProvider
from creatix.engines.upstream.fal import FalProvider
from creatix.engines.upstream.gemini import GeminiProvider
from creatix.engines.upstream.http import ProviderAccess
from creatix.engines.upstream.openai import OpenAIProvider
from creatix.engines.upstream.options import UpstreamOptions
from creatix.engines.upstream.replicate import ReplicateProvider

PROVIDERS: dict[str, Callable[[UpstreamOptions, ProviderAccess], ImageProvider]] = {
    "openai": OpenAIProvider,
    "fal": FalProvider,
    "replicate": ReplicateProvider,
    "gemini": GeminiProvider,
}
