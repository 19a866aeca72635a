"""jobs and assets get UUIDv7 ids; a job's old ``job_…`` id stays as its ``legacy_id``

The references type generation, task and asset ids as UUIDs. Every job whose id is not one gets
a UUIDv7 made from its ``created_at`` (so the ids keep the jobs' order), and its old id moves to
``legacy_id``, where lookups still find it: ids handed out before keep resolving. The rows that
cite a job (assets, ledger entries, webhook deliveries, idempotency keys) follow it. Assets are
renumbered in place: nothing looks an asset up by id, and their stored files keep their keys.

A job's primary key cannot be updated under PostgreSQL's foreign keys, so each job is copied
under its new id, its citing rows are moved to the copy, and the original is deleted.

Downgrading drops ``legacy_id``; the UUIDs stay (the older code stores any id up to 40
characters), so the old ``job_…`` ids stop resolving.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 09:30:00
"""

import re
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import uuid_utils
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CITING = ("assets", "ledger_entries", "webhook_deliveries", "idempotency_keys")


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("legacy_id", sa.String(length=40), nullable=True))
        batch_op.create_index("uq_jobs_legacy_id", ["legacy_id"], unique=True)
    bind = op.get_bind()
    _rekey_jobs(bind)
    _rekey_assets(bind)


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_index("uq_jobs_legacy_id")
        batch_op.drop_column("legacy_id")


def _uuid7_at(created_at: datetime | str | None) -> str:
    if isinstance(created_at, str):
        created_at = datetime.fromisoformat(created_at)
    if created_at is None:
        return str(uuid_utils.uuid7())
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    nanoseconds = int(created_at.timestamp()) * 10**9 + created_at.microsecond * 1000
    return str(uuid_utils.uuid7(nanoseconds=nanoseconds))


def _not_yet_uuids(bind: sa.Connection, table: sa.Table) -> list[tuple[str, str]]:
    """(old id, new id) for every row of ``table`` whose id is not a UUID, oldest first."""
    rows = bind.execute(
        sa.select(table.c.id, table.c.created_at).order_by(table.c.created_at, table.c.id)
    ).all()
    return [(row.id, _uuid7_at(row.created_at)) for row in rows if not _UUID.fullmatch(row.id)]


def _rekey_jobs(bind: sa.Connection) -> None:
    jobs = sa.Table("jobs", sa.MetaData(), autoload_with=bind)
    renames = _not_yet_uuids(bind, jobs)
    if not renames:
        return
    id_map = op.create_table(
        "job_id_map",
        sa.Column("old_id", sa.String(length=40), primary_key=True),
        sa.Column("new_id", sa.String(length=40), nullable=False),
    )
    op.bulk_insert(id_map, [{"old_id": old, "new_id": new} for old, new in renames])
    copied = [c.name for c in jobs.columns if c.name not in ("id", "legacy_id")]
    copies = sa.select(id_map.c.new_id, jobs.c.id, *(jobs.c[name] for name in copied)).select_from(
        jobs.join(id_map, id_map.c.old_id == jobs.c.id)
    )
    bind.execute(jobs.insert().from_select(["id", "legacy_id", *copied], copies))
    old_ids = sa.select(id_map.c.old_id)
    for name in _CITING:
        citing = sa.Table(name, sa.MetaData(), autoload_with=bind)
        new_id = (
            sa.select(id_map.c.new_id).where(id_map.c.old_id == citing.c.job_id).scalar_subquery()
        )
        bind.execute(citing.update().where(citing.c.job_id.in_(old_ids)).values(job_id=new_id))
    bind.execute(jobs.delete().where(jobs.c.id.in_(old_ids)))
    op.drop_table("job_id_map")


def _rekey_assets(bind: sa.Connection) -> None:
    assets = sa.Table("assets", sa.MetaData(), autoload_with=bind)
    renames = _not_yet_uuids(bind, assets)
    if renames:
        bind.execute(
            assets.update()
            .where(assets.c.id == sa.bindparam("old"))
            .values(id=sa.bindparam("new")),
            [{"old": old, "new": new} for old, new in renames],
        )
