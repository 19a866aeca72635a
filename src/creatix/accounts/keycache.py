"""Authenticated keys, kept in this process for a short time, safe across processes.

A request's key used to cost a read transaction (the key and its account) per request. Here
a key found live is kept for ``KEY_SECONDS``; what makes that safe with several processes on
one database is the ``auth_version`` row (migration 0020), which triggers move in every
transaction that changes what authentication reads: a key revoked, its scopes or limits
set, its account suspended, deleted, renamed or moved to another plan, by any process (an
API process, the CLI, another node). Each process reads that one row at most every
``CHECK_SECONDS`` (when a request needs a key) and forgets every key it holds when the
version moved, so a change is seen everywhere within ``CHECK_SECONDS`` plus one read. That
read is the only transaction authentication costs a busy process, whatever its request rate.

A change made in this process is seen at once: a committed transaction that changed a key or
an account (through the ORM or an ORM ``UPDATE``/``DELETE``) empties this process's caches
on that database (recording a key's use, ``repository.touch_key``, is no change). Only live
keys are kept: an unknown or revoked secret is read (and refused) every time. A key's
``last_used_at`` is still written at most once a minute, as before.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import event, select
from sqlalchemy.orm import ORMExecuteState, Session

from creatix.accounts import repository, service
from creatix.accounts.models import Account, ApiKey, AuthVersion
from creatix.accounts.schemas import Principal
from creatix.kit.db import Database

KEY_SECONDS = 30.0
"""How long a live key is kept without reading it again, the version not moving."""
CHECK_SECONDS = 0.25
"""How often a process reads the auth version (at most; only when it authenticates)."""
MAX_KEYS = 10_000
"""Past this many keys kept, all are forgotten (a bound on memory, not an eviction policy)."""


def auth_version(session: Session) -> int:
    """The current auth version (0 where the row is missing)."""
    version = session.execute(select(AuthVersion.version).where(AuthVersion.id == 1)).scalar()
    return int(version or 0)


@dataclass
class _Kept:
    principal: Principal
    last_used_at: datetime | None
    until: float


class KeyCache:
    """Keys by secret (and by key id and secret), as ``accounts.service`` authenticates
    them, kept for ``key_seconds`` unless the auth version moves."""

    def __init__(
        self,
        db: Database,
        *,
        key_seconds: float = KEY_SECONDS,
        check_seconds: float = CHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.key_seconds = key_seconds
        self.check_seconds = check_seconds
        self._clock = clock
        self._kept: dict[tuple[str, str], _Kept] = {}
        self._version: int | None = None
        self._checked_at = float("-inf")
        self.reads = 0
        """Key reads made (misses), for tests and benchmarks."""
        _caches.add(self)

    async def authenticate(self, secret: str) -> Principal:
        """``service.authenticate``, from what is kept when it can be."""
        return await self._kept_or_read(
            ("", service.hash_secret(secret)), lambda: service.key_by_secret(self.db, secret)
        )

    async def authenticate_pair(self, key_id: str, secret: str) -> Principal:
        """``service.authenticate_pair``, from what is kept when it can be."""
        return await self._kept_or_read(
            (key_id, service.hash_secret(secret)),
            lambda: service.key_by_pair(self.db, key_id, secret),
        )

    async def _kept_or_read(
        self, slot: tuple[str, str], read: Callable[[], Awaitable[service.AuthenticatedKey]]
    ) -> Principal:
        await self._check_version()
        now = self._clock()
        kept = self._kept.get(slot)
        if kept is None or kept.until <= now:
            self.reads += 1
            found = await read()
            if len(self._kept) >= MAX_KEYS:
                self._kept.clear()
            kept = _Kept(found.principal, found.last_used_at, now + self.key_seconds)
            self._kept[slot] = kept
        kept.last_used_at = await service.touch(self.db, kept.principal.key_id, kept.last_used_at)
        return kept.principal

    async def _check_version(self) -> None:
        """Forget every key when the auth version moved; read it at most every
        ``check_seconds``."""
        asked_at = self._clock()
        if asked_at - self._checked_at < self.check_seconds:
            return
        version = await self.db.read(auth_version)
        if version != self._version:
            self._kept.clear()
            self._version = version
        self._checked_at = asked_at

    def forget(self) -> None:
        """Forget every key now (this process changed keys or accounts: it sees that at
        once, not at its next version check)."""
        self._kept.clear()


_caches: weakref.WeakSet[KeyCache] = weakref.WeakSet()
_CHANGED = "creatix_auth_changed"
_WATCHED = (ApiKey, Account)


@event.listens_for(Session, "before_flush")
def _flushing(session: Session, _context: object, _instances: object) -> None:
    touched = [*session.new, *session.dirty, *session.deleted]
    if any(isinstance(row, _WATCHED) for row in touched):
        session.info[_CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _executing(state: ORMExecuteState) -> None:
    mapper = state.bind_mapper
    if (state.is_update or state.is_delete) and mapper is not None and mapper.class_ in _WATCHED:
        state.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    use_only = session.info.pop(repository.KEY_USE_ONLY, False)
    if session.info.pop(_CHANGED, False) and not use_only:
        pool = session.get_bind().engine.pool  # a write session's engine shares the pool
        for cache in list(_caches):
            if cache.db.engine.pool is pool:
                cache.forget()


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, _previous: object) -> None:
    session.info.pop(_CHANGED, None)
    session.info.pop(repository.KEY_USE_ONLY, None)
