"""Usage: the daily rollup written as jobs end, reports over it, CSV, and the paged ledger.

``record_job_end`` runs in the transaction that ends a job (the job core calls it next to the
ledger's settlement), so the rollup always agrees with the jobs and the ledger. Reports read
only the rollup: at a million jobs a 90-day report sums a few thousand rows.
"""

from __future__ import annotations

import collections
import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from creatix.billing.schemas import CreditEntry
from creatix.jobs.specs import JobKind
from creatix.kit.db import Database
from creatix.kit.errors import InvalidRequest
from creatix.usage import repository
from creatix.usage.models import ALL_KEYS
from creatix.usage.repository import COUNTERS
from creatix.usage.schemas import GroupBy, LedgerPage, UsageReport, UsageRow

GROUPS: tuple[GroupBy, ...] = ("day", "model", "key")
MAX_DAYS = 400
"""The longest range one report covers."""
DEFAULT_DAYS = 30
MAX_LEDGER_PAGE = 200


@dataclass(frozen=True)
class JobEnd:
    """One ended job, as the rollup counts it."""

    account_id: str
    key_id: str | None
    model: str
    kind: str
    ended_at: datetime
    outputs: int
    input_tokens: int
    output_tokens: int
    credits: int


def record_job_end(
    session: Session,
    *,
    account_id: str,
    key_id: str | None,
    model: str,
    kind: str,
    ended_at: datetime,
    outputs: int,
    input_tokens: int,
    output_tokens: int,
    credits: int,
) -> None:
    """Count one ended job in its day's rollup rows, its key's and ``ALL_KEYS``', in the
    caller's transaction."""
    record_job_ends(
        session,
        [
            JobEnd(
                account_id=account_id,
                key_id=key_id,
                model=model,
                kind=kind,
                ended_at=ended_at,
                outputs=outputs,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                credits=credits,
            )
        ],
    )


def record_job_ends(session: Session, ends: Sequence[JobEnd]) -> None:
    """Count ended jobs in their days' rollup rows, in the caller's transaction: the counts
    of jobs that share a row are summed first, so a batch of jobs of one account, key and
    model costs two upserted rows, as one job does; rows are written in key order."""
    totals: dict[tuple[str, date, str, str, str], collections.Counter[str]] = {}
    for end in ends:
        counts = {
            "images": end.outputs if end.kind == JobKind.IMAGE else 0,
            "videos": end.outputs if end.kind == JobKind.VIDEO else 0,
            "input_tokens": end.input_tokens,
            "output_tokens": end.output_tokens,
            "credits": end.credits,
            "jobs": 1,
        }
        for key in (end.key_id or "", ALL_KEYS):
            row = (end.account_id, end.ended_at.date(), end.model, key, end.kind)
            totals.setdefault(row, collections.Counter()).update(counts)
    repository.add_many(
        session,
        [
            repository.RollupAddition(
                account_id=account_id,
                day=day,
                model=model,
                key_id=key_id,
                kind=kind,
                counts=totals[(account_id, day, model, key_id, kind)],
            )
            for account_id, day, model, key_id, kind in sorted(totals)
        ],
    )


def parse_group_by(value: str | None) -> list[GroupBy]:
    """``day,model`` → ["day", "model"]; unknown or repeated names are a 400 on ``group_by``."""
    if value is None or not value.strip():
        return []
    names = [name.strip() for name in value.split(",")]
    chosen: list[GroupBy] = []
    for name in names:
        group = next((g for g in GROUPS if g == name), None)
        if group is None:
            raise InvalidRequest(
                f"group_by takes a comma-separated subset of {', '.join(GROUPS)}; "
                f"'{name}' is not one of them.",
                param="group_by",
            )
        if group in chosen:
            raise InvalidRequest(f"group_by names '{name}' twice.", param="group_by")
        chosen.append(group)
    return chosen


def parse_day(value: str | None, param: str) -> date | None:
    """An ISO date (``2026-12-05``); anything else is a 400 naming ``param``."""
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidRequest(
            f"{param} must be a date as YYYY-MM-DD, not '{value[:40]}'.", param=param
        ) from None


