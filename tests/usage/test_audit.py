"""The audit log: every account, key and credit change, by whom, from the services and the CLI."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from creatix.accounts import audit
from creatix.accounts import service as accounts
from creatix.accounts.audit import AuditActor
from creatix.accounts.models import AuditEntry
from creatix.accounts.schemas import KeyLimits
from creatix.billing import service as billing
from creatix.kit.db import Database
from creatix.kit.migrate import upgrade_database
from support import creatix_command


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite:///{tmp_path / 'creatix.db'}"
    upgrade_database(url)
    database = Database(url)
    yield database
    await database.dispose()


async def test_each_change_is_recorded_with_its_actor_and_address(db: Database) -> None:
    actor = AuditActor(kind="person", id="per_1", address="203.0.113.9")
    info = await accounts.create_account(db, "acme", "free", unlimited=False, actor=actor)
    await accounts.update_account(db, info.id, plan="paid", actor=actor)
    await accounts.update_account(db, info.id, plan="paid", actor=actor)  # no change: no entry
    key = await accounts.create_key(db, "acme", actor=actor)
    await accounts.set_key_limits(
        db, key.key_id, KeyLimits(allowed_models=["z-image-turbo"]), actor=actor
    )
    await billing.grant(db, "acme", 500, "invoice 7", actor=actor)
    await accounts.revoke_key(db, key.key_id, actor=actor)

    entries = await db.read(lambda session: audit.entries(session, info.id))
    assert [e.action for e in reversed(entries)] == [
        "account.created",
        "account.updated",
        "key.created",
        "key.limits_set",
        "credits.granted",
        "key.revoked",
    ]
    assert {(e.actor_kind, e.actor_id, e.address) for e in entries} == {
        ("person", "per_1", "203.0.113.9")
    }
    by_action = {e.action: e for e in entries}
    assert by_action["account.updated"].detail == {"plan": {"from": "free", "to": "paid"}}
    granted = by_action["credits.granted"].detail
    assert granted is not None
    assert (granted["amount"], granted["note"]) == (500, "invoice 7")
    assert granted["entry"].startswith("led_")  # the ledger entry it made
    assert by_action["key.revoked"].target == key.key_id
    limits = by_action["key.limits_set"].detail
    assert limits is not None
    assert limits["to"]["allowed_models"] == ["z-image-turbo"]


async def test_a_refused_change_leaves_no_entry(db: Database) -> None:
    await accounts.create_account(db, "taken", "free", unlimited=False)
    with pytest.raises(Exception, match="already exists"):
        await accounts.create_account(db, "taken", "free", unlimited=False)

    def count(session: Session) -> int:
        return len(list(session.execute(select(AuditEntry)).scalars()))

    assert await db.read(count) == 1


@pytest.mark.slow
def test_the_cli_audits_as_the_shell_user(tmp_path: Path) -> None:
    env = {**os.environ, "CREATIX_DATA_DIR": str(tmp_path)}
    for args in (("accounts", "create", "cli-acme"), ("credits", "grant", "cli-acme", "50")):
        done = subprocess.run(
            creatix_command(*args, "--json"), capture_output=True, text=True, env=env, check=False
        )
        assert done.returncode == 0, done.stderr

    async def read() -> list[AuditEntry]:
        database = Database(f"sqlite:///{tmp_path / 'creatix.db'}")
        try:
            return await database.read(lambda session: audit.entries(session, None))
        finally:
            await database.dispose()

    entries = asyncio.run(read())
    assert sorted(e.action for e in entries) == ["account.created", "credits.granted"]
    assert {e.actor_kind for e in entries} == {"cli"}
