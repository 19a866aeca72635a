"""The content policy's checks on what an engine made, before anything is stored: a job
whose every output is refused fails ``content_filtered`` (nothing charged); a closed
policy's moderation outage fails it to be retried."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from PIL.Image import Image

from creatix.engines.base import VideoOutput
from creatix.jobs.service import JobService
from creatix.jobs.specs import Job, JobError
from creatix.media.video import sampled_frames
from creatix.policy.service import ModerationOutage, Refusal, Subject
from creatix.worker.recording import OutOfTime, Recorder
from creatix.worker.running import Lease

log = logging.getLogger(__name__)
T = TypeVar("T")
CONTENT_FILTERED = "content_filtered"
"""A job whose every output the content policy refused (refunded in full)."""
VIDEO_CHECK_FRAMES = 4
"""How many frames, spread over a video, the content policy checks of it."""
MODERATION_DOWN = JobError(
    code="moderation_unavailable",
    message="The content policy's moderation engine is unavailable; the job is retried.",
)


class OutputChecks:
    def __init__(self, jobs: JobService, recorder: Recorder) -> None:
        self.jobs = jobs
        self.recorder = recorder

    async def kept_images(
        self, job: Job, images: Sequence[Image], lease: Lease, engine_seconds: float
    ) -> list[Image]:
        """The images the policy lets out; none when it refused them all (the job failed
        here) or there is no verdict (see ``_verdicts``)."""
        verdicts = await self._verdicts(job, images, lease, engine_seconds, "images")
        if verdicts is None:
            return []
        kept = [image for image, refusal in zip(images, verdicts, strict=True) if refusal is None]
        if not kept:
            await self._refused(job, lease, engine_seconds, "every image made")
        return kept

    async def video_passes(
        self, job: Job, video: VideoOutput, lease: Lease, engine_seconds: float
    ) -> bool:
        """Whether the policy lets the video out, judged on ``VIDEO_CHECK_FRAMES`` frames
        spread over it; a refused video fails the job."""
        if not self.jobs.policy.checks_images():
            return True
        frames = await asyncio.to_thread(sampled_frames, video.path, VIDEO_CHECK_FRAMES)
        verdicts = await self._verdicts(job, frames, lease, engine_seconds, "frames")
        if verdicts is None:
            return False
        refused = next((refusal for refusal in verdicts if refusal is not None), None)
        if refused is not None:
            await self._refused(
                job, lease, engine_seconds, f"the video (category: {refused.category})"
            )
            return False
        return True

    async def answer_passes(self, job: Job, text: str, lease: Lease, engine_seconds: float) -> bool:
        """Whether the policy lets a text job's answer out; a refused answer fails the job."""
        subject = Subject(job.account_id, job.source, job_id=job.id)
        check = functools.partial(self.jobs.policy.check_copy, subject, text)
        asked = await self._asked(job, lease, engine_seconds, check, "answer")
        if asked is None:
            return False
        [refusal] = asked
        if refusal is not None:
            await self._refused(
                job, lease, engine_seconds, f"the answer (category: {refusal.category})"
            )
            return False
        return True

    async def _verdicts(
        self, job: Job, images: Sequence[Image], lease: Lease, engine_seconds: float, field: str
    ) -> list[Refusal | None] | None:
        """The policy's verdict on each of the job's images (or a video's frames); None when
        there is none to be had: the job failed (a closed policy's outage, retried) or the
        lease ran out while asking."""
        subject = Subject(job.account_id, job.source, job_id=job.id)
        check = functools.partial(self.jobs.policy.check_images, subject, images, field=field)
        asked = await self._asked(job, lease, engine_seconds, check, "images")
        return None if asked is None else asked[0]

    async def _asked(
        self,
        job: Job,
        lease: Lease,
        engine_seconds: float,
        check: Callable[[], Awaitable[T]],
        what: str,
    ) -> tuple[T] | None:
        """``check``'s verdict (it records refusals in the database, so it is retried through
        an outage while the lease holds); None when there is none to be had."""
        try:
            verdict, _ = await self.recorder.retrying(check, self.recorder.deadline(lease))
        except OutOfTime:
            log.warning("could not check a job's %s in time", what, extra={"job": job.id})
            return None
        except ModerationOutage:
            await self.recorder.failed([job], lease, MODERATION_DOWN, True, engine_seconds)
            return None
        return (verdict,)

    async def _refused(self, job: Job, lease: Lease, engine_seconds: float, what: str) -> None:
        error = JobError(
            code=CONTENT_FILTERED,
            message=f"The content policy refused {what}; nothing was charged.",
        )
        await self.recorder.failed([job], lease, error, False, engine_seconds)
