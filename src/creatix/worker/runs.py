"""One leased batch run to its end, by kind: the engine on the model's first route that is
not out, stopped when every job of the batch ended elsewhere; its outputs checked, finished,
stored and recorded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from PIL.Image import Image

from creatix.catalog.schemas import Route
from creatix.engines.base import EngineError, VideoOutput
from creatix.engines.registry import ResolvedRoute
from creatix.jobs import structured
from creatix.jobs.service import JobService
from creatix.jobs.specs import Job, JobError, JobKind, TextResult
from creatix.storage.base import ObjectNotFound
from creatix.worker.checks import OutputChecks
from creatix.worker.outputs import Marks, Outputs
from creatix.worker.recording import Recorder
from creatix.worker.running import Running

log = logging.getLogger(__name__)
T = TypeVar("T")


class BatchRuns:
    def __init__(
        self, jobs: JobService, recorder: Recorder, outputs: Outputs, checks: OutputChecks
    ) -> None:
        self.jobs = jobs
        self.recorder = recorder
        self.outputs = outputs
        self.checks = checks

    async def run(self, batch: Sequence[Job], running: Running) -> None:
        if batch[0].kind is JobKind.TEXT:
            await self._text(batch[0], running)
        elif batch[0].kind is JobKind.VIDEO:
            await self._video(batch[0], running)
        else:
            await self._images(batch, running)

    async def _images(self, batch: Sequence[Job], running: Running) -> None:
        try:
            input_images = await self.outputs.input_images(batch)
        except ObjectNotFound as exc:
            error = JobError(code="input_image_missing", message="The input image is gone.")
            await self.recorder.failed(batch, running.lease, error, False, 0.0)
            log.warning("input image missing", extra={"key": str(exc)})
            return
        specs = [job.image_spec for job in batch]

        async def draw(route: ResolvedRoute) -> Sequence[Sequence[Image]]:
            return await route.image_engine.generate(
                route.engine_model, specs, input_images, running.progress, route.params
            )

        # Marks are decided before the engine runs, so that after it only recording the
        # job's end touches the database (and is retried through an outage).
        marks = await self.outputs.marks(batch, running.lease)
        made = await self._on_routes(batch, running, draw)
        if made is None:
            return
        outputs, route, engine_seconds = made
        for job, images in zip(batch, outputs, strict=True):
            await self._finish_images(
                job, images, engine_seconds, route, running, marks=marks[job.id]
            )

    async def _finish_images(
        self,
        job: Job,
        images: Sequence[Image],
        engine_seconds: float,
        route: ResolvedRoute,
        running: Running,
        *,
        marks: Marks,
    ) -> None:
        if len(images) != job.image_spec.n:
            error = JobError(
                code="engine_error",
                message=f"The engine made {len(images)} images where {job.image_spec.n} "
                "were asked.",
            )
            await self.recorder.failed([job], running.lease, error, False, None)
            return
        kept = await self.checks.kept_images(job, images, running.lease, engine_seconds)
        if not kept:
            return
        stored = await self.outputs.store_images(job, kept, route, marks)
        await self.recorder.completed(job, stored, engine_seconds, route, running.lease)

    async def _text(self, job: Job, running: Running) -> None:
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
        if await self.checks.answer_passes(job, result.text, running.lease, engine_seconds):
            await self.recorder.answered(job, result, engine_seconds, route, running.lease)

    async def _video(self, job: Job, running: Running) -> None:
        spec = job.video_spec
        try:
            source = await self.outputs.load_image(spec.source_image)
        except ObjectNotFound:
            error = JobError(code="input_image_missing", message="The source image is gone.")
            await self.recorder.failed([job], running.lease, error, False, 0.0)
            return
        assert source is not None
        with tempfile.TemporaryDirectory(prefix="creatix-video-") as workdir:
            marks = await self.outputs.marks([job], running.lease)
            marker = self.outputs.frame_marks(marks[job.id])

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
            if not await self.checks.video_passes(job, video, running.lease, engine_seconds):
                return
            video = await self.outputs.marked_video(video, marker)
            video = await self.outputs.signed_video(job, video, route)
            stored = await self.outputs.store_video(job, video)
        await self.recorder.completed(job, stored, engine_seconds, route, running.lease)

    async def _on_routes(
        self,
        batch: Sequence[Job],
        running: Running,
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
            await self.recorder.failed(batch, running.lease, error, exc.retryable, spent)
            return None
        except Exception:
            log.exception("engine crashed", extra={"engine": batch[0].engine})
            error = JobError(code="engine_error", message="The engine failed unexpectedly.")
            spent = time.perf_counter() - started
            await self.recorder.failed(batch, running.lease, error, True, spent)
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
