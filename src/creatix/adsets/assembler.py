"""The layout step: composes a variant in every placement once its parts have ended.

It runs in each worker process beside the worker (``background.py``). Every ``poll_interval``
it takes, in one transaction, the variants whose copy job and key-visual job have both ended,
or whose copy job failed (``repository.ready_variants``, rows locked ``SKIP LOCKED`` on
PostgreSQL): a variant whose part failed ends ``failed`` with that part's error (the part
refunded itself), and a key visual no creative will use (its copy failed) is canceled and
refunded in the same transaction; a variant whose parts succeeded is leased to this process
(``composing``, ``LAYOUT_LEASE_SECONDS``). Then, off the event loop, the key visual is composed
per placement (``layout.compose``) with the kit's ``BrandStyle``; each creative gets the
visible mark the catalog's policy gives the set's dialect and the account's plan, the key
visual job's invisible mark, and content credentials naming the key visual as its ingredient,
as the worker's outputs do (``media/finishing.finished_image_bytes``); it is stored under
``ad-sets/{account_id}/{ad_set_id}/``. One transaction, conditional on still holding the lease,
records the creatives and ends the variant, and ends the set when it was its last.

A process that dies while composing leaves the lease to expire: another takes the variant up
again (``MAX_LAYOUT_ATTEMPTS``). What it had stored is named by no row (the creatives are
recorded with the variant's end): the orphan sweeper deletes it (``jobs/sweeper.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass, field
from datetime import timedelta

from PIL.Image import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creatix.adsets import plan, repository
from creatix.adsets.models import AdSetCreativeRow, AdSetRow, AdSetVariantRow
from creatix.brands.schemas import BrandKit
from creatix.brands.service import brand_style
from creatix.catalog.schemas import VisibleMarkStyle
from creatix.jobs import marking
from creatix.jobs.service import JobService
from creatix.jobs.specs import Job
from creatix.jobs.sweeper import AD_SETS_FOLDER
from creatix.kit.backoff import Outage
from creatix.kit.clock import utcnow
from creatix.kit.ids import new_uuid
from creatix.layout import PLACEMENTS as PRESETS
from creatix.layout import (
    AdCopy,
    BrandStyle,
    Placement,
    compose,
    custom_placement,
    missing_glyphs,
)
from creatix.media.finishing import decode_image, finished_image_bytes
from creatix.provenance.credentials import Claims, Ingredient, image_mime_type
from creatix.provenance.service import OutputProvenance
from creatix.provenance.xmp import digital_source_xmp
from creatix.storage.base import ObjectNotFound, Storage

log = logging.getLogger(__name__)

LAYOUT_LEASE_SECONDS = 120.0
MAX_LAYOUT_ATTEMPTS = 3
NEW_SETS_LOOK_SECONDS = 1.0
"""How soon an idle layout step looks for new sets' parts to be woken by (one read)."""
WATCHED = 200
"""Parts watched at once while idle (others are found by the poll)."""
BATCH = 4
"""Variants taken per round."""
ENGINE = "creatix-layout"


@dataclass
class Task:
    """A variant leased to this process for composing."""

    ad_set_id: str
    account_id: str
    index: int
    source: str
    image_model: str
    visual_job_id: str
    visual_key: str
    kit: BrandKit
    placements: list[Placement]
    copy: AdCopy
    legal: str | None
    stored: list[AdSetCreativeRow] = field(default_factory=list)


@dataclass
class Taken:
    """What one round's transaction took: variants to compose, variants it ended (failed),
    and parts it canceled (to tell this process's waiters once it commits)."""

    tasks: list[Task] = field(default_factory=list)
    ended: int = 0
    canceled: list[Job] = field(default_factory=list)


def placement_of(stored: dict[str, object]) -> Placement:
    name = str(stored["name"])
    preset = PRESETS.get(name)
    if preset is not None:
        return preset
    return custom_placement(int(str(stored["width"])), int(str(stored["height"])))


def _failed(variant: AdSetVariantRow, code: str, message: str) -> None:
    variant.status = "failed"
    variant.error_code = code
    variant.error_message = message
    variant.layout_owner = None
    variant.layout_expires_at = None
    variant.finished_at = utcnow()


def end_if_done(session: Session, ad_set_id: str) -> None:
    """End the set once every variant has: completed with any creative, else failed."""
    session.flush()
    open_variants = session.scalar(
        select(func.count())
        .select_from(AdSetVariantRow)
        .where(
            AdSetVariantRow.ad_set_id == ad_set_id,
            AdSetVariantRow.status.in_(("waiting", "composing")),
        )
    )
    if open_variants:
        return
    row = session.get(AdSetRow, ad_set_id)
    if row is None or row.status != "processing":
        return
    done = session.scalar(
        select(func.count())
        .select_from(AdSetVariantRow)
        .where(AdSetVariantRow.ad_set_id == ad_set_id, AdSetVariantRow.status == "done")
    )
    row.status = "completed" if done else "failed"
    row.finished_at = utcnow()


