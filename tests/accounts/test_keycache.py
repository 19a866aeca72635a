"""Authenticated keys kept per process (``accounts/keycache.py``): two ``Database`` objects on
one database stand for two processes (each its own engine, so neither hears the other's
commits in memory); what one changes, the other sees at its next version check, on SQLite
and PostgreSQL (``empty_database_url``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from creatix.accounts import service as accounts
from creatix.accounts.keycache import KeyCache, auth_version
from creatix.accounts.schemas import KeyLimits
from creatix.kit.db import Database
from creatix.kit.errors import Unauthorized
from creatix.kit.migrate import upgrade_database


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def two_processes(empty_database_url: str) -> AsyncIterator[tuple[Database, Database]]:
    await asyncio.to_thread(upgrade_database, empty_database_url)
    first, second = Database(empty_database_url), Database(empty_database_url)
    yield first, second
    await first.dispose()
    await second.dispose()


async def _key(db: Database, name: str = "acme") -> tuple[str, str, str]:
    account = await accounts.ensure_account(db, name, "paid", "free")
    key = await accounts.create_account_key(db, account.id, scopes=["generate", "manage"])
    return account.id, key.key_id, key.secret


async def _refused(attempt: Callable[[], Awaitable[object]]) -> bool:
    try:
        await attempt()
    except Unauthorized:
        return True
    return False


async def test_a_kept_key_costs_no_read_until_the_version_moves(
    two_processes: tuple[Database, Database],
) -> None:
    first, second = two_processes
    _, key_id, secret = await _key(second)
    clock = Clock()
    cache = KeyCache(first, clock=clock)
    for _ in range(5):
        principal = await cache.authenticate(secret)
        clock.now += 1
    assert principal.key_id == key_id
    assert cache.reads == 1
    version = await first.read(auth_version)
    await accounts.touch(second, key_id, None)  # recording a key's use changes nothing
    assert await first.read(auth_version) == version
    clock.now += 1
    await cache.authenticate(secret)
    assert cache.reads == 1


async def test_a_revocation_in_another_process_is_seen_at_the_next_check(
    two_processes: tuple[Database, Database],
) -> None:
    first, second = two_processes
    _, key_id, secret = await _key(second)
    clock = Clock()
    cache = KeyCache(first, clock=clock)
    await cache.authenticate(secret)
    await cache.authenticate_pair(key_id, secret)
    await accounts.revoke_key(second, key_id)
    # Within the check interval this process has not looked: the kept key still answers.
    clock.now += cache.check_seconds / 2
    assert (await cache.authenticate(secret)).key_id == key_id
    clock.now += cache.check_seconds
    assert await _refused(lambda: cache.authenticate(secret))
    assert await _refused(lambda: cache.authenticate_pair(key_id, secret))


@pytest.mark.parametrize(
    "change",
    ["suspend", "plan", "scopes_by_limits", "delete", "content_policy"],
)
async def test_account_and_key_changes_elsewhere_are_seen(
    two_processes: tuple[Database, Database], change: str
) -> None:
    first, second = two_processes
    account_id, key_id, secret = await _key(second)
    clock = Clock()
    cache = KeyCache(first, clock=clock)
    before = await cache.authenticate(secret)
    if change == "suspend":
        await accounts.update_account(second, account_id, status="suspended")
    elif change == "plan":
        await accounts.update_account(second, account_id, plan="unlimited")
    elif change == "scopes_by_limits":
        await accounts.set_key_limits(second, key_id, KeyLimits(rate_limit_per_minute=7))
    elif change == "delete":
        await accounts.delete_account(second, account_id)
    else:
        await accounts.set_content_policy(second, account_id, "strict", ["strict"])
    clock.now += cache.check_seconds
    if change == "delete":
        assert await _refused(lambda: cache.authenticate(secret))
        return
    after = await cache.authenticate(secret)
    assert cache.reads == 2
    assert after != before
    assert (after.status, after.plan, after.rate_limit_per_minute, after.content_policy) == {
        "suspend": ("suspended", "paid", None, None),
        "plan": ("active", "unlimited", None, None),
        "scopes_by_limits": ("active", "paid", 7, None),
        "content_policy": ("active", "paid", None, "strict"),
    }[change]


async def test_a_change_in_this_process_is_seen_at_once(
    two_processes: tuple[Database, Database],
) -> None:
    first, _ = two_processes
    _, key_id, secret = await _key(first)
    cache = KeyCache(first, clock=Clock())  # the clock never moves: no version check is due
    await cache.authenticate(secret)
    await accounts.revoke_key(first, key_id)
    assert await _refused(lambda: cache.authenticate(secret))


async def test_unknown_secrets_are_never_kept(two_processes: tuple[Database, Database]) -> None:
    first, second = two_processes
    cache = KeyCache(first, clock=Clock())
    for _ in range(3):
        assert await _refused(lambda: cache.authenticate("sk_live_nothing"))
    assert cache.reads == 3
    _, key_id, secret = await _key(second)
    assert await _refused(lambda: cache.authenticate_pair(key_id, secret + "x"))
