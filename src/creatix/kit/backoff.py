"""Loops that depend on something that can go away (the database, a bucket): a jittered,
capped backoff between failed rounds, and one log line per change of state (unavailable,
recovered) instead of one traceback per failed round."""

from __future__ import annotations

import logging
import random
import time

from sqlalchemy import exc as sa

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sa.OperationalError,  # the server went away, refused, restarted; SQLite's lock timeout
    sa.InterfaceError,
    sa.TimeoutError,  # no pooled connection came free in time
    ConnectionError,  # refused, reset, aborted
    TimeoutError,
)


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` says the database (or the network to it) is unavailable for now,
    rather than that the statement itself is wrong: worth retrying."""
    if isinstance(error, sa.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, TRANSIENT_ERRORS)


def backoff_delay(failures: int, *, base: float, cap: float) -> float:
    """The wait after the ``failures``-th failure in a row: ``base`` doubling up to ``cap``,
    with "equal jitter" (between half and all of it), so that many processes that lost the
    database together do not come back in step, and no wait is near zero."""
    ceiling = min(cap, base * 2.0 ** max(0, failures - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


class Outage:
    """What one loop knows about its dependency: failing or not, since when, how often.

    ``failed`` logs only the first failure of a run of them (a warning naming the error for a
    transient one, the traceback once for anything else) and returns how long to wait;
    ``recovered`` logs once when a run of failures ends. Shared by concurrent loops of one
    kind (every batch's heartbeat), it still logs one line per change of state.
    """

    def __init__(
        self, name: str, logger: logging.Logger, *, base: float = 0.5, cap: float = 30.0
    ) -> None:
        self.name = name
        self.failures = 0
        self._log = logger
        self._base = base
        self._cap = cap
        self._since = 0.0

    @property
    def down(self) -> bool:
        return self.failures > 0

    def failed(self, error: BaseException) -> float:
        """Record a failed round; the seconds to wait before the next."""
        self.failures += 1
        if self.failures == 1:
            self._since = time.monotonic()
            if is_transient(error):
                self._log.warning(
                    "%s: unavailable (%s: %s); retrying with backoff",
                    self.name,
                    type(error).__name__,
                    _first_line(error),
                )
            else:
                self._log.error("%s: unavailable; retrying with backoff", self.name, exc_info=error)
        return backoff_delay(self.failures, base=self._base, cap=self._cap)

    def recovered(self) -> None:
        """Record a round that worked."""
        if self.failures:
            self._log.info(
                "%s: recovered after %d failed attempts over %.1f s",
                self.name,
                self.failures,
                time.monotonic() - self._since,
            )
            self.failures = 0


def _first_line(error: BaseException) -> str:
    return str(error).strip().split("\n", 1)[0][:200]
