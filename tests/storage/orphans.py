"""A layout of stored objects and the rows naming some of them, for the sweeper's tests
over each storage (``test_sweeper.py``, ``test_s3.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from creatix.accounts import service as accounts
from creatix.accounts.schemas import Principal
from creatix.adsets.models import AdSetCreativeRow, AdSetRow
from creatix.catalog.loader import load_catalog
from creatix.engines.registry import EngineRegistry
from creatix.jobs.events import JobEvents
from creatix.jobs.records import QueueSettings
from creatix.jobs.service import JobService
from creatix.jobs.specs import ImageSpec, StoredOutput
from creatix.kit.clock import utcnow
from creatix.kit.db import Database
from creatix.kit.ids import new_id
from creatix.storage.base import Storage
from creatix.uploads.models import UploadRow


def _output(key: str) -> StoredOutput:
    return StoredOutput(
        kind="image", storage_key=key, mime_type="image/png", size_bytes=1, checksum="sha256:0"
    )


async def name_in_rows(
    db: Database, *, assets: list[str], uploads: list[str], creatives: list[str]
) -> None:
    """Rows naming these keys, made as the services make them: a finished job's assets,
    upload rows, and an ad set's creatives."""
    info = await accounts.ensure_account(db, "sweep", "paid", "free")
    principal = Principal(account_id=info.id, account_name=info.name, plan="paid", key_id="k")
    catalog = load_catalog()
    jobs = JobService(
        db, catalog, EngineRegistry.from_catalog(catalog), JobEvents(), QueueSettings()
    )
    spec = ImageSpec(prompt="sweep", width=512, height=512, n=len(assets), seed=1)
    job = await jobs.intake.submit_image(principal, "creatix-flash", spec)
    [claimed] = (await jobs.lifecycle.claim("w")).jobs
    assert claimed.id == job.id
    assert await jobs.lifecycle.complete(job.id, "w", [_output(key) for key in assets], 0.1)

    def add_uploads(session: Session) -> None:
        for path in uploads:
            session.add(
                UploadRow(
                    id=new_id("upl"),
                    account_id=info.id,
                    path=path,
                    mime_type="image/png",
                    size_bytes=1,
                    width=1,
                    height=1,
                    created_at=utcnow(),
                )
            )

    def add_creatives(session: Session) -> None:
        ad_set = AdSetRow(
            id=new_id("set"),
            account_id=info.id,
            brand_kit_id="kit",
            kit={},
            brief={},
            placements=[],
            variants=1,
            image_model="creatix-flash",
            copy_model="creatix-copy",
            copy_job_id=job.id,
            source="platform",
            status="completed",
            created_at=utcnow(),
        )
        session.add(ad_set)
        session.flush()
        for position, key in enumerate(creatives):
            session.add(
                AdSetCreativeRow(
                    id=new_id("cre"),
                    ad_set_id=ad_set.id,
                    account_id=info.id,
                    variant=0,
                    position=position,
                    placement="feed",
                    width=1,
                    height=1,
                    storage_key=key,
                    mime_type="image/png",
                    size_bytes=1,
                    checksum="sha256:0",
                    created_at=utcnow(),
                )
            )

    await db.write(add_uploads)
    await db.write(add_creatives)


@dataclass(frozen=True)
class Layout:
    named_by_asset: list[str]
    named_by_upload: list[str]
    named_by_creative: list[str]
    old_orphans: list[str]
    young_orphans: list[str]
    outside_output_folders: list[str]

    @property
    def survivors(self) -> list[str]:
        return sorted(
            self.named_by_asset
            + self.named_by_upload
            + self.named_by_creative
            + self.young_orphans
            + self.outside_output_folders
        )


LAYOUT = Layout(
    named_by_asset=[
        "images/acct/job_a/one.png",
        "videos/acct/job_v/v.mp4",
        "videos/acct/job_v/v.jpg",
    ],
    # Uploads live under uploads/; one named under images/ proves upload rows are checked.
    named_by_upload=["images/acct/upl_odd.png"],
    named_by_creative=["ad-sets/acct/set_a/v0-feed-1.png", "ad-sets/acct/set_a/v0-story-2.png"],
    old_orphans=[f"images/acct/job_{i}/lost.png" for i in range(5)]
    + ["videos/acct/job_x/lost.mp4", "videos/acct/job_x/lost.jpg"]
    # An ad set's creative stored by a layout step that died before recording it.
    + ["ad-sets/acct/set_a/v1-feed-3.png"],
    young_orphans=["images/acct/job_new/fresh.png"],
    outside_output_folders=["uploads/acct/upl_1.png", "exports/acct/report.csv"],
)


async def stored_layout(storage: Storage, layout: Layout = LAYOUT) -> None:
    for key in layout.survivors + layout.old_orphans:
        await storage.put(key, b"bytes of " + key.encode(), "application/octet-stream")
