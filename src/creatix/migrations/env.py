"""Alembic environment: migrations run on a synchronous connection to Creatix's database."""

from alembic import context
from sqlalchemy import create_engine, pool

import creatix.accounts.models
import creatix.adsets.models
import creatix.billing.models
import creatix.brands.models
import creatix.jobs.models
import creatix.people.models
import creatix.policy.models
import creatix.provenance.models
import creatix.uploads.models
import creatix.usage.models
import creatix.webhooks.models  # noqa: F401  (registers the tables on Base.metadata)
from creatix.kit.db import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
