"""Upstream providers as engines: OpenAI (and OpenAI-compatible servers), fal, Replicate,
Gemini. See ``engine.py`` for the engine, ``http.py`` for retries and error mapping."""

from creatix.engines.upstream.engine import ImageProvider, ImageRequest, UpstreamEngine
from creatix.engines.upstream.errors import ProviderFailed, ProviderOutage, ProviderRejected
from creatix.engines.upstream.http import ProviderAccess, ProviderHttp, RetryPolicy
from creatix.engines.upstream.options import UpstreamOptions

__all__ = [
    "ImageProvider",
    "ImageRequest",
    "ProviderAccess",
    "ProviderFailed",
    "ProviderHttp",
    "ProviderOutage",
    "ProviderRejected",
    "RetryPolicy",
    "UpstreamEngine",
    "UpstreamOptions",
]
