"""an account's jobs by (created_at, id): keyset pages of the account API's generations

Revision ID: 0016
Revises: 0015
Create Date: 2027-01-10 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_jobs_account_listing", ["account_id", "created_at", "id"], unique=False
        )
        batch_op.drop_index("ix_jobs_account_created")


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_account_created", ["account_id", "created_at"], unique=False)
        batch_op.drop_index("ix_jobs_account_listing")
