"""Uploads: input images an account stores, from its own bytes or from a URL.

What a file is gets decided by decoding it (``images.inspect_image``), never by its name or
the type the client declared: a PNG sent as ``image/jpeg`` is stored as the PNG it is. The
original bytes are stored unchanged under ``uploads/{account_id}/{upload_id}.{ext}``, then the
row is inserted; a file is only ever left in storage with its row.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.orm import Session

from creatix.kit.clock import utcnow
from creatix.kit.db import Database
from creatix.kit.errors import InvalidRequest
from creatix.kit.ids import new_id
from creatix.storage.base import Storage
from creatix.uploads import repository
from creatix.uploads.errors import too_large
from creatix.uploads.fetch import fetch_image
from creatix.uploads.images import inspect_image
from creatix.uploads.models import UploadRow
from creatix.uploads.schemas import Upload

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 10 * 1024 * 1024


async def store_upload(
    db: Database,
    storage: Storage,
    account_id: str,
    data: bytes,
    *,
    declared_type: str | None,
    param: str = "file",
) -> Upload:
    """Check ``data`` is a whole PNG, JPEG or WebP image within the limits, store it and
    record it. Any refusal is an ``InvalidRequest`` naming ``param``, and stores nothing."""
    if not data:
        raise InvalidRequest("The image is empty.", code="empty_file", param=param)
    if len(data) > MAX_UPLOAD_BYTES:
        raise too_large(param, MAX_UPLOAD_BYTES)
    info = await asyncio.to_thread(inspect_image, data, param=param)
    if declared_type is not None and declared_type.split(";")[0].strip() != info.mime_type:
        log.info(
            "upload declared another type",
            extra={"declared": declared_type, "decoded": info.mime_type},
        )
    upload_id = new_id("upl")
    upload = Upload(
        id=upload_id,
        path=f"uploads/{account_id}/{upload_id}.{info.extension}",
        mime_type=info.mime_type,
        size_bytes=len(data),
        width=info.width,
        height=info.height,
        created_at=utcnow(),
    )

    def record(session: Session) -> None:
        repository.add(session, UploadRow(account_id=account_id, **upload.model_dump()))

    await storage.put(upload.path, data, upload.mime_type)
    try:
        await db.write(record)
    except BaseException:
        await storage.delete(upload.path)
        raise
    return upload


async def import_url(
    db: Database,
    storage: Storage,
    account_id: str,
    url: str,
    *,
    allow_private: bool,
    param: str,
) -> Upload:
    """Download the image at ``url`` (an http(s) URL that must pass the SSRF guard unless
    ``allow_private``) and store it as an upload; refusals name ``param``."""
    fetched = await fetch_image(
        url, allow_private=allow_private, param=param, max_bytes=MAX_UPLOAD_BYTES
    )
    return await store_upload(
        db, storage, account_id, fetched.data, declared_type=fetched.content_type, param=param
    )
