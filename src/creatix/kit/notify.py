"""Cross-process wake-ups on PostgreSQL: ``NOTIFY`` in the transaction that changes a job,
``LISTEN`` in every process that waits on jobs.

Three channels. ``creatix_jobs`` carries the engine instance of a job that became queued:
workers wake and claim at once instead of at their next poll. ``creatix_finished`` carries
the id of a job that ended: an API node waiting on it (a synchronous request) reads it at
once. ``creatix_progress`` carries a running job's progress (and its start), at most about
twice a second per job: an API node streaming that job's events passes it on at once.
Notifications are sent at commit, so a listener never hears of a change it cannot see
yet. They are hints: a listener that was disconnected may miss some, so the job table is
still polled every ``poll_interval_seconds``, and a reconnect wakes everything once.
On SQLite the same notes travel between the processes of one machine by ``kit/local_bus.py``
(``LocalListener`` in place of ``Listener``), sent just after commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence

from sqlalchemy import ARRAY, String, func, literal, select
from sqlalchemy.orm import Session

from creatix.kit import local_bus
from creatix.kit.backoff import Outage
from creatix.kit.db import sync_url

log = logging.getLogger(__name__)

JOBS_CHANNEL = "creatix_jobs"
FINISHED_CHANNEL = "creatix_finished"
PROGRESS_CHANNEL = "creatix_progress"


def notify(session: Session, channel: str, payload: str) -> None:
    """Send ``payload`` on ``channel`` when ``session``'s transaction commits (PostgreSQL's
    ``NOTIFY``; on SQLite, the local bus)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(select(func.pg_notify(channel, payload)))
    elif dialect == "sqlite":
        local_bus.queue_note(session, channel, payload)


def notify_many(session: Session, channel: str, payloads: Sequence[str]) -> None:
    """``notify`` for each payload, in one statement on PostgreSQL (one round trip for a
    batch of ended jobs)."""
    if not payloads:
        return
    if session.get_bind().dialect.name != "postgresql":
        for payload in payloads:
            notify(session, channel, payload)
        return
    sent = func.unnest(literal(list(payloads), ARRAY(String()))).column_valued("payload")
    session.execute(select(func.pg_notify(channel, sent)))


class Listener:
    """Calls ``handlers[channel](payload)`` for every notification, on the event loop;
    reconnects with backoff (jittered, doubling up to 30 s), calling ``on_reconnect`` after
    each reconnection. A lost connection is logged once, and its return once, however many
    tries it takes (``outage``)."""

    def __init__(
        self,
        database_url: str,
        handlers: Mapping[str, Callable[[str], None]],
        on_reconnect: Callable[[], None] | None = None,
        outage: Outage | None = None,
    ) -> None:
        self._url = (
            sync_url(database_url)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        self._handlers = dict(handlers)
        self._on_reconnect = on_reconnect
        self.outage = outage or Outage("listening for notifications", log)
        self.connected = asyncio.Event()

    async def run(self) -> None:
        import psycopg  # noqa: PLC0415 (the postgres extra; only PostgreSQL deployments listen)

        first = True
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url, autocommit=True
                ) as connection:
                    for channel in self._handlers:
                        await connection.execute(f'LISTEN "{channel}"')
                    self.connected.set()
                    self.outage.recovered()
                    if not first and self._on_reconnect is not None:
                        self._on_reconnect()
                    first = False
                    async for note in connection.notifies():
                        handler = self._handlers.get(note.channel)
                        if handler is not None:
                            handler(note.payload)
            except (OSError, psycopg.Error) as exc:
                self.connected.clear()
                await asyncio.sleep(self.outage.failed(_connection_error(exc)))


def _connection_error(error: Exception) -> Exception:
    """The driver's errors of the connection itself (refused, lost, the server going down)
    as the ``ConnectionError`` they are, which ``Outage`` logs as one line; any other (a
    ``LISTEN`` refused) stays itself and is logged with its traceback."""
    import psycopg  # noqa: PLC0415

    if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
        return ConnectionError(f"{type(error).__name__}: {error}")
    return error
