"""auth version: one counter that moves with every change to a key or account a request's
authentication reads, so each process's cache of authenticated keys knows when to forget

Revision ID: 0020
Revises: 0019
Create Date: 2027-01-24 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY_COLUMNS = (
    "account_id, secret_hash, revoked_at, scopes, allowed_models, budget_daily_credits, "
    "budget_monthly_credits, rate_limit_per_minute"
)
ACCOUNT_COLUMNS = "name, plan, unlimited, content_policy, status, deleted_at"
TRIGGERS = (("api_keys", KEY_COLUMNS), ("accounts", ACCOUNT_COLUMNS))
BUMP = "UPDATE auth_version SET version = version + 1 WHERE id = 1"


def upgrade() -> None:
    op.create_table(
        "auth_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_version")),
    )
    op.execute("INSERT INTO auth_version (id, version) VALUES (1, 0)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION creatix_bump_auth_version() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {BUMP}; RETURN NULL; END $$"
        )
        for table, columns in TRIGGERS:
            op.execute(
                f"CREATE TRIGGER {table}_auth_version AFTER UPDATE OF {columns} OR DELETE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION creatix_bump_auth_version()"
            )
        return
    for table, columns in TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {table}_auth_version_update AFTER UPDATE OF {columns} ON {table} "
            f"BEGIN {BUMP}; END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_auth_version_delete AFTER DELETE ON {table} BEGIN {BUMP}; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, _ in TRIGGERS:
            op.execute(f"DROP TRIGGER {table}_auth_version ON {table}")
        op.execute("DROP FUNCTION creatix_bump_auth_version()")
    else:
        for table, _ in TRIGGERS:
            op.execute(f"DROP TRIGGER {table}_auth_version_update")
            op.execute(f"DROP TRIGGER {table}_auth_version_delete")
    op.drop_table("auth_version")
