"""provenance of text answers: the digest of each text job's normalized answer

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from creatix.kit.db import UTCDateTime

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provenance_texts",
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_provenance_texts")),
    )
    op.create_index(op.f("ix_provenance_texts_digest"), "provenance_texts", ["digest"])


def downgrade() -> None:
    op.drop_index(op.f("ix_provenance_texts_digest"), table_name="provenance_texts")
    op.drop_table("provenance_texts")
