"""The sweeper of orphaned outputs: stored files that no row names.

A worker stores a job's outputs, then records them (``JobLifecycle.complete``), and deletes
them itself when the database refuses them (the lease was lost). What it cannot clean up is
left by a crash between storing and recording, or by a completion whose outcome it never
learned (the database stayed unreachable until well past its lease). So every worker process
also sweeps, every ``orphan_sweep_interval_seconds`` (``BackgroundWork``): it pages through
the folders job outputs are stored in (``OUTPUT_FOLDERS``), and deletes each object last
written more than ``orphan_grace_seconds`` ago that no asset, upload or ad-set creative row
names.

- Only the output folders are swept, the ad-set assembler's creatives (``ad-sets/``, stored
  before the transaction that records them) among them: uploads (``uploads/``) are stored
  before their row is written and removed by their own service when the row is not; nothing
  else lives in the output folders.
- The grace period must outlast the longest a worker takes from storing an output to
  recording it: the upload of a large video (S3 dates a multipart upload from its start)
  plus a completion retried while its lease holds (``worker/recording.MAX_RECORDING_SECONDS``
  at most). Settings refuse less than ten minutes; the default is an hour.
- Bounded: one page of keys (``LIST_PAGE_SIZE``) is in memory at a time, checked against
  the database in one query.
- Safe to run in every process at once: each page is checked against the rows as they are
  then, and deleting an object that another sweeper deleted first is a no-op. A jittered
  start and interval keep a cluster's sweeps from running in step.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from creatix.adsets.models import AdSetCreativeRow
from creatix.jobs.models import AssetRow
from creatix.kit.backoff import Outage
from creatix.kit.clock import utcnow
from creatix.kit.db import Database
from creatix.storage.base import LIST_PAGE_SIZE, Storage
from creatix.uploads.models import UploadRow

log = logging.getLogger(__name__)

IMAGES_FOLDER = "images/"
VIDEOS_FOLDER = "videos/"
AD_SETS_FOLDER = "ad-sets/"
OUTPUT_FOLDERS = (IMAGES_FOLDER, VIDEOS_FOLDER, AD_SETS_FOLDER)
"""Where the worker stores job outputs (``{folder}{account}/{job}/{random}.{ext}``) and the
ad-set assembler its creatives (``ad-sets/{account}/{set}/v{variant}-{placement}-{random}.png``)."""


@dataclass(frozen=True)
class Sweep:
    """What one sweep saw and did."""

    listed: int
    old: int
    deleted: int


def named_keys(session: Session, keys: list[str]) -> set[str]:
    """Those of ``keys`` that a row names: an asset's file, an upload's, or an ad-set
    creative's.

    The one query outside a room's repository: it reads three rooms' tables (jobs' assets,
    uploads, ad-set creatives) for the one question the sweeper asks."""
    assets = select(AssetRow.storage_key.label("key")).where(AssetRow.storage_key.in_(keys))
    uploads = select(UploadRow.path.label("key")).where(UploadRow.path.in_(keys))
    creatives = select(AdSetCreativeRow.storage_key.label("key")).where(
        AdSetCreativeRow.storage_key.in_(keys)
    )
    return set(session.execute(union(assets, uploads, creatives)).scalars())


class OrphanSweeper:
    def __init__(
        self,
        db: Database,
        storage: Storage,
        *,
        grace_seconds: float,
        interval_seconds: float,
        page_size: int = LIST_PAGE_SIZE,
    ) -> None:
        self.db = db
        self.storage = storage
        self.grace = timedelta(seconds=grace_seconds)
        self.interval_seconds = interval_seconds
        self.page_size = page_size
        self.outage = Outage("sweeping orphaned outputs", log)

    async def sweep(self, now: datetime | None = None) -> Sweep:
        """One pass over the output folders: delete what is older than the grace period
        (at ``now``, default the present) and named by no row."""
        cutoff = (now or utcnow()) - self.grace
        listed = old = deleted = 0
        for folder in OUTPUT_FOLDERS:
            async for page in self.storage.list_objects(folder, self.page_size):
                listed += len(page)
                candidates = [item.key for item in page if item.modified < cutoff]
                old += len(candidates)
                deleted += await self._delete_unnamed(candidates)
        if deleted:
            log.info(
                "deleted orphaned outputs",
                extra={"deleted": deleted, "listed": listed, "old": old},
            )
        return Sweep(listed=listed, old=old, deleted=deleted)

    async def _delete_unnamed(self, keys: list[str]) -> int:
        if not keys:
            return 0
        named = await self.db.read(lambda session: named_keys(session, keys))
        orphans = [key for key in keys if key not in named]
        for key in orphans:
            await self.storage.delete(key)
        return len(orphans)

    async def run(self) -> None:
        """Sweep every ``interval_seconds`` (jittered) until cancelled, the first time at a
        random point of the first interval; a failed sweep is retried with backoff."""
        await asyncio.sleep(random.uniform(0, self.interval_seconds))
        while True:
            try:
                await self.sweep()
            except Exception as exc:  # the database or the bucket is unavailable
                await asyncio.sleep(self.outage.failed(exc))
                continue
            self.outage.recovered()
            await asyncio.sleep(self.interval_seconds * random.uniform(0.9, 1.1))
