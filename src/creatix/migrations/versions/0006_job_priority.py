"""fair claiming: job priority (from the account's plan) and fair-queue places

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 22:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("priority", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("fair_seq", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.create_index("ix_jobs_fair", ["status", "priority", "fair_seq"])
        batch_op.create_index(
            "ix_jobs_queued_fair_seq",
            ["fair_seq"],
            sqlite_where=sa.text("status = 'queued'"),
            postgresql_where=sa.text("status = 'queued'"),
        )
    op.create_table(
        "fair_queue",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("account_id"),
    )


def downgrade() -> None:
    op.drop_table("fair_queue")
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_index("ix_jobs_queued_fair_seq")
        batch_op.drop_index("ix_jobs_fair")
        batch_op.drop_column("fair_seq")
        batch_op.drop_column("priority")
