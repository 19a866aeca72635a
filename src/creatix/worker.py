"""The worker: claim a batch, run the engine, watermark and encode, store, complete.

Leases are extended by a heartbeat while the engine runs; a worker that dies stops
heartbeating and its jobs go back to the queue when their leases expire.

The database may go away at any moment (a restart, a failover). Every loop here (claiming,
heartbeats, requeueing, progress) then backs off and logs one line when it fails and one
when it recovers. Recording a job's end (complete, fail) is retried with backoff while the
lease is known to be held, so an engine's finished work survives a blip; when the lease is
lost, what was stored for the job is deleted. An attempt whose outcome is unknown (the
connection died around its commit) may have recorded the outputs, so the worker asks which
before deleting anything, and leaves them to the orphan sweeper (``jobs/sweeper.py``) when
the database does not answer in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import io
import logging
import os
import secrets
import socket
import tempfile
import time
from collections.abc import Awaitable, Callable, Collection, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from PIL import Image as PILImage
from PIL.Image import Image
from sqlalchemy.orm import Session

from creatix.catalog.schemas import Route, VisibleMarkStyle
from creatix.engines.base import EngineError, ProgressCallback, VideoOutput
from creatix.engines.registry import ResolvedRoute
from creatix.jobs import health, marking, structured
from creatix.jobs.progress import ProgressReporter
from creatix.jobs.records import THUMBNAIL
from creatix.jobs.service import JobService
from creatix.jobs.specs import (
    FILE_EXTENSIONS,
    MIME_TYPES,
    Job,
    JobError,
    JobKind,
    OutputFormat,
    StoredOutput,
    TextResult,
)
from creatix.jobs.sweeper import IMAGES_FOLDER, VIDEOS_FOLDER
from creatix.kit.backoff import Outage, backoff_delay, is_transient
from creatix.kit.clock import utcnow
from creatix.kit.errors import NotFound
from creatix.kit.logging import request_id_var
from creatix.media.encoding import encode
from creatix.media.video import FrameMarks, mark_video, sampled_frames
from creatix.media.watermark import DEFAULT_STYLE, mark_in_place
from creatix.policy.service import ModerationOutage, Refusal, Subject
from creatix.provenance import repository as provenance_repository
from creatix.provenance.credentials import Claims, Ingredient, image_mime_type
from creatix.provenance.mark import VideoMark
from creatix.provenance.service import OutputProvenance, embed_in_place
from creatix.provenance.xmp import digital_source_xmp
from creatix.storage.base import ObjectNotFound, Storage

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_BACKOFF_SECONDS = 30.0
RECORDING_BACKOFF = (0.25, 5.0)
"""Base and cap of the backoff between attempts to record a job's end."""
MAX_RECORDING_SECONDS = 300.0
"""The longest a worker tries to record one job's end, however long heartbeats keep its
lease: well under the orphan sweeper's grace period (ten minutes at least)."""
CLEANUP_WINDOW_SECONDS = 60.0
MAX_CLAIM_BATCHES = 8
"""The most batches one claim leases (as many as the pool has free slots)."""
CONTENT_FILTERED = "content_filtered"
"""A job whose every output the content policy refused (refunded in full)."""
VIDEO_CHECK_FRAMES = 4
"""How many frames, spread over a video, the content policy checks of it."""
MODERATION_DOWN = JobError(
    code="moderation_unavailable",
    message="The content policy's moderation engine is unavailable; the job is retried.",
)
"""After a batch's lease ran out with a job's outcome unknown: how long the worker keeps
asking whether its outputs were recorded, to delete them if not, before leaving them to
the orphan sweeper."""


class _OutOfTime(Exception):
    """The database stayed unavailable until the deadline of what was being recorded."""


class _Lease:
    """Until when this worker may assume it holds a batch's leases: the last expiry it knows
    of, on its own monotonic clock, counted from just before the claim or heartbeat that set
    it (so never later than the expiry the database holds)."""

    def __init__(self, seconds: float, granted_at: float) -> None:
        self.seconds = seconds
        self.expires = granted_at + seconds

    def renewed(self, asked_at: float) -> None:
        self.expires = max(self.expires, asked_at + self.seconds)


def decode_image(data: bytes) -> Image:
    """An input image as RGB, or RGBA where it has transparency for the engine to respect."""
    with PILImage.open(io.BytesIO(data)) as image:
        transparent = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        return image.convert("RGBA" if transparent else "RGB")


