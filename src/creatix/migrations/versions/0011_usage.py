"""usage: jobs.key_id, the usage_daily rollup, the audit log, per-key limits

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from creatix.kit.db import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.String(length=40), nullable=True))
        batch_op.create_foreign_key("fk_jobs_key_id_api_keys", "api_keys", ["key_id"], ["id"])
        batch_op.create_index("ix_jobs_key_status", ["key_id", "status"])
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.add_column(sa.Column("allowed_models", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("budget_daily_credits", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("budget_monthly_credits", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rate_limit_per_minute", sa.Integer(), nullable=True))
    op.create_table(
        "usage_daily",
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("images", sa.BigInteger(), nullable=False),
        sa.Column("videos", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.Column("jobs", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_usage_daily_account_id_accounts"
        ),
        sa.PrimaryKeyConstraint(
            "account_id", "key_id", "day", "model", "kind", name="pk_usage_daily"
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.String(length=200), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=True),
        sa.Column("address", sa.String(length=100), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_account_created", "audit_log", ["account_id", "created_at"])
    op.create_index("ix_audit_log_created", "audit_log", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_created", table_name="audit_log")
    op.drop_index("ix_audit_log_account_created", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("usage_daily")
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.drop_column("rate_limit_per_minute")
        batch_op.drop_column("budget_monthly_credits")
        batch_op.drop_column("budget_daily_credits")
        batch_op.drop_column("allowed_models")
    with op.batch_alter_table("jobs") as batch_op:
        batch_op.drop_index("ix_jobs_key_status")
        batch_op.drop_constraint("fk_jobs_key_id_api_keys", type_="foreignkey")
        batch_op.drop_column("key_id")
