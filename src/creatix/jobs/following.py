"""Following jobs as they run, for streams of their events (``api/job_events.py``).

A follower (``events.Follower``) is told of its job's start, progress and end by the calls
that make them in this process (``JobEvents``) and, on PostgreSQL, by other processes'
notifications (``kit/notify.py``). What no event told (a notification missed while the
listener reconnected, a job requeued) one shared poll catches: every
``poll_interval_seconds``, while anyone follows, ONE read of the status and progress of
every followed job, however many streams there are; a job found ended is read whole (its
assets) once. The poll is an asyncio task that ends when the last follower leaves.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy.orm import Session

from creatix.jobs import repository
from creatix.jobs.events import Follower, JobEvents, Progress
from creatix.jobs.records import QueueSettings, to_job
from creatix.jobs.specs import Asset, Job, JobStatus
from creatix.kit.db import Database

log = logging.getLogger(__name__)

POLL_CHUNK = 500
"""Followed jobs read per statement of the shared poll."""


class JobFollowing:
    def __init__(self, db: Database, events: JobEvents, settings: QueueSettings) -> None:
        self.db = db
        self.events = events
        self.settings = settings
        self._poll: asyncio.Task[None] | None = None

    @contextmanager
    def follow(self, job: Job) -> Iterator[Follower]:
        """A ``Follower`` of ``job`` (as the caller last read it) for the block's duration."""
        with self.events.follow(job) as follower:
            if self._poll is None or self._poll.done():
                self._poll = asyncio.create_task(self._run())
            yield follower

    async def close(self) -> None:
        if self._poll is not None:
            self._poll.cancel()
            with suppress(asyncio.CancelledError):
                await self._poll

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.poll_interval_seconds)
            followers = self.events.followers()
            if not followers:
                return
            try:
                await self.poll(followers)
            except Exception:
                # The database is away: the next round tries again; the streams wait.
                log.warning("could not read the followed jobs", exc_info=True)

    async def poll(self, followers: list[Follower]) -> None:
        """Tell ``followers`` what the job table says that they have not heard."""
        job_ids = sorted({follower.job_id for follower in followers if follower.ended is None})
        states: dict[str, repository.JobState] = {}
        for start in range(0, len(job_ids), POLL_CHUNK):
            chunk = job_ids[start : start + POLL_CHUNK]
            states |= await self.db.read(functools.partial(repository.job_states, job_ids=chunk))
        ended: set[str] = set()
        for follower in followers:
            state = states.get(follower.job_id)
            if state is None or follower.ended is not None:
                continue
            status = JobStatus(state[0])
            if status.is_terminal:
                ended.add(follower.job_id)
            else:
                _, fraction, step, steps = state
                progress = Progress(fraction, step, steps) if fraction is not None else None
                follower.moved(status, progress)
        for job_id in sorted(ended):
            job = await self.db.read(functools.partial(_ended_job, job_id=job_id))
            if job is not None:
                self.events.job_finished(job)


def _ended_job(session: Session, job_id: str) -> Job | None:
    row = repository.job(session, job_id)
    if row is None:
        return None
    assets = repository.assets_of(session, row.id)
    return to_job(row, [Asset.model_validate(a, from_attributes=True) for a in assets])