def finished_image_bytes(
    image: Image,
    fmt: OutputFormat,
    metadata: dict[str, str],
    *,
    mark: VisibleMarkStyle | None = DEFAULT_STYLE,
    payload: bytes | None = None,
    xmp: bytes | None = None,
) -> bytes:
    """What every generated image goes through before it is stored: the visible ``mark``
    the catalog's policy gives it (None: none), the invisible mark carrying ``payload``
    (where the image is large enough to hold it), then encoding (with the ``xmp`` packet
    in the file's metadata, when given). The engine's image is the
    worker's alone: it is marked where it is, not copied (an 8K image is 200 MB)."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    if mark is not None:
        mark_in_place(rgb, mark)
    if payload is not None:
        embed_in_place(rgb, payload)
    return encode(rgb, fmt, metadata, xmp)


class SlotPools:
    """Free processing slots. An engine that declares its own ``concurrency`` (an upstream
    provider, mostly waiting on the network) has a pool of that many; the others share one
    of the worker's ``concurrency``."""

    SHARED = ""

    def __init__(self, shared: int, own: Mapping[str, int]) -> None:
        self._free = {self.SHARED: shared, **own}
        self._freed = asyncio.Event()

    def pool(self, engine: str) -> str:
        return engine if engine in self._free else self.SHARED

    def try_take(self, engine: str) -> bool:
        pool = self.pool(engine)
        if self._free[pool] == 0:
            return False
        self._free[pool] -= 1
        return True

    def release(self, engine: str) -> None:
        self._free[self.pool(engine)] += 1
        self._freed.set()

    def take_up_to(self, pool: str, count: int) -> int:
        """Up to ``count`` more slots of ``pool``; how many were free."""
        taken = min(count, self._free[pool])
        self._free[pool] -= taken
        return taken

    def take_one_of_each(self) -> set[str]:
        """One slot from every pool that has one free; the pools."""
        pools = {pool for pool, free in self._free.items() if free}
        for pool in pools:
            self._free[pool] -= 1
        return pools

    async def wait_freed(self) -> None:
        self._freed.clear()
        await self._freed.wait()


