"""ad sets: a brief's parts (ordinary jobs), its variants and its composed creatives

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 09:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from creatix.kit.db import UTCDateTime

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ad_sets",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("brand_kit_id", sa.String(length=40), nullable=False),
        sa.Column("kit", sa.JSON(), nullable=False),
        sa.Column("brief", sa.JSON(), nullable=False),
        sa.Column("placements", sa.JSON(), nullable=False),
        sa.Column("variants", sa.Integer(), nullable=False),
        sa.Column("image_model", sa.String(length=100), nullable=False),
        sa.Column("copy_model", sa.String(length=100), nullable=False),
        sa.Column("copy_job_id", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=30), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("credits_reserved", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["copy_job_id"], ["jobs.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ad_sets_account", "ad_sets", ["account_id", "created_at"])
    op.create_index("ix_ad_sets_status", "ad_sets", ["status"])
    op.create_table(
        "ad_set_variants",
        sa.Column("ad_set_id", sa.String(length=40), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("visual_job_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("layout_owner", sa.String(length=100), nullable=True),
        sa.Column("layout_expires_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("headline", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("cta", sa.Text(), nullable=True),
        sa.Column("layout_seconds", sa.Float(), nullable=True),
        sa.Column("error_code", sa.String(length=60), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["ad_set_id"], ["ad_sets.id"]),
        sa.ForeignKeyConstraint(["visual_job_id"], ["jobs.id"]),
        sa.PrimaryKeyConstraint("ad_set_id", "index"),
    )
    op.create_index("ix_ad_set_variants_status", "ad_set_variants", ["status", "layout_expires_at"])
    op.create_table(
        "ad_set_creatives",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("ad_set_id", sa.String(length=40), nullable=False),
        sa.Column("account_id", sa.String(length=40), nullable=False),
        sa.Column("variant", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("placement", sa.String(length=40), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.String(length=300), nullable=False),
        sa.Column("mime_type", sa.String(length=60), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("checksum", sa.String(length=71), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"]),
        sa.ForeignKeyConstraint(["ad_set_id"], ["ad_sets.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("storage_key"),
    )
    op.create_index(
        "ix_ad_set_creatives_set", "ad_set_creatives", ["ad_set_id", "variant", "position"]
    )


def downgrade() -> None:
    op.drop_index("ix_ad_set_creatives_set", table_name="ad_set_creatives")
    op.drop_table("ad_set_creatives")
    op.drop_index("ix_ad_set_variants_status", table_name="ad_set_variants")
    op.drop_table("ad_set_variants")
    op.drop_index("ix_ad_sets_status", table_name="ad_sets")
    op.drop_index("ix_ad_sets_account", table_name="ad_sets")
    op.drop_table("ad_sets")
