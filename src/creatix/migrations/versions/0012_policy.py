"""content policy: refusal records, and accounts' policy override

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from creatix.kit.db import UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("content_policy", sa.String(40), nullable=True))
    op.create_table(
        "policy_refusals",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("account_id", sa.String(40), sa.ForeignKey("accounts.id"), nullable=False),
        sa.Column("key_id", sa.String(40), nullable=True),
        sa.Column("job_id", sa.String(40), nullable=True),
        sa.Column("dialect", sa.String(40), nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("policy", sa.String(40), nullable=False),
        sa.Column("category", sa.String(60), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("matched", sa.String(200), nullable=True),
        sa.Column("field", sa.String(100), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_policy_refusals_account_created", "policy_refusals", ["account_id", "created_at"]
    )
    op.create_index("ix_policy_refusals_created_at", "policy_refusals", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_policy_refusals_created_at", table_name="policy_refusals")
    op.drop_index("ix_policy_refusals_account_created", table_name="policy_refusals")
    op.drop_table("policy_refusals")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("content_policy")
