"""Accounts and keys. Secrets are shown once and stored as SHA-256 digests.

A secret carries 238 bits of randomness, so an unsalted fast hash is safe here (there is
nothing to brute-force) and lets a request's key be found by an index lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

from sqlalchemy.orm import Session

from creatix.accounts import repository
from creatix.accounts.models import Account, ApiKey
from creatix.accounts.schemas import AccountInfo, KeyInfo, NewKey, Principal
from creatix.kit.clock import utcnow
from creatix.kit.db import Database
from creatix.kit.errors import Conflict, InvalidRequest, NotFound, Unauthorized
from creatix.kit.ids import new_id

SECRET_PREFIX = "sk_live_"
_SECRET_ALPHABET = string.ascii_letters + string.digits
_SECRET_LENGTH = 40


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_secret() -> str:
    return SECRET_PREFIX + "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(_SECRET_LENGTH))


def account_named(session: Session, name: str) -> Account:
    """The named account, within the caller's transaction; ``NotFound`` if there is none."""
    account = repository.account_by_name(session, name)
    if account is None:
        raise NotFound(f"no account named {name!r}", param="account")
    return account


def _account_info(account: Account) -> AccountInfo:
    return AccountInfo(
        id=account.id,
        name=account.name,
        plan=account.plan,
        unlimited=account.unlimited,
        created_at=account.created_at,
    )


def _key_info(key: ApiKey, account: Account) -> KeyInfo:
    return KeyInfo(
        key_id=key.id,
        account=account.name,
        display_prefix=key.display_prefix,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )


async def ensure_account(
    db: Database, name: str, plan: str | None, default_plan: str
) -> AccountInfo:
    """The named account, created on the given (or default) plan; ``plan`` also moves it."""
    if not name.strip():
        raise InvalidRequest("account name must not be empty", param="account")

    def work(session: Session) -> AccountInfo:
        account = repository.account_by_name(session, name)
        if account is None:
            account = Account(
                id=new_id("acct"),
                name=name,
                plan=plan or default_plan,
                unlimited=False,
                created_at=utcnow(),
            )
            session.add(account)
        elif plan is not None:
            account.plan = plan
        return _account_info(account)

    return await db.write(work)


async def create_key(db: Database, account_name: str) -> NewKey:
    secret = _new_secret()

    def work(session: Session) -> NewKey:
        account = account_named(session, account_name)
        key = ApiKey(
            id=new_id("key", 16),
            account_id=account.id,
            secret_hash=hash_secret(secret),
            display_prefix=secret[: len(SECRET_PREFIX) + 4],
            created_at=utcnow(),
        )
        session.add(key)
        return NewKey(**_key_info(key, account).model_dump(), secret=secret)

    return await db.write(work)


async def list_keys(db: Database, account_name: str | None = None) -> list[KeyInfo]:
    def work(session: Session) -> list[KeyInfo]:
        rows = repository.keys_with_accounts(session, account_name)
        return [_key_info(key, account) for key, account in rows]

    return await db.read(work)


async def revoke_key(db: Database, key_id: str) -> None:
    if not await db.write(lambda session: repository.revoke_key(session, key_id, utcnow())):
        raise NotFound(f"no active key {key_id!r}", param="key_id")


def _principal(key: ApiKey, account: Account) -> Principal:
    """Who a live key acts for; ``Unauthorized`` for a revoked one."""
    if key.revoked_at is not None:
        raise Unauthorized("This API key has been revoked.")
    return Principal(
        account_id=account.id,
        account_name=account.name,
        plan=account.plan,
        key_id=key.id,
        unlimited=account.unlimited,
    )


async def authenticate(db: Database, secret: str) -> Principal:
    digest = hash_secret(secret)
    found = await db.read(lambda session: repository.key_with_account(session, digest))
    if found is None or not hmac.compare_digest(found[0].secret_hash, digest):
        raise Unauthorized("Incorrect API key provided.")
    return _principal(*found)


async def create_account(db: Database, name: str, plan: str, *, unlimited: bool) -> AccountInfo:
    """A new account; ``Conflict`` if the name is taken."""
    if not name.strip():
        raise InvalidRequest("account name must not be empty", param="account")

    def work(session: Session) -> AccountInfo:
        if repository.account_by_name(session, name) is not None:
            raise Conflict(f"an account named {name!r} already exists", param="account")
        account = Account(
            id=new_id("acct"), name=name, plan=plan, unlimited=unlimited, created_at=utcnow()
        )
        session.add(account)
        return _account_info(account)

    return await db.write(work)


async def list_accounts(db: Database) -> list[AccountInfo]:
    return await db.read(
        lambda session: [_account_info(a) for a in repository.all_accounts(session)]
    )


async def update_account(
    db: Database, name: str, *, plan: str | None = None, unlimited: bool | None = None
) -> AccountInfo:
    def work(session: Session) -> AccountInfo:
        account = account_named(session, name)
        if plan is not None:
            account.plan = plan
        if unlimited is not None:
            account.unlimited = unlimited
        return _account_info(account)

    return await db.write(work)


_NO_SUCH_KEY_HASH = hash_secret("no such key")


async def authenticate_pair(db: Database, key_id: str, secret: str) -> Principal:
    """The account behind the live key ``key_id`` whose secret is ``secret``.

    For APIs that send a key id and its secret separately (the asset generator's
    ``X-API-ID`` + ``X-API-KEY``). Both must belong to one key: a secret of another key, an
    unknown id and a wrong secret are the same 401, and the secret is compared in constant
    time (against a dummy digest when the id is unknown). A revoked key is a 401 saying so,
    told only to a caller who holds its secret.
    """

    def read(session: Session) -> tuple[ApiKey, Account] | None:
        key = session.get(ApiKey, key_id)
        if key is None:
            return None
        account = session.get(Account, key.account_id)
        return None if account is None else (key, account)

    found = await db.read(read) if key_id else None
    expected = found[0].secret_hash if found is not None else _NO_SUCH_KEY_HASH
    matches = hmac.compare_digest(expected, hash_secret(secret))
    if found is None or not matches:
        raise Unauthorized("Incorrect API ID or API key provided.")
    return _principal(*found)
