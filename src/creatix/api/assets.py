"""How every dialect hands out a stored output: a signed URL, or the bytes in base64."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable

from fastapi import Request

from creatix.jobs.specs import Asset
from creatix.runtime import Runtime

log = logging.getLogger(__name__)


def file_url(runtime: Runtime, key: str, request: Request) -> str:
    """A signed, absolute link to a stored file, based on the URL the request came in on."""
    url = runtime.storage.url(key, runtime.settings.file_url_ttl_seconds)
    if url.startswith("/"):
        base = runtime.settings.public_url or str(request.base_url)
        return base.rstrip("/") + url
    return url


def asset_url(runtime: Runtime, asset: Asset, request: Request) -> str:
    return file_url(runtime, asset.storage_key, request)


async def asset_b64(runtime: Runtime, asset: Asset) -> str:
    return base64.b64encode(await runtime.storage.get(asset.storage_key)).decode()


def engine_header(runtime: Runtime, engine_instance: str) -> dict[str, str]:
    return {"X-Creatix-Engine": runtime.engines.status(engine_instance).type}


async def delete_files(runtime: Runtime, assets: Iterable[Asset]) -> None:
    """Remove a deleted job's stored files (``JobService.delete`` dropped their records)."""
    for asset in assets:
        try:
            await runtime.storage.delete(asset.storage_key)
        except Exception:
            # The record is gone already; a file left behind is logged, not the caller's error.
            log.exception("could not delete a stored file", extra={"key": asset.storage_key})
