"""Webhook bodies are the dialects' business: each registers how it renders a finished job.

A job records the dialect that created it (``Job.source``); at delivery time the webhooks room
asks that dialect's renderer for the body, so links in it are freshly signed even on a retry
hours later. This room never imports a dialect: dialects register themselves here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from creatix.jobs.specs import Asset, Job

UrlFor = Callable[[Asset], str]
"""A signed, absolute link to an asset, made outside any request."""

PayloadRenderer = Callable[[Job, UrlFor], dict[str, Any]]

_renderers: dict[str, PayloadRenderer] = {}


def register(source: str, renderer: PayloadRenderer) -> None:
    _renderers[source] = renderer


def render(job: Job, url_for: UrlFor) -> dict[str, Any]:
    """The body the job's dialect sends; a neutral one if the dialect registered none."""
    renderer = _renderers.get(job.source)
    if renderer is not None:
        return renderer(job, url_for)
    return {
        "id": job.id,
        "status": job.status,
        "error": job.error.model_dump() if job.error else None,
        "assets": [{"id": asset.id, "url": url_for(asset)} for asset in job.assets],
    }
