"""In-process wake-ups: a worker wakes when a job is submitted, a waiter when its job ends,
a follower (a stream of a job's events) when its job starts, moves on or ends.

A waiter is handed the ended job itself, and a follower the reported progress, so neither
needs a read of its own. These are hints, not the source of truth: a waiter, follower or
worker in another process learns the same from the job table by polling at
``poll_interval_seconds`` (on PostgreSQL, sooner: ``kit/notify.py``'s notifications are
turned into the same calls here).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from creatix.jobs.specs import Job, JobStatus


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a running job's engine is: the ``fraction`` done (0..1) and, where the engine
    counts them, the ``step`` reached of its ``steps`` (denoising steps, frames)."""

    fraction: float
    step: int | None = None
    steps: int | None = None

    @classmethod
    def of(cls, job: Job) -> Progress | None:
        """What the job's row says, or None before the engine reported anything."""
        if job.progress is None:
            return None
        return cls(job.progress, job.progress_step, job.progress_steps)


STARTED = Progress(0.0)
"""A job just claimed: running, nothing done yet."""


class Follower:
    """What a follower of one job last heard of it: its status, its progress (None before
    the engine reported any) and, once it ended, the ended job. ``changed`` waits for news.
    One small object and one ``asyncio.Event`` per follower: no task, no thread."""

    __slots__ = ("_changed", "ended", "job_id", "progress", "status")

    def __init__(self, job: Job) -> None:
        self.job_id = job.id
        self.status = job.status
        self.progress = Progress.of(job)
        self.ended: Job | None = job if job.status.is_terminal else None
        self._changed = asyncio.Event()

    def moved(self, status: JobStatus, progress: Progress | None) -> None:
        """The job is now ``status`` at ``progress`` (it has not ended)."""
        if self.ended is None and (status, progress) != (self.status, self.progress):
            self.status, self.progress = status, progress
            self._changed.set()

    def finished(self, job: Job) -> None:
        if self.ended is None:
            self.ended, self.status = job, job.status
            self._changed.set()

    async def changed(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for news; whether there was any."""
        with suppress(TimeoutError):
            async with asyncio.timeout(timeout):  # not wait_for: see JobEvents
                await self._changed.wait()
        news = self._changed.is_set()
        self._changed.clear()
        return news


class JobEvents:
    def __init__(self) -> None:
        self._work = asyncio.Event()
        self._watchers: defaultdict[str, set[asyncio.Future[Job]]] = defaultdict(set)
        self._followers: defaultdict[str, set[Follower]] = defaultdict(set)

    def job_submitted(self) -> None:
        self._work.set()

    async def wait_for_work(self, timeout: float) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancel that
        # lands as the event fires, and a draining worker would never stop.
        with suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._work.wait()
        self._work.clear()

    def job_finished(self, job: Job) -> None:
        for future in self._watchers.get(job.id, ()):
            if not future.done():
                future.set_result(job)
        for follower in self._followers.get(job.id, ()):
            follower.finished(job)

    def job_progressed(self, job_ids: Iterable[str], progress: Progress) -> None:
        """These running jobs' engine is at ``progress`` (``STARTED`` when just claimed)."""
        for job_id in job_ids:
            for follower in self._followers.get(job_id, ()):
                follower.moved(JobStatus.RUNNING, progress)

    def watched(self, job_id: str) -> bool:
        """Whether anyone in this process waits on or follows the job."""
        return job_id in self._watchers or job_id in self._followers

    @contextmanager
    def watch(self, job_id: str) -> Iterator[asyncio.Future[Job]]:
        """A future that resolves to the job when a worker in this process ends it."""
        future: asyncio.Future[Job] = asyncio.get_running_loop().create_future()
        self._watchers[job_id].add(future)
        try:
            yield future
        finally:
            watchers = self._watchers[job_id]
            watchers.discard(future)
            if not watchers:
                del self._watchers[job_id]

    @contextmanager
    def follow(self, job: Job) -> Iterator[Follower]:
        """A ``Follower`` of ``job`` (as the caller last read it), told of its progress and
        its end while the block runs."""
        follower = Follower(job)
        self._followers[job.id].add(follower)
        try:
            yield follower
        finally:
            followers = self._followers[job.id]
            followers.discard(follower)
            if not followers:
                del self._followers[job.id]

    def followers(self) -> list[Follower]:
        """Every follower in this process, for the poll that catches what no event told."""
        return [follower for group in self._followers.values() for follower in group]


PROGRESS_PAYLOAD_IDS = 100
"""Job ids per progress notification (36 characters each: well under PostgreSQL's 8000 bytes)."""


def progress_payloads(job_ids: Iterable[str], progress: Progress) -> list[str]:
    """The ``creatix_progress`` notifications that carry ``progress`` for ``job_ids``:
    ``"<fraction>[:<step>/<steps>] <id> <id> …"``, a hundred ids at most in each."""
    ids = list(job_ids)
    head = f"{progress.fraction:.4f}"
    if progress.step is not None and progress.steps is not None:
        head += f":{progress.step}/{progress.steps}"
    return [
        " ".join([head, *ids[start : start + PROGRESS_PAYLOAD_IDS]])
        for start in range(0, len(ids), PROGRESS_PAYLOAD_IDS)
    ]


def parse_progress_payload(payload: str) -> tuple[list[str], Progress] | None:
    """The job ids and progress of a ``creatix_progress`` notification; None if malformed."""
    parts = payload.split()
    if not parts:
        return None
    head, *job_ids = parts
    fraction, _, counted = head.partition(":")
    try:
        value = float(fraction)
        step, steps = _steps(counted)
    except ValueError:
        return None
    if not 0.0 <= value <= 1.0:
        return None
    return job_ids, Progress(value, step, steps)


def _steps(counted: str) -> tuple[int | None, int | None]:
    """``"<step>/<steps>"`` as two numbers (``""``: none); ValueError if malformed."""
    if not counted:
        return None, None
    step, slash, steps = counted.partition("/")
    if not slash:
        raise ValueError(counted)
    reached, total = int(step), int(steps)
    if not 0 <= reached <= total:
        raise ValueError(counted)
    return reached, total
