"""What marks a job's outputs carry: the catalog's visible-mark policy, decided per job from
its account's plan and the dialect that created it (``Job.source``)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from creatix.accounts.models import Account
from creatix.catalog.schemas import Catalog, VisibleMarkStyle
from creatix.jobs.specs import Job
from creatix.kit.db import Database

AD_SET_PART = "ad_set_part"
"""The source of an ad set's parts (its copy and key-visual jobs): their outputs are
intermediate, unmarked; the layout step marks the composed creatives as the set's dialect's."""


def visible_mark(session: Session, catalog: Catalog, job: Job) -> VisibleMarkStyle | None:
    """The visible mark ``job``'s images and video frames carry, or None for clean outputs.
    The account's plan is read now: a plan changed while the job was queued applies."""
    if job.source == AD_SET_PART:
        return None
    return _mark_for(session, catalog, job.account_id, job.source)


async def account_mark(
    db: Database, catalog: Catalog, account_id: str, source: str
) -> VisibleMarkStyle | None:
    """The visible mark outputs made for ``account_id`` through ``source`` carry now."""
    return await db.read(lambda session: _mark_for(session, catalog, account_id, source))


def _mark_for(
    session: Session, catalog: Catalog, account_id: str, source: str
) -> VisibleMarkStyle | None:
    account = session.get(Account, account_id)
    plan = account.plan if account is not None else None
    return catalog.visible_marks.for_output(plan or catalog.default_plan, source)