class Worker:
    def __init__(
        self,
        jobs: JobService,
        storage: Storage,
        *,
        concurrency: int = 2,
        lease_seconds: float = 30.0,
        poll_interval_seconds: float = 1.0,
        models: Collection[str] | None = None,
        provenance: OutputProvenance | None = None,
    ) -> None:
        self.jobs = jobs
        self.provenance = provenance
        """Who this worker's invisible marks name (None: outputs carry none)."""
        self.storage = storage
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.poll_interval_seconds = poll_interval_seconds
        self.models = frozenset(models) if models is not None else None
        """Only jobs of these catalog models are claimed (all when None)."""
        self.id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._engines = set(jobs.engines.max_batch_by_engine())
        self._slots = SlotPools(concurrency, jobs.engines.concurrency_by_engine())
        self._inflight: dict[asyncio.Task[None], list[str]] = {}
        self._claimer: asyncio.Task[None] | None = None
        self.outages = {
            name: Outage(what, log, cap=MAX_BACKOFF_SECONDS)
            for name, what in (
                ("claim", "claiming jobs"),
                ("heartbeat", "renewing leases"),
                ("requeue", "requeueing expired leases"),
                ("progress", "recording progress"),
                ("record", "recording job results"),
            )
        }
        """Each loop's view of the database, shared by the batches: one log line per
        change of state, however many batches or rounds fail."""

    async def run(self) -> None:
        """Work until cancelled (or drained): claimed batches and directly handed jobs share
        the slots. Batches still running when it is cancelled are abandoned: their leases
        expire and other workers take them up."""
        log.info("worker started", extra={"worker": self.id, "concurrency": self.concurrency})
        requeuer = asyncio.create_task(self._requeue_loop())
        self._claimer = asyncio.create_task(self._claim_loop())
        if self.models is None:
            self.jobs.intake.attach_direct(self)
        try:
            await asyncio.wait({self._claimer})  # returns when the claimer ends (a drain)
            if not self._claimer.cancelled():
                self._claimer.result()  # the claim loop only ends by an error: raise it
            await asyncio.Event().wait()  # drained: the requeue loop goes on until cancelled
        finally:
            self.jobs.intake.detach_direct(self)
            for task in (requeuer, self._claimer, *self._inflight):
                task.cancel()
            await asyncio.gather(requeuer, *self._inflight, return_exceptions=True)

    async def drain(self, grace_seconds: float) -> None:
        """Stop taking work, let running batches finish for up to ``grace_seconds``, and give
        the jobs of those that did not back to the queue (no attempt spent)."""
        self.jobs.intake.detach_direct(self)
        if self._claimer is not None:
            self._claimer.cancel()
        running = set(self._inflight)
        if running:
            _, running = await asyncio.wait(running, timeout=grace_seconds)
        held = [job_id for task in running for job_id in self._inflight.get(task, [])]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        released = await self.jobs.lifecycle.release(held, self.id) if held else []
        log.info("worker drained", extra={"worker": self.id, "released": released})

    async def _claim_loop(self) -> None:
        outage = self.outages["claim"]
        while True:
            pools = self._slots.take_one_of_each()
            if not pools:
                await self._slots.wait_freed()
                continue
            engines = [engine for engine in self._engines if self._slots.pool(engine) in pools]
            # With one pool in play, every batch a claim returns is that pool's: take more of
            # its free slots and lease as many batches in the same statement.
            extra: list[str] = []
            if len(pools) == 1:
                [only] = pools
                extra = [only] * self._slots.take_up_to(only, MAX_CLAIM_BATCHES - 1)
            asked = time.monotonic()
            try:
                claim = await self.jobs.lifecycle.claim(
                    self.id, engines, self.models, batches=1 + len(extra)
                )
            except BaseException as exc:  # cancelled mid-claim too: the slots are not used
                for pool in [*pools, *extra]:
                    self._slots.release(pool)
                if not isinstance(exc, Exception):
                    raise
                await asyncio.sleep(outage.failed(exc))
                continue
            outage.recovered()
            used = self._slots.pool(claim.jobs[0].engine) if claim.jobs else None
            for pool in [*(pools - {used}), *extra[max(0, len(claim.batches) - 1) :]]:
                self._slots.release(pool)
            for batch in claim.batches:
                self._start(batch, asked)
            if not claim.more_queued:
                await self.jobs.events.wait_for_work(self.poll_interval_seconds)

    # DirectDispatch: the job core hands over a job it has already leased to this worker.

    def try_reserve(self, engine: str) -> bool:
        return engine in self._engines and self._slots.try_take(engine)

    def release(self, engine: str) -> None:
        self._slots.release(engine)

    def deliver(self, job: Job) -> None:
        # The lease was set moments ago, in the transaction that just committed the job.
        self._start([job], time.monotonic())

    def _start(self, batch: Sequence[Job], leased_at: float) -> None:
        """Process a batch in the slot already taken for it; its leases were set no earlier
        than ``leased_at`` (monotonic)."""
        task = asyncio.create_task(self._process_in_slot(batch, leased_at))
        self._inflight[task] = [job.id for job in batch]
        task.add_done_callback(self._inflight.pop)

    async def _requeue_loop(self) -> None:
        outage = self.outages["requeue"]
        interval = max(0.2, self.lease_seconds / 2)
        presence = health.WorkerPresence(
            self.id,
            socket.gethostname(),
            sorted(self.models) if self.models is not None else None,
            self.concurrency,
            utcnow(),
        )
        while True:
            try:
                await health.record_presence(self.jobs.db, presence)
                await self.jobs.lifecycle.requeue_expired()
            except Exception as exc:
                await asyncio.sleep(max(interval, outage.failed(exc)))
                continue
            outage.recovered()
            await asyncio.sleep(interval)

    async def _process_in_slot(self, batch: Sequence[Job], leased_at: float) -> None:
        # Everything logged for this batch (engine and provider calls included) carries the
        # request ids of the requests that submitted its jobs.
        request_id_var.set(",".join(sorted({j.request_id for j in batch if j.request_id})) or None)
        try:
            log.info(
                "processing jobs",
                extra={"jobs": [j.id for j in batch], "model": batch[0].model, "worker": self.id},
            )
            await self.process(batch, leased_at)
        except Exception:
            # The batch's leases expire and its jobs are retried; this worker goes on.
            log.exception("processing a batch failed", extra={"jobs": [j.id for j in batch]})
        finally:
            self._slots.release(batch[0].engine)

    async def process(self, batch: Sequence[Job], leased_at: float | None = None) -> None:
        """Run a batch leased to this worker (no earlier than ``leased_at``, monotonic;
        default now) to its end."""
        job_ids = [job.id for job in batch]
        progress = ProgressReporter(
            self.jobs.lifecycle, job_ids, self.id, outage=self.outages["progress"]
        )
        lease = _Lease(self.lease_seconds, time.monotonic() if leased_at is None else leased_at)
        lost = asyncio.Event()
        helpers = [
            asyncio.create_task(self._heartbeat(job_ids, lost, lease)),
            asyncio.create_task(progress.run()),
        ]
        try:
            await self._run_batch(batch, _Running(progress, lost, lease))
        finally:
            for helper in helpers:
                helper.cancel()
            for helper in helpers:
                with contextlib.suppress(asyncio.CancelledError):
                    await helper

    async def _heartbeat(self, job_ids: list[str], lost: asyncio.Event, lease: _Lease) -> None:
        """Extend the batch's leases until cancelled, moving ``lease`` on; set ``lost`` once
        none is held any more (the jobs were canceled, or their leases expired and went to
        another worker). While the database is unavailable, retry sooner than every third
        of the lease (backing off up to that), to renew as soon as it is back."""
        outage = self.outages["heartbeat"]
        every = self.lease_seconds / 3
        delay = every
        while True:
            await asyncio.sleep(delay)
            asked = time.monotonic()
            try:
                held = await self.jobs.lifecycle.heartbeat(job_ids, self.id)
            except Exception as exc:
                delay = min(every, outage.failed(exc))
                continue
            outage.recovered()
            delay = every
            if held:
                lease.renewed(asked)
            else:
                lost.set()

    async def _run_batch(self, batch: Sequence[Job], running: _Running) -> None:
        if batch[0].kind is JobKind.TEXT:
            await self._run_text(batch[0], running)
            return
        if batch[0].kind is JobKind.VIDEO:
            await self._run_video(batch[0], running)
            return
        try:
            input_images = await self._input_images(batch)
        except ObjectNotFound as exc:
            error = JobError(code="input_image_missing", message="The input image is gone.")
            await self._fail_all(batch, running, error, False, 0.0)
            log.warning("input image missing", extra={"key": str(exc)})
            return
        specs = [job.image_spec for job in batch]

        async def draw(route: ResolvedRoute) -> Sequence[Sequence[Image]]:
            return await route.image_engine.generate(
                route.engine_model, specs, input_images, running.progress, route.params
            )

        # Marks are decided before the engine runs, so that after it only recording the
        # job's end touches the database (and is retried through an outage).
        marks = await self._marks(batch, running)
        made = await self._on_routes(batch, running, draw)
        if made is None:
            return
        outputs, route, engine_seconds = made
        for job, images in zip(batch, outputs, strict=True):
            await self._finish(job, images, engine_seconds, route, running, marks=marks[job.id])

    async def _run_text(self, job: Job, running: _Running) -> None:
        spec = job.text_spec

        async def answer(route: ResolvedRoute) -> TextResult:
            engine = route.text_engine
            return await structured.conforming_answer(
                engine, route.engine_model, spec, route.params
            )

        made = await self._on_routes([job], running, answer)
        if made is None:
            return
        result, route, engine_seconds = made
        subject = Subject(job.account_id, job.source, job_id=job.id)
        try:
            refusal, _ = await self._retrying(
                lambda: self.jobs.policy.check_copy(subject, result.text),
                self._recording_deadline(running.lease),
            )
        except _OutOfTime:
            log.warning("could not check a text job's answer in time", extra={"job": job.id})
            return
        except ModerationOutage:
            await self._fail_all([job], running, MODERATION_DOWN, True, engine_seconds)
            return
        if refusal is not None:
            error = JobError(
                code=CONTENT_FILTERED,
                message="The content policy refused the answer "
                f"(category: {refusal.category}); nothing was charged.",
            )
            await self._fail_all([job], running, error, False, engine_seconds)
            return
        engine = route.instance if route.instance != job.engine else None
        deadline = self._recording_deadline(running.lease)
        try:
            done, _ = await self._retrying(
                lambda: self.jobs.lifecycle.complete_text(
                    job.id, self.id, result, engine_seconds, engine
                ),
                deadline,
            )
        except _OutOfTime:
            log.warning("could not record a text job's answer in time", extra={"job": job.id})
            return
        if not done:
            log.warning("lost the lease before completing", extra={"job": job.id})

    async def _run_video(self, job: Job, running: _Running) -> None:
        spec = job.video_spec
        try:
            source = await self._load_image(spec.source_image)
        except ObjectNotFound:
            error = JobError(code="input_image_missing", message="The source image is gone.")
            await self._fail_all([job], running, error, False, 0.0)
            return
        assert source is not None
        with tempfile.TemporaryDirectory(prefix="creatix-video-") as workdir:
            marker = self._frame_marks(*(await self._marks([job], running))[job.id])

            async def animate(route: ResolvedRoute) -> VideoOutput:
                return await route.video_engine.generate_video(
                    route.engine_model,
                    spec,
                    source,
                    Path(workdir),
                    progress=running.progress,
                    params=route.params,
                    marker=marker,
                )

            made = await self._on_routes([job], running, animate)
            if made is None:
                return
            video, route, engine_seconds = made
            if not await self._video_passes(job, video, running, engine_seconds):
                return
            video = await self._marked_video(video, marker)
            video = await self._signed_video(job, video, route)
            stored = await self._store_video(job, video)
        await self._record_outputs(job, stored, engine_seconds, route, running)

    async def _image_verdicts(
        self,
        job: Job,
        images: Sequence[Image],
        running: _Running,
        engine_seconds: float,
        field: str = "images",
    ) -> list[Refusal | None] | None:
        """The content policy's verdict on each of the job's images (or a video's frames);
        None when there is none to be had: the job failed (a closed policy's outage, retried)
        or the lease ran out while asking."""
        subject = Subject(job.account_id, job.source, job_id=job.id)
        try:
            verdicts, _ = await self._retrying(
                lambda: self.jobs.policy.check_images(subject, images, field=field),
                self._recording_deadline(running.lease),
            )
        except _OutOfTime:
            log.warning("could not check a job's images in time", extra={"job": job.id})
            return None
        except ModerationOutage:
            await self._fail_all([job], running, MODERATION_DOWN, True, engine_seconds)
            return None
        return verdicts

    async def _video_passes(
        self, job: Job, video: VideoOutput, running: _Running, engine_seconds: float
    ) -> bool:
        """Whether the content policy lets the video out, judged on ``VIDEO_CHECK_FRAMES``
        frames spread over it; a refused video fails the job (nothing charged)."""
        if not self.jobs.policy.checks_images():
            return True
        frames = await asyncio.to_thread(sampled_frames, video.path, VIDEO_CHECK_FRAMES)
        verdicts = await self._image_verdicts(job, frames, running, engine_seconds, "frames")
        if verdicts is None:
            return False
        refused = next((refusal for refusal in verdicts if refusal is not None), None)
        if refused is not None:
            error = JobError(
                code=CONTENT_FILTERED,
                message="The content policy refused the video "
                f"(category: {refused.category}); nothing was charged.",
            )
            await self._fail_all([job], running, error, False, engine_seconds)
            return False
        return True

    @staticmethod
    def _frame_marks(mark: VisibleMarkStyle | None, payload: bytes | None) -> FrameMarks | None:
        """What every frame of a video carries: the policy's visible ``mark`` and the
        invisible mark of ``payload`` (None: the video carries neither)."""
        if mark is None and payload is None:
            return None
        return FrameMarks(mark, VideoMark(payload) if payload is not None else None)

    async def _marked_video(self, video: VideoOutput, marker: FrameMarks | None) -> VideoOutput:
        """The engine's video with ``marker`` in every frame: as it is when the engine drew
        it before its own encode (``video.marked``) or there is nothing to draw; otherwise
        decoded, marked and encoded again (a finished video: an upstream provider's)."""
        if marker is None or video.marked:
            return video
        target = video.path.with_name(f"marked-{video.path.name}")
        marked = await asyncio.to_thread(mark_video, video.path, target, marker)
        video.path.unlink(missing_ok=True)
        return dataclasses.replace(video, path=target, thumbnail=marked.thumbnail, marked=True)

    async def _signed_video(
        self, job: Job, video: VideoOutput, route: ResolvedRoute
    ) -> VideoOutput:
        """The video with its content credentials (made from a source generation)."""
        if self.provenance is None:
            return video
        claims = Claims(
            title=video.path.name,
            model=job.model,
            engine=route.engine.name,
            composite=True,
            ingredient=await self._ingredient(job.video_spec.source_image),
        )
        signed = await asyncio.to_thread(self.provenance.signed_video, video.path, claims)
        return dataclasses.replace(video, path=signed)

    async def _ingredient(self, key: str | None) -> Ingredient | None:
        """The input image stored at ``key``, for the manifest (None without a signer, an
        input, or when the input is gone by now)."""
        if self.provenance is None or key is None:
            return None
        try:
            data = await self.storage.get(key)
        except ObjectNotFound:
            return None
        return Ingredient(data, image_mime_type(data), key.rsplit("/", 1)[-1])

    async def _marks(
        self, batch: Sequence[Job], running: _Running
    ) -> dict[str, tuple[VisibleMarkStyle | None, bytes | None]]:
        """Per job of ``batch``, the visible mark the policy gives its outputs and its
        invisible payload, the payload recorded (so that verification finds the job from it)
        before any output carrying it is stored: one transaction for the batch."""
        provenance, catalog = self.provenance, self.jobs.catalog
        payloads = {job.id: provenance.payload(job.id) if provenance else None for job in batch}

        def decide(session: Session) -> dict[str, tuple[VisibleMarkStyle | None, bytes | None]]:
            marks = {}
            for job in batch:
                payload = payloads[job.id]
                if payload is not None:
                    provenance_repository.record(session, job.id, payload)
                marks[job.id] = (marking.visible_mark(session, catalog, job), payload)
            return marks

        decided, _ = await self._retrying(
            lambda: self.jobs.db.write(decide), self._recording_deadline(running.lease)
        )
        return decided

    async def _store_video(self, job: Job, video: VideoOutput) -> list[StoredOutput]:
        """The video, streamed from its file, and its thumbnail."""
        base = f"{VIDEOS_FOLDER}{job.account_id}/{job.id}/{secrets.token_hex(8)}"
        size = await self.storage.put_file(f"{base}.mp4", video.path, "video/mp4")
        try:
            checksum = await asyncio.to_thread(_file_sha256, video.path)
            await self.storage.put(f"{base}.jpg", video.thumbnail, "image/jpeg")
        except BaseException:
            await self._delete_keys([f"{base}.mp4"])
            raise
        return [
            StoredOutput(
                kind="video",
                storage_key=f"{base}.mp4",
                mime_type="video/mp4",
                size_bytes=size,
                checksum=checksum,
                width=video.width,
                height=video.height,
                duration_seconds=video.duration_seconds,
            ),
            StoredOutput(
                kind=THUMBNAIL,
                storage_key=f"{base}.jpg",
                mime_type="image/jpeg",
                size_bytes=len(video.thumbnail),
                checksum="sha256:" + hashlib.sha256(video.thumbnail).hexdigest(),
                width=video.width,
                height=video.height,
            ),
        ]

    async def _on_routes(
        self,
        batch: Sequence[Job],
        running: _Running,
        work: Callable[[ResolvedRoute], Awaitable[T]],
    ) -> tuple[T, ResolvedRoute, float] | None:
        """``work``'s result on the first of the batch's routes that is not out, with that
        route and the seconds it took; None when the batch failed (recorded here) or ended
        elsewhere."""
        started = time.perf_counter()
        try:
            made = await self._unless_ended_elsewhere(
                batch, running.lost, _first_route_not_out(self._routes(batch[0]), work)
            )
        except EngineError as exc:
            log.warning("engine error", extra={"engine": batch[0].engine, "error": str(exc)})
            error = JobError(code=exc.code, message=str(exc))
            spent = time.perf_counter() - started
            await self._fail_all(batch, running, error, exc.retryable, spent)
            return None
        except Exception:
            log.exception("engine crashed", extra={"engine": batch[0].engine})
            error = JobError(code="engine_error", message="The engine failed unexpectedly.")
            await self._fail_all(batch, running, error, True, time.perf_counter() - started)
            return None
        if made is None:
            log.info(
                "batch ended elsewhere; its engine call was stopped",
                extra={"jobs": [j.id for j in batch]},
            )
            return None
        result, route = made
        return result, route, time.perf_counter() - started

    def _routes(self, job: Job) -> list[ResolvedRoute]:
        """The job's own route, then the model's other available routes in catalog order."""
        registry = self.jobs.engines
        model = self.jobs.catalog.model(job.model)
        routes = registry.available_routes(model) if model is not None else []
        own = [route for route in routes if route.instance == job.engine]
        if not own:  # the catalog changed since the job was submitted
            own = [registry.resolve(Route(engine=job.engine, engine_model=job.model))]
        return own + [route for route in routes if route.instance != job.engine]

    async def _unless_ended_elsewhere(
        self, batch: Sequence[Job], lost: asyncio.Event, work: Coroutine[Any, Any, T]
    ) -> T | None:
        """``work``'s result; or None, with ``work`` cancelled (and with it a provider's job),
        once every job of the batch was ended by someone else (canceled) or its lease lost."""
        task = asyncio.ensure_future(work)
        with contextlib.ExitStack() as stack:
            ended = [stack.enter_context(self.jobs.events.watch(job.id)) for job in batch]
            elsewhere = asyncio.ensure_future(_first(_all(ended), lost.wait()))
            try:
                await asyncio.wait({task, elsewhere}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                elsewhere.cancel()
                if not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            return None if task.cancelled() else task.result()

    async def _input_images(self, batch: Sequence[Job]) -> list[Image | None] | None:
        if all(job.image_spec.input_image is None for job in batch):
            return None
        return [await self._load_image(job.image_spec.input_image) for job in batch]

    async def _load_image(self, key: str | None) -> Image | None:
        if key is None:
            return None
        data = await self.storage.get(key)
        return await asyncio.to_thread(decode_image, data)

    async def _fail_all(
        self,
        batch: Sequence[Job],
        running: _Running,
        error: JobError,
        retryable: bool,
        engine_seconds: float | None,
    ) -> None:
        """Record the failure of each job of the batch (retried while the lease holds)."""
        deadline = self._recording_deadline(running.lease)
        for job in batch:
            fail = functools.partial(
                self.jobs.lifecycle.fail,
                job.id,
                self.id,
                error,
                retryable=retryable,
                engine_seconds=engine_seconds,
            )
            try:
                await self._retrying(fail, deadline)
            except _OutOfTime:
                log.warning(
                    "could not record a job's failure in time; it is retried once its "
                    "lease expires",
                    extra={"job": job.id, "error": error.code},
                )

    async def _finish(
        self,
        job: Job,
        images: Sequence[Image],
        engine_seconds: float,
        route: ResolvedRoute,
        running: _Running,
        *,
        marks: tuple[VisibleMarkStyle | None, bytes | None],
    ) -> None:
        if len(images) != job.image_spec.n:
            error = JobError(
                code="engine_error",
                message=f"The engine made {len(images)} images where {job.image_spec.n} "
                "were asked.",
            )
            await self._fail_all([job], running, error, False, None)
            return
        verdicts = await self._image_verdicts(job, images, running, engine_seconds)
        if verdicts is None:
            return
        kept = [image for image, refusal in zip(images, verdicts, strict=True) if refusal is None]
        if not kept:
            error = JobError(
                code=CONTENT_FILTERED,
                message="The content policy refused every image made; nothing was charged.",
            )
            await self._fail_all([job], running, error, False, engine_seconds)
            return
        metadata = {
            "engine": route.engine.name,
            "model": job.model,
            "seed": str(job.image_spec.seed),
        }
        mark, payload = marks
        ingredient = await self._ingredient(job.image_spec.input_image)
        stored: list[StoredOutput] = []
        try:
            for image in kept:
                stored.append(
                    await self._store(
                        job, image, metadata, mark=mark, payload=payload, ingredient=ingredient
                    )
                )
        except BaseException:
            await self._delete_keys([output.storage_key for output in stored])
            raise
        await self._record_outputs(job, stored, engine_seconds, route, running)

    # -- recording a job's end -------------------------------------------------------------

    def _recording_deadline(self, lease: _Lease, grace: float = 0.0) -> Callable[[], float]:
        """While recording is worth retrying: the lease is known to be held (and ``grace``
        seconds more), and for no longer than ``MAX_RECORDING_SECONDS`` from now."""
        cap = time.monotonic() + MAX_RECORDING_SECONDS
        return lambda: min(lease.expires + grace, cap)

    async def _retrying(
        self, attempt: Callable[[], Awaitable[T]], deadline: Callable[[], float]
    ) -> tuple[T, int]:
        """``attempt``'s result, and how many tries of it failed before: a try that fails on
        a transient database error is retried with jittered, capped backoff until
        ``deadline()`` (read again each time: heartbeats move it), then ``_OutOfTime``.
        Other errors propagate at once."""
        outage = self.outages["record"]
        failures = 0
        while True:
            try:
                result = await attempt()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                outage.failed(exc)
                failures += 1
                remaining = deadline() - time.monotonic()
                if remaining <= 0:
                    raise _OutOfTime from exc
                base, cap = RECORDING_BACKOFF
                await asyncio.sleep(min(remaining, backoff_delay(failures, base=base, cap=cap)))
                continue
            outage.recovered()
            return result, failures

    async def _record_outputs(
        self,
        job: Job,
        stored: list[StoredOutput],
        engine_seconds: float,
        route: ResolvedRoute,
        running: _Running,
    ) -> None:
        """Complete the job with what was stored for it, retrying while the lease holds; when
        the lease was lost, delete what was stored."""
        engine = route.instance if route.instance != job.engine else None
        # Both deadlines count MAX_RECORDING_SECONDS from here.
        deadline = self._recording_deadline(running.lease)
        cleanup = self._recording_deadline(running.lease, grace=CLEANUP_WINDOW_SECONDS)
        try:
            done, failures = await self._retrying(
                lambda: self.jobs.lifecycle.complete(
                    job.id, self.id, stored, engine_seconds, engine
                ),
                deadline,
            )
        except _OutOfTime:
            log.warning(
                "the database stayed unavailable until the job's lease ran out",
                extra={"job": job.id},
            )
        else:
            if done:
                return
            if not failures:
                log.warning("lost the lease before completing", extra={"job": job.id})
                await self._delete_keys([output.storage_key for output in stored])
                return

        # The lease ran out, or a retry was refused after a try whose outcome is unknown
        # (the connection died around its commit, which may have recorded these outputs).
        async def settle() -> bool:
            """Complete after all (no one requeued the job meanwhile), or find the outputs
            already recorded; False when the job went on without them."""
            if await self.jobs.lifecycle.complete(job.id, self.id, stored, engine_seconds, engine):
                return True
            recorded = await self._recorded(job.id, [output.storage_key for output in stored])
            if recorded is None:
                return False
            log.info("an earlier try had completed the job", extra={"job": job.id})
            self.jobs.events.job_finished(recorded)
            return True

        await self._settle_or_delete(job, stored, settle, cleanup)

    async def _settle_or_delete(
        self,
        job: Job,
        stored: list[StoredOutput],
        settle: Callable[[], Awaitable[bool]],
        deadline: Callable[[], float],
    ) -> None:
        """Delete what was stored unless ``settle`` finds it recorded; leave it to the orphan
        sweeper when the database does not answer before ``deadline``."""
        keys = [output.storage_key for output in stored]
        try:
            kept, _ = await self._retrying(settle, deadline)
        except _OutOfTime:
            log.warning(
                "could not learn whether a job's outputs were recorded; the orphan sweeper "
                "deletes them later if they were not",
                extra={"job": job.id, "keys": keys},
            )
            return
        if not kept:
            log.warning("lost the lease before completing", extra={"job": job.id})
            await self._delete_keys(keys)

    async def _recorded(self, job_id: str, keys: Sequence[str]) -> Job | None:
        """The job, when its assets are these stored outputs (this worker completed it)."""
        try:
            job = await self.jobs.get(job_id)
        except NotFound:  # deleted by its owner since, with its asset rows
            return None
        named = {asset.storage_key for asset in job.assets}
        return job if named.intersection(keys) else None

    async def _delete_keys(self, keys: Sequence[str]) -> None:
        """Delete stored objects no row will name; one the storage refuses to delete now is
        left to the orphan sweeper."""
        for key in keys:
            try:
                await self.storage.delete(key)
            except Exception:
                log.warning("could not delete a stored output", extra={"key": key}, exc_info=True)

    async def _store(
        self,
        job: Job,
        image: Image,
        metadata: dict[str, str],
        *,
        mark: VisibleMarkStyle | None,
        payload: bytes | None,
        ingredient: Ingredient | None,
    ) -> StoredOutput:
        fmt = job.image_spec.output_format
        name = f"{secrets.token_hex(8)}.{FILE_EXTENSIONS[fmt]}"
        claims = Claims(
            title=name,
            model=job.model,
            engine=metadata["engine"],
            composite=job.image_spec.input_image is not None,
            ingredient=ingredient,
        )

        xmp = digital_source_xmp(composite=claims.composite)

        def finish() -> bytes:
            data = finished_image_bytes(image, fmt, metadata, mark=mark, payload=payload, xmp=xmp)
            if self.provenance is None:
                return data
            return self.provenance.signed_image(data, MIME_TYPES[fmt], claims)

        data = await asyncio.to_thread(finish)
        key = f"{IMAGES_FOLDER}{job.account_id}/{job.id}/{name}"
        await self.storage.put(key, data, MIME_TYPES[fmt])
        return StoredOutput(
            kind="image",
            storage_key=key,
            mime_type=MIME_TYPES[fmt],
            size_bytes=len(data),
            checksum="sha256:" + hashlib.sha256(data).hexdigest(),
            width=image.width,
            height=image.height,
        )


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


async def _first_route_not_out(
    routes: Sequence[ResolvedRoute], work: Callable[[ResolvedRoute], Awaitable[T]]
) -> tuple[T, ResolvedRoute]:
    """``work`` on the first route, then on the next while a route is out (a provider
    outage: ``EngineError.fallback``); the result and the route that gave it."""
    for index, route in enumerate(routes):
        try:
            return await work(route), route
        except EngineError as exc:
            if not exc.fallback or index == len(routes) - 1:
                raise
            log.warning(
                "route out, trying the next",
                extra={
                    "engine": route.instance,
                    "next": routes[index + 1].instance,
                    "error": str(exc),
                },
            )
    raise EngineError("The model has no route to serve it.", retryable=True)


@dataclass(frozen=True)
class _Running:
    """What a batch's engine call reports to, and what tells it to stop."""

    progress: ProgressCallback
    lost: asyncio.Event
    lease: _Lease


async def _all(futures: Sequence[asyncio.Future[Job]]) -> None:
    for future in futures:
        await future


async def _first(*waits: Awaitable[Any]) -> None:
    """Return when the first of ``waits`` does; cancel the rest."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
