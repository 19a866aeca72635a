"""The worker: claim a batch, run the engine, watermark and encode, store, complete.

Leases are extended by a heartbeat while the engine runs; a worker that dies stops
heartbeating and its jobs go back to the queue when their leases expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
import os
import secrets
import socket
import time
from collections.abc import Sequence

from PIL import Image as PILImage
from PIL.Image import Image

from creatix.engines.base import EngineError, ProgressCallback
from creatix.jobs.progress import ProgressReporter
from creatix.jobs.service import Claim, JobService
from creatix.jobs.specs import MIME_TYPES, Job, JobError, OutputFormat, StoredOutput
from creatix.media.encoding import encode
from creatix.media.watermark import apply_watermark
from creatix.storage.base import ObjectNotFound, Storage

log = logging.getLogger(__name__)


def decode_image(data: bytes) -> Image:
    """An input image as RGB, or RGBA where it has transparency for the engine to respect."""
    with PILImage.open(io.BytesIO(data)) as image:
        transparent = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        return image.convert("RGBA" if transparent else "RGB")


def finished_image_bytes(image: Image, fmt: OutputFormat, metadata: dict[str, str]) -> bytes:
    """What every generated image goes through before it is stored."""
    return encode(apply_watermark(image), fmt, metadata)


class Slots:
    """A count of free processing slots that can also be taken without waiting."""

    def __init__(self, count: int) -> None:
        self.free = count
        self._freed = asyncio.Event()

    def try_take(self) -> bool:
        if self.free == 0:
            return False
        self.free -= 1
        return True

    async def take(self) -> None:
        while not self.try_take():
            self._freed.clear()
            await self._freed.wait()

    def release(self) -> None:
        self.free += 1
        self._freed.set()


class Worker:
    def __init__(
        self,
        jobs: JobService,
        storage: Storage,
        *,
        concurrency: int = 2,
        lease_seconds: float = 30.0,
        poll_interval_seconds: float = 1.0,
    ) -> None:
        self.jobs = jobs
        self.storage = storage
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.poll_interval_seconds = poll_interval_seconds
        self.id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._slots = Slots(concurrency)
        self._engines = set(jobs.engines.max_batch_by_engine())
        self._group: asyncio.TaskGroup | None = None

    async def run(self) -> None:
        """Work until cancelled: claimed batches and directly handed jobs share the slots."""
        log.info("worker started", extra={"worker": self.id, "concurrency": self.concurrency})
        async with asyncio.TaskGroup() as group:
            self._group = group
            group.create_task(self._requeue_loop())
            self.jobs.attach_direct(self)
            try:
                await self._claim_loop()
            finally:
                self.jobs.detach_direct(self)

    async def _claim_loop(self) -> None:
        while True:
            await self._slots.take()
            claim = await self._claim()
            if claim.jobs:
                self._start(claim.jobs)
            else:
                self._slots.release()
            if not claim.more_queued:
                await self.jobs.events.wait_for_work(self.poll_interval_seconds)

    # DirectDispatch: the job core hands over a job it has already leased to this worker.

    def try_reserve(self, engine: str) -> bool:
        return engine in self._engines and self._slots.try_take()

    def release(self) -> None:
        self._slots.release()

    def deliver(self, job: Job) -> None:
        self._start([job])

    def _start(self, batch: Sequence[Job]) -> None:
        """Process a batch in the slot already taken for it."""
        if self._group is None:
            raise RuntimeError("the worker is not running")
        self._group.create_task(self._process_in_slot(batch))

    async def _requeue_loop(self) -> None:
        while True:
            try:
                await self.jobs.requeue_expired()
            except Exception:
                log.exception("requeueing expired leases failed")
            await asyncio.sleep(max(0.2, self.lease_seconds / 2))

    async def _claim(self) -> Claim:
        try:
            return await self.jobs.claim(self.id)
        except Exception:
            log.exception("claiming jobs failed")
            return Claim(jobs=[], more_queued=False)

    async def _process_in_slot(self, batch: Sequence[Job]) -> None:
        try:
            await self.process(batch)
        except Exception:
            # The batch's leases expire and its jobs are retried; this worker goes on.
            log.exception("processing a batch failed", extra={"jobs": [j.id for j in batch]})
        finally:
            self._slots.release()

    async def process(self, batch: Sequence[Job]) -> None:
        job_ids = [job.id for job in batch]
        progress = ProgressReporter(self.jobs, job_ids, self.id)
        helpers = [
            asyncio.create_task(self._heartbeat(job_ids)),
            asyncio.create_task(progress.run()),
        ]
        try:
            await self._run_batch(batch, progress)
        finally:
            for helper in helpers:
                helper.cancel()
            for helper in helpers:
                with contextlib.suppress(asyncio.CancelledError):
                    await helper

    async def _heartbeat(self, job_ids: list[str]) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                await self.jobs.heartbeat(job_ids, self.id)
            except Exception:
                log.exception("heartbeat failed", extra={"jobs": job_ids})

    async def _run_batch(self, batch: Sequence[Job], progress: ProgressCallback) -> None:
        engine = self.jobs.engines.engine(batch[0].engine)
        model = self.jobs.catalog.model(batch[0].model)
        engine_model = (model.engine_model if model else None) or batch[0].model
        try:
            input_images = await self._input_images(batch)
        except ObjectNotFound as exc:
            error = JobError(code="input_image_missing", message="The input image is gone.")
            await self._fail_all(batch, error, False, 0.0)
            log.warning("input image missing", extra={"key": str(exc)})
            return
        started = time.perf_counter()
        try:
            specs = [job.spec for job in batch]
            outputs = await engine.generate(engine_model, specs, input_images, progress)
        except EngineError as exc:
            log.warning("engine error", extra={"engine": engine.name, "error": str(exc)})
            error = JobError(code=exc.code, message=str(exc))
            await self._fail_all(batch, error, exc.retryable, time.perf_counter() - started)
            return
        except Exception:
            log.exception("engine crashed", extra={"engine": engine.name})
            error = JobError(code="engine_error", message="The engine failed unexpectedly.")
            await self._fail_all(batch, error, True, time.perf_counter() - started)
            return
        engine_seconds = time.perf_counter() - started
        for job, images in zip(batch, outputs, strict=True):
            await self._finish(job, images, engine_seconds, engine.name)

    async def _input_images(self, batch: Sequence[Job]) -> list[Image | None] | None:
        if all(job.spec.input_image is None for job in batch):
            return None
        return [await self._load_image(job.spec.input_image) for job in batch]

    async def _load_image(self, key: str | None) -> Image | None:
        if key is None:
            return None
        data = await self.storage.get(key)
        return await asyncio.to_thread(decode_image, data)

    async def _fail_all(
        self, batch: Sequence[Job], error: JobError, retryable: bool, engine_seconds: float
    ) -> None:
        for job in batch:
            await self.jobs.fail(
                job.id, self.id, error, retryable=retryable, engine_seconds=engine_seconds
            )

    async def _finish(
        self, job: Job, images: Sequence[Image], engine_seconds: float, engine_name: str
    ) -> None:
        if len(images) != job.spec.n:
            error = JobError(
                code="engine_error",
                message=f"The engine made {len(images)} images where {job.spec.n} were asked.",
            )
            await self.jobs.fail(job.id, self.id, error, retryable=False)
            return
        metadata = {"engine": engine_name, "model": job.model, "seed": str(job.spec.seed)}
        stored = [await self._store(job, image, metadata) for image in images]
        if not await self.jobs.complete(job.id, self.id, stored, engine_seconds):
            log.warning("lost the lease before completing", extra={"job": job.id})
            for output in stored:
                await self.storage.delete(output.storage_key)

    async def _store(self, job: Job, image: Image, metadata: dict[str, str]) -> StoredOutput:
        fmt = job.spec.output_format
        data = await asyncio.to_thread(finished_image_bytes, image, fmt, metadata)
        key = f"images/{job.account_id}/{job.id}/{secrets.token_hex(8)}.{fmt}"
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
