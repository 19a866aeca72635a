"""brand kits: an account's logo, colours, font, tone, banned words, CTA and legal line

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from creatix.kit.db import UTCDateTime

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "brand_kits",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("primary_color", sa.String(length=7), nullable=False),
        sa.Column("secondary_color", sa.String(length=7), nullable=False),
        sa.Column("background_color", sa.String(length=7), nullable=False),
        sa.Column("text_color", sa.String(length=7), nullable=False),
        sa.Column("font_name", sa.String(length=200), nullable=False),
        sa.Column("font_key", sa.String(length=300), nullable=True),
        sa.Column("logo_key", sa.String(length=300), nullable=True),
        sa.Column("logo_mime_type", sa.String(length=40), nullable=True),
        sa.Column("tone_of_voice", sa.Text(), nullable=False),
        sa.Column("banned_words", sa.JSON(), nullable=False),
        sa.Column("default_cta", sa.String(length=100), nullable=True),
        sa.Column("legal_line", sa.String(length=300), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_brand_kits_account", "brand_kits", ["account_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_brand_kits_account", table_name="brand_kits")
    op.drop_table("brand_kits")