class AdSetAssembler:
    def __init__(
        self,
        jobs: JobService,
        storage: Storage,
        provenance: OutputProvenance | None,
        *,
        poll_interval_seconds: float = 1.0,
    ) -> None:
        self.db = jobs.db
        self.events = jobs.events
        """Wakes the step when a part it waits on ends."""
        self.lifecycle = jobs.lifecycle
        self.catalog = jobs.catalog
        self.storage = storage
        self.provenance = provenance
        self.poll_interval_seconds = poll_interval_seconds
        self.id = f"layout:{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"

    async def run(self) -> None:
        """Compose what is ready until cancelled; through a database outage, back off and log
        one line when it starts and one when it ends (``kit/backoff.Outage``)."""
        outage = Outage("composing ad sets", log, cap=30.0)
        while True:
            try:
                worked = await self.round()
            except Exception as exc:
                await asyncio.sleep(max(self.poll_interval_seconds, outage.failed(exc)))
                continue
            outage.recovered()
            if not worked:
                await self._idle()

    async def _idle(self) -> None:
        """Wait until a part a waiting variant needs ends (``JobEvents.watch``: this process's
        worker, or another's through the listener), or ``poll_interval_seconds``."""
        parts = await self.db.read(lambda session: repository.waiting_parts(session, WATCHED))
        if not parts:  # no set to wait on: look for new ones again soon
            await asyncio.sleep(min(self.poll_interval_seconds, NEW_SETS_LOOK_SECONDS))
            return
        with contextlib.ExitStack() as stack:
            ends = [stack.enter_context(self.events.watch(job_id)) for job_id in parts]
            # A part that ended between the read and the watch would wake no one: look again.
            if await self.db.read(lambda session: repository.any_ready(session, utcnow())):
                return
            await asyncio.wait(
                ends, timeout=self.poll_interval_seconds, return_when=asyncio.FIRST_COMPLETED
            )

    async def round(self) -> int:
        """Take what is ready and compose it; how many variants were taken."""
        if not await self.db.read(lambda session: repository.any_ready(session, utcnow())):
            return 0
        taken = await self.db.write(self._take)
        for job in taken.canceled:
            self.events.job_finished(job)
        await asyncio.gather(*(self.compose(task) for task in taken.tasks))
        return len(taken.tasks) + taken.ended

    def _take(self, session: Session) -> Taken:
        now = utcnow()
        taken = Taken()
        for ready in repository.ready_variants(session, now, BATCH):
            variant, ad_set = ready.variant, ready.ad_set
            task = self._task(session, ready)
            if task is None:
                taken.ended += 1
                taken.canceled.extend(self._cancel_stranded_visual(session, ready))
                end_if_done(session, ad_set.id)
                continue
            variant.status = "composing"
            variant.layout_owner = self.id
            variant.layout_expires_at = now + timedelta(seconds=LAYOUT_LEASE_SECONDS)
            variant.attempts += 1
            variant.headline = task.copy.headline
            variant.body = task.copy.body
            variant.cta = task.copy.cta
            taken.tasks.append(task)
        return taken

    def _cancel_stranded_visual(self, session: Session, ready: repository.Ready) -> list[Job]:
        """A failed variant's key visual that is still queued or running (its copy part
        failed: no creative will use it), canceled and refunded in the transaction that
        fails the variant."""
        if ready.visual_job.status in repository.TERMINAL:
            return []
        job = self.lifecycle.cancel_unfinished_in(
            session, ready.visual_job.id, ready.ad_set.account_id
        )
        return [job] if job is not None else []

    def _task(self, session: Session, ready: repository.Ready) -> Task | None:
        """The variant's layout work, or None when it ended failed here."""
        variant, ad_set = ready.variant, ready.ad_set
        for role, job in (("copy", ready.copy_job), ("key visual", ready.visual_job)):
            if job.status != "succeeded":
                _failed(
                    variant,
                    f"{role.replace(' ', '_')}_{job.status}",
                    f"The {role} job {job.status}: {job.error_message or 'canceled'}; it "
                    "was refunded.",
                )
                return None
        if variant.attempts >= MAX_LAYOUT_ATTEMPTS:
            _failed(variant, "layout_failed", "The layout step did not finish, three times.")
            return None
        kit = BrandKit.model_validate(ad_set.kit)
        try:
            copies = plan.parse_copy(
                ready.copy_job.output_text or "", ad_set.variants, kit.banned_words
            )
        except (ValueError, KeyError, TypeError) as exc:
            _failed(variant, "invalid_copy", f"The copy job's answer cannot be used: {exc}.")
            return None
        key = repository.first_image_key(session, ready.visual_job.id)
        if key is None:
            _failed(variant, "visual_missing", "The key visual job stored no image.")
            return None
        return Task(
            ad_set_id=ad_set.id,
            account_id=ad_set.account_id,
            index=variant.index,
            source=ad_set.source,
            image_model=ad_set.image_model,
            visual_job_id=ready.visual_job.id,
            visual_key=key,
            kit=kit,
            placements=[placement_of(p) for p in ad_set.placements],
            copy=copies[variant.index],
            legal=kit.legal_line,
        )

    async def compose(self, task: Task) -> None:
        started = time.perf_counter()
        try:
            visual_data = await self.storage.get(task.visual_key)
            style = await brand_style(task.kit, self.storage)
        except ObjectNotFound as exc:
            await self._end_failed(
                task, "input_missing", f"A file the variant needs is gone ({exc})."
            )
            return
        texts = (task.copy.headline, task.copy.body, task.copy.cta, task.legal or "")
        missing = missing_glyphs(style.font, " ".join(texts))
        if missing:
            await self._end_failed(
                task,
                "font_missing_glyphs",
                f"The kit's font {task.kit.font_name} has no glyphs for "
                f"{''.join(missing[:20])!r}, which the copy uses; upload a font that has them.",
            )
            return
        visual = await asyncio.to_thread(decode_image, visual_data)
        mark = await marking.account_mark(self.db, self.catalog, task.account_id, task.source)
        payload = self.provenance.payload(task.visual_job_id) if self.provenance else None
        try:
            for position, placement in enumerate(task.placements):
                data, size = await asyncio.to_thread(
                    functools.partial(
                        self._creative,
                        task,
                        visual=visual,
                        visual_data=visual_data,
                        style=style,
                        placement=placement,
                        mark=mark,
                        payload=payload,
                    )
                )
                task.stored.append(await self._stored(task, position, placement, data, size))
        except Exception:
            log.exception("composing a variant failed", extra={"ad_set": task.ad_set_id})
            await self._delete([c.storage_key for c in task.stored])
            await self._end_failed(task, "layout_failed", "The layout step failed.")
            return
        seconds = time.perf_counter() - started
        if not await self.db.write(lambda session: self._record(session, task, seconds)):
            log.warning("lost an ad-set variant's lease", extra={"ad_set": task.ad_set_id})
            await self._delete([c.storage_key for c in task.stored])

    def _creative(
        self,
        task: Task,
        *,
        visual: Image,
        visual_data: bytes,
        style: BrandStyle,
        placement: Placement,
        mark: VisibleMarkStyle | None,
        payload: bytes | None,
    ) -> tuple[bytes, tuple[int, int]]:
        """The creative's finished PNG, and its size (``visual`` is the decoded
        ``visual_data``, shared by the variant's placements: ``compose`` leaves it as it is)."""
        copy = AdCopy(
            headline=task.copy.headline,
            body=task.copy.body if placement.body_chars else "",
            cta=task.copy.cta,
            legal=task.legal,
        )
        image = compose(visual, copy, style, placement).image
        metadata = {"engine": ENGINE, "model": task.image_model, "placement": placement.name}
        xmp = digital_source_xmp(composite=True)
        data = finished_image_bytes(image, "png", metadata, mark=mark, payload=payload, xmp=xmp)
        if self.provenance is None:
            return data, image.size
        claims = Claims(
            title=f"{placement.name}.png",
            model=task.image_model,
            engine=ENGINE,
            composite=True,
            ingredient=Ingredient(visual_data, image_mime_type(visual_data), "key-visual"),
        )
        return self.provenance.signed_image(data, "image/png", claims), image.size

    async def _stored(
        self,
        task: Task,
        position: int,
        placement: Placement,
        data: bytes,
        size: tuple[int, int],
    ) -> AdSetCreativeRow:
        key = (
            f"{AD_SETS_FOLDER}{task.account_id}/{task.ad_set_id}/"
            f"v{task.index}-{placement.name}-{secrets.token_hex(6)}.png"
        )
        await self.storage.put(key, data, "image/png")
        width, height = size
        return AdSetCreativeRow(
            id=new_uuid(),
            ad_set_id=task.ad_set_id,
            account_id=task.account_id,
            variant=task.index,
            position=position,
            placement=placement.name,
            width=width,
            height=height,
            storage_key=key,
            mime_type="image/png",
            size_bytes=len(data),
            checksum="sha256:" + hashlib.sha256(data).hexdigest(),
            created_at=utcnow(),
        )

    def _record(self, session: Session, task: Task, seconds: float) -> bool:
        values: dict[str, object] = {
            "status": "done",
            "layout_owner": None,
            "layout_expires_at": None,
            "layout_seconds": seconds,
            "finished_at": utcnow(),
        }
        if not repository.finish_variant(session, task.ad_set_id, task.index, self.id, values):
            return False
        session.add_all(task.stored)
        end_if_done(session, task.ad_set_id)
        return True

    async def _end_failed(self, task: Task, code: str, message: str) -> None:
        values: dict[str, object] = {
            "status": "failed",
            "layout_owner": None,
            "layout_expires_at": None,
            "error_code": code,
            "error_message": message,
            "finished_at": utcnow(),
        }

        def write(session: Session) -> None:
            if repository.finish_variant(session, task.ad_set_id, task.index, self.id, values):
                end_if_done(session, task.ad_set_id)

        await self.db.write(write)

    async def _delete(self, keys: list[str]) -> None:
        for key in keys:
            try:
                await self.storage.delete(key)
            except Exception:
                log.warning("could not delete a creative", extra={"key": key}, exc_info=True)
