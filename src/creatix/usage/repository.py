"""All SQL of the usage room: the daily rollup's upsert and the reads over it."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Insert, Row, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from creatix.billing.models import LedgerEntry
from creatix.usage.models import ALL_KEYS, UsageDaily

COUNTERS = ("images", "videos", "input_tokens", "output_tokens", "credits", "jobs")
"""The rollup's summed columns, in the order reports list them."""
GROUP_COLUMNS: dict[str, Any] = {
    "day": UsageDaily.day,
    "model": UsageDaily.model,
    "key": UsageDaily.key_id,
}


def add(
    session: Session,
    *,
    account_id: str,
    day: date,
    model: str,
    key_id: str,
    kind: str,
    counts: dict[str, int],
) -> None:
    """Add ``counts`` to the row of (account, day, model, key, kind), creating it if needed:
    one ``INSERT … ON CONFLICT DO UPDATE``, so concurrent job ends never lose a count."""
    add_many(
        session,
        [
            RollupAddition(
                account_id=account_id, day=day, model=model, key_id=key_id, kind=kind, counts=counts
            )
        ],
    )


@dataclass(frozen=True)
class RollupAddition:
    """Counts to add to one rollup row."""

    account_id: str
    day: date
    model: str
    key_id: str
    kind: str
    counts: Mapping[str, int]


def add_many(session: Session, additions: Sequence[RollupAddition]) -> None:
    """``add`` for each addition, in one execution of one statement (its parameters a list,
    in the order given: give concurrent callers' rows in one order, so they never
    deadlock)."""
    if not additions:
        return
    session.execute(
        _upsert(session.get_bind().dialect.name),
        [
            {
                "account_id": addition.account_id,
                "day": addition.day,
                "model": addition.model,
                "key_id": addition.key_id,
                "kind": addition.kind,
                **{name: int(addition.counts.get(name, 0)) for name in COUNTERS},
            }
            for addition in additions
        ],
    )


@functools.cache
def _upsert(dialect_name: str) -> Insert:
    """The rollup's upsert for the dialect, built once: its values are parameters."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(UsageDaily)
    table = UsageDaily.__table__
    upsert: Insert = statement.on_conflict_do_update(
        index_elements=["account_id", "key_id", "day", "model", "kind"],
        set_={name: table.c[name] + statement.excluded[name] for name in COUNTERS},
    )
    return upsert


def summed(
    session: Session, account_id: str, start: date, end: date, group_by: Sequence[str]
) -> list[Row[Any]]:
    """The account's counters from ``start`` to ``end`` (both included), one row per distinct
    value of the ``group_by`` columns, in their order: from the per-key rows when grouped by
    key, else from the ``ALL_KEYS`` rows alone."""
    groups = [GROUP_COLUMNS[name].label(name) for name in group_by]
    sums = [func.coalesce(func.sum(UsageDaily.__table__.c[n]), 0).label(n) for n in COUNTERS]
    keys = UsageDaily.key_id != ALL_KEYS if "key" in group_by else UsageDaily.key_id == ALL_KEYS
    query = select(*groups, *sums).where(
        UsageDaily.account_id == account_id,
        keys,
        UsageDaily.day >= start,
        UsageDaily.day <= end,
    )
    if groups:
        query = query.group_by(*groups).order_by(*groups)
    return list(session.execute(query).all())


def key_credits(session: Session, account_id: str, key_id: str, start: date, end: date) -> int:
    """Credits the key's finished jobs were charged from ``start`` to ``end``."""
    total = session.execute(
        select(func.coalesce(func.sum(UsageDaily.credits), 0)).where(
            UsageDaily.account_id == account_id,
            UsageDaily.day >= start,
            UsageDaily.day <= end,
            UsageDaily.key_id == key_id,
        )
    ).scalar_one()
    return int(total)


def ledger_page(session: Session, account_id: str, *, limit: int, offset: int) -> list[LedgerEntry]:
    """A page of the account's ledger, newest first (ties by id, so pages never overlap)."""
    return list(
        session.execute(
            select(LedgerEntry)
            .where(LedgerEntry.account_id == account_id)
            .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
            .limit(limit)
            .offset(offset)
        ).scalars()
    )