def date_range(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """The report's days: ``end`` defaults to today, ``start`` to 30 days before ``end``."""
    last = end or today
    first = start or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise InvalidRequest(f"start ({first}) is after end ({last}).", param="start")
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidRequest(
            f"A report covers at most {MAX_DAYS} days; {first} to {last} is longer.",
            param="start",
        )
    return first, last


@dataclass(frozen=True)
class UsageTable:
    """A usage report as plain rows: the ``group_by`` values (a day as ``date``, a key id or
    None for jobs no key made), then the ``COUNTERS``. What ``render_json`` and
    ``render_csv`` draw, with no model object per row: a 90-day report by day and model is
    900 rows, and building one per row would cost more than the query."""

    start: date
    end: date
    group_by: list[GroupBy]
    rows: list[tuple[object, ...]]

    def report(self) -> UsageReport:
        """The same as pydantic models (for Python callers; the API sends ``render_json``)."""
        empty = {"day": None, "model": None, "key_id": None}
        names = [_FIELD[g] for g in self.group_by]
        return UsageReport(
            start=self.start,
            end=self.end,
            group_by=self.group_by,
            rows=[
                UsageRow.model_validate(
                    {**empty, **dict(zip([*names, *COUNTERS], row, strict=True))}
                )
                for row in self.rows
            ],
        )


_FIELD: dict[GroupBy, str] = {"day": "day", "model": "model", "key": "key_id"}


async def usage_table(
    db: Database, account_id: str, start: date, end: date, group_by: Sequence[GroupBy]
) -> UsageTable:
    """The account's usage from ``start`` to ``end`` (both included, UTC days), summed per
    distinct ``group_by`` values (no grouping: one row of totals)."""

    def read(session: Session) -> list[tuple[object, ...]]:
        rows = repository.summed(session, account_id, start, end, group_by)
        width = len(group_by)
        key_at = group_by.index("key") if "key" in group_by else -1
        day_at = group_by.index("day") if "day" in group_by else -1
        table: list[tuple[object, ...]] = []
        for row in rows:
            values = list(row)
            if key_at >= 0:
                values[key_at] = values[key_at] or None  # "" in the rollup: no key
            if day_at >= 0:
                values[day_at] = _as_date(values[day_at])
            for i in range(width, len(values)):
                values[i] = int(values[i])
            table.append(tuple(values))
        return table

    rows = await db.read(read)
    return UsageTable(start=start, end=end, group_by=list(group_by), rows=rows)


async def usage(
    db: Database, account_id: str, start: date, end: date, group_by: Sequence[GroupBy]
) -> UsageReport:
    """``usage_table`` as pydantic models."""
    return (await usage_table(db, account_id, start, end, group_by)).report()


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _wire(value: object) -> object:
    return value.isoformat() if isinstance(value, date) else value


def render_json(table: UsageTable) -> bytes:
    """The report as ``UsageReport``'s JSON (every row with all of its fields)."""
    names = [_FIELD[g] for g in table.group_by]
    empty = {"day": None, "model": None, "key_id": None}
    rows = [
        {**empty, **dict(zip([*names, *COUNTERS], map(_wire, row), strict=True))}
        for row in table.rows
    ]
    body = {
        "start": table.start.isoformat(),
        "end": table.end.isoformat(),
        "group_by": table.group_by,
        "rows": rows,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def render_csv(table: UsageTable) -> str:
    """The report as CSV: a header row, then one line per group (grouped columns first)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*(_FIELD[g] for g in table.group_by), *COUNTERS])
    writer.writerows([[_wire(v) for v in row] for row in table.rows])
    return out.getvalue()


async def ledger_page(db: Database, account_id: str, *, limit: int, offset: int) -> LedgerPage:
    """A page of the account's ledger, newest first."""
    if not 1 <= limit <= MAX_LEDGER_PAGE:
        raise InvalidRequest(f"limit must be 1 to {MAX_LEDGER_PAGE}.", param="limit")
    if offset < 0:
        raise InvalidRequest("offset must not be negative.", param="offset")

    def read(session: Session) -> list[CreditEntry]:
        entries = repository.ledger_page(session, account_id, limit=limit + 1, offset=offset)
        return [CreditEntry.model_validate(e, from_attributes=True) for e in entries]

    entries = await db.read(read)
    more = len(entries) > limit
    return LedgerPage(
        entries=entries[:limit],
        limit=limit,
        offset=offset,
        next_offset=offset + limit if more else None,
    )


def key_charged(session: Session, account_id: str, key_id: str, start: date, end: date) -> int:
    """Credits charged to the key's jobs that ended from ``start`` to ``end``, in the caller's
    transaction (the job core adds what the key's unfinished jobs still reserve)."""
    return repository.key_credits(session, account_id, key_id, start, end)
