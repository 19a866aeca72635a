"""provenance: the invisible mark's payload of each job, to find the job from a marked file

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 09:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from creatix.kit.db import UTCDateTime

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provenance_marks",
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id"),
    )
    op.create_index("ix_provenance_marks_payload", "provenance_marks", ["payload"])


def downgrade() -> None:
    op.drop_index("ix_provenance_marks_payload", table_name="provenance_marks")
    op.drop_table("provenance_marks")
