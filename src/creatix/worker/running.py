"""What one batch's run carries: until when its leases are known to be held, where its
engine reports progress, and what tells it to stop."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from creatix.engines.base import ProgressCallback


class Lease:
    """Until when this worker may assume it holds a batch's leases: the last expiry it knows
    of, on its own monotonic clock, counted from just before the claim or heartbeat that set
    it (so never later than the expiry the database holds)."""

    def __init__(self, seconds: float, granted_at: float) -> None:
        self.seconds = seconds
        self.expires = granted_at + seconds

    def renewed(self, asked_at: float) -> None:
        self.expires = max(self.expires, asked_at + self.seconds)


@dataclass(frozen=True)
class Running:
    """What a batch's engine call reports to, and what tells it to stop."""

    progress: ProgressCallback
    lost: asyncio.Event
    lease: Lease
