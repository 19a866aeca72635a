"""Accounts and keys. Secrets are shown once and stored as SHA-256 digests.

A secret carries 238 bits of randomness, so an unsalted fast hash is safe here (there is
nothing to brute-force) and lets a request's key be found by an index lookup.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from creatix.accounts import audit, repository
from creatix.accounts.audit import SYSTEM, AuditActor, record_by
from creatix.accounts.models import Account, ApiKey
from creatix.accounts.schemas import (
    SCOPES,
    AccountInfo,
    AccountStatus,
    AuditPage,
    AuditRecord,
    KeyInfo,
    KeyLimits,
    NewKey,
    Principal,
    Scope,
)
from creatix.kit.clock import utcnow
from creatix.kit.db import Database
from creatix.kit.errors import Conflict, Forbidden, InvalidRequest, NotFound, Unauthorized
from creatix.kit.ids import new_id

SECRET_PREFIX = "sk_live_"
_SECRET_ALPHABET = string.ascii_letters + string.digits
_SECRET_LENGTH = 40
LAST_USED_RESOLUTION = timedelta(minutes=1)
"""A key's ``last_used_at`` is written at most this often."""
DEFAULT_SCOPES: tuple[Scope, ...] = ("generate",)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_secret() -> str:
    return SECRET_PREFIX + "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(_SECRET_LENGTH))


def parse_scopes(stored: str) -> tuple[Scope, ...]:
    """A key's stored scopes (space-separated), in ``SCOPES`` order; unknown words dropped."""
    words = set(stored.split())
    return tuple(scope for scope in SCOPES if scope in words)


def _scopes_column(scopes: Iterable[str]) -> str:
    wanted = set(scopes)
    unknown = wanted - set(SCOPES)
    if unknown:
        raise InvalidRequest(
            f"Unknown scope {sorted(unknown)[0]!r}; scopes: {', '.join(SCOPES)}.", param="scopes"
        )
    if not wanted:
        raise InvalidRequest("A key needs at least one scope.", param="scopes")
    return " ".join(scope for scope in SCOPES if scope in wanted)


def account_named(session: Session, name: str) -> Account:
    """The named account, within the caller's transaction; ``NotFound`` if there is none (or
    it was deleted)."""
    account = repository.account_by_name(session, name)
    if account is None or account.deleted_at is not None:
        raise NotFound(f"no account named {name!r}", param="account")
    return account


def account_by_id(session: Session, account_id: str) -> Account:
    """The account with this id, within the caller's transaction; ``NotFound`` if there is
    none (or it was deleted)."""
    account = session.get(Account, account_id)
    if account is None or account.deleted_at is not None:
        raise NotFound(f"No account with id '{account_id}'.", param="account_id")
    return account


async def account_id_named(db: Database, name: str) -> str:
    """The id of the named account (how the CLI, which names accounts, reaches the services
    the HTTP API calls by id)."""
    return await db.read(lambda session: account_named(session, name).id)


async def get_account(db: Database, account_id: str) -> AccountInfo:
    return await db.read(lambda session: _account_info(account_by_id(session, account_id)))


def _account_info(account: Account) -> AccountInfo:
    return AccountInfo(
        id=account.id,
        name=account.name,
        plan=account.plan,
        unlimited=account.unlimited,
        status="suspended" if account.status == "suspended" else "active",
        created_at=account.created_at,
        deleted_at=account.deleted_at,
        content_policy=account.content_policy,
    )


def _key_info(key: ApiKey, account: Account) -> KeyInfo:
    return KeyInfo(
        key_id=key.id,
        account=account.name,
        account_id=account.id,
        name=key.name,
        scopes=list(parse_scopes(key.scopes)),
        display_prefix=key.display_prefix,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
        last_used_at=key.last_used_at,
        limits=_limits_of(key),
    )


def _limits_of(key: ApiKey) -> KeyLimits:
    return KeyLimits(
        allowed_models=key.allowed_models,
        budget_daily_credits=key.budget_daily_credits,
        budget_monthly_credits=key.budget_monthly_credits,
        rate_limit_per_minute=key.rate_limit_per_minute,
    )


async def ensure_account(
    db: Database,
    name: str,
    plan: str | None,
    default_plan: str,
    *,
    actor: AuditActor = SYSTEM,
) -> AccountInfo:
    """The named account, created on the given (or default) plan; ``plan`` also moves it."""
    if not name.strip():
        raise InvalidRequest("account name must not be empty", param="account")

    def work(session: Session) -> AccountInfo:
        account = repository.account_by_name(session, name)
        if account is not None and account.deleted_at is not None:
            raise Conflict(f"the account named {name!r} was deleted", param="account")
        if account is None:
            account = Account(
                id=new_id("acct"),
                name=name,
                plan=plan or default_plan,
                unlimited=False,
                created_at=utcnow(),
            )
            session.add(account)
            record_by(
                session,
                actor,
                account_id=account.id,
                action="account.created",
                target=account.id,
                detail={"name": name, "plan": account.plan},
            )
        elif plan is not None and plan != account.plan:
            record_by(
                session,
                actor,
                account_id=account.id,
                action="account.updated",
                target=account.id,
                detail={"plan": {"from": account.plan, "to": plan}},
            )
            account.plan = plan
        return _account_info(account)

    return await db.write(work)


async def create_account_key(
    db: Database,
    account_id: str,
    *,
    scopes: Iterable[str] = DEFAULT_SCOPES,
    name: str | None = None,
    actor: AuditActor = SYSTEM,
) -> NewKey:
    """A new key of the account (``NotFound`` if there is none); its secret only here."""
    secret = _new_secret()
    stored_scopes = _scopes_column(scopes)
    if name is not None and not name.strip():
        raise InvalidRequest("A key's name must not be blank.", param="name")

    def work(session: Session) -> NewKey:
        account = account_by_id(session, account_id)
        key = ApiKey(
            id=new_id("key", 16),
            account_id=account.id,
            secret_hash=hash_secret(secret),
            display_prefix=secret[: len(SECRET_PREFIX) + 4],
            created_at=utcnow(),
            scopes=stored_scopes,
            name=name,
        )
        session.add(key)
        record_by(session, actor, account_id=account.id, action="key.created", target=key.id)
        return NewKey(**_key_info(key, account).model_dump(), secret=secret)

    return await db.write(work)


async def create_key(
    db: Database,
    account_name: str,
    *,
    scopes: Iterable[str] = DEFAULT_SCOPES,
    name: str | None = None,
    actor: AuditActor = SYSTEM,
) -> NewKey:
    """``create_account_key`` for the named account."""
    account_id = await account_id_named(db, account_name)
    return await create_account_key(db, account_id, scopes=scopes, name=name, actor=actor)


async def list_account_keys(db: Database, account_id: str | None) -> list[KeyInfo]:
    """The account's keys (every account's with None), revoked ones too, oldest first."""

    def work(session: Session) -> list[KeyInfo]:
        if account_id is not None:
            account_by_id(session, account_id)
        rows = repository.keys_with_accounts(session, account_id=account_id)
        return [_key_info(key, account) for key, account in rows]

    return await db.read(work)


async def list_keys(db: Database, account_name: str | None = None) -> list[KeyInfo]:
    """``list_account_keys`` for the named account (every account's with None)."""
    account_id = None if account_name is None else await account_id_named(db, account_name)
    return await list_account_keys(db, account_id)


async def revoke_key(
    db: Database,
    key_id: str,
    *,
    account_id: str | None = None,
    actor: AuditActor = SYSTEM,
) -> KeyInfo:
    """Revoke a live key (of ``account_id``, when given: another account's key is a
    ``NotFound``); the key as it is now."""

    def work(session: Session) -> KeyInfo:
        key = session.get(ApiKey, key_id)
        if key is None or (account_id is not None and key.account_id != account_id):
            raise NotFound(f"No key with id '{key_id}'.", param="key_id")
        if key.revoked_at is not None:
            raise NotFound(f"no active key {key_id!r}", param="key_id")
        account = session.get(Account, key.account_id)
        assert account is not None
        repository.revoke_key(session, key_id, utcnow())
        record_by(session, actor, account_id=key.account_id, action="key.revoked", target=key_id)
        session.refresh(key)
        return _key_info(key, account)

    return await db.write(work)


async def set_key_limits(
    db: Database,
    key_id: str,
    limits: KeyLimits,
    *,
    max_rate_limit: int | None = None,
    known_models: Collection[str] | None = None,
    account_id: str | None = None,
    actor: AuditActor = SYSTEM,
) -> KeyInfo:
    """Replace the key's own limits (a null field: no limit of that kind).

    ``max_rate_limit`` is the plan's requests per minute, which a key's own limit must not
    exceed; ``known_models`` the catalog's model ids, which every allowed model must be one
    of; with ``account_id`` the key must be that account's (another's is a ``NotFound``).
    """
    unknown = sorted(set(limits.allowed_models or ()) - set(known_models or ()))
    if known_models is not None and unknown:
        raise InvalidRequest(
            f"allowed_models names models that do not exist: {', '.join(unknown)}.",
            param="allowed_models",
        )
    if (
        limits.rate_limit_per_minute is not None
        and max_rate_limit is not None
        and limits.rate_limit_per_minute > max_rate_limit
    ):
        raise InvalidRequest(
            f"rate_limit_per_minute must be at most the plan's {max_rate_limit}.",
            param="rate_limit_per_minute",
        )

    def work(session: Session) -> KeyInfo:
        key = session.get(ApiKey, key_id)
        if key is None or (account_id is not None and key.account_id != account_id):
            raise NotFound(f"no key {key_id!r}", param="key_id")
        account = session.get(Account, key.account_id)
        assert account is not None  # a foreign key
        before = _limits_of(key)
        key.allowed_models = (
            None if limits.allowed_models is None else sorted(set(limits.allowed_models))
        )
        key.budget_daily_credits = limits.budget_daily_credits
        key.budget_monthly_credits = limits.budget_monthly_credits
        key.rate_limit_per_minute = limits.rate_limit_per_minute
        record_by(
            session,
            actor,
            account_id=key.account_id,
            action="key.limits_set",
            target=key.id,
            detail={"from": before.model_dump(), "to": _limits_of(key).model_dump()},
        )
        return _key_info(key, account)

    return await db.write(work)


def _principal(key: ApiKey, account: Account) -> Principal:
    """Who a live key acts for; ``Unauthorized`` for a revoked one (or a deleted account's)."""
    if key.revoked_at is not None or account.deleted_at is not None:
        raise Unauthorized("This API key has been revoked.")
    return Principal(
        account_id=account.id,
        account_name=account.name,
        plan=account.plan,
        key_id=key.id,
        unlimited=account.unlimited,
        scopes=parse_scopes(key.scopes),
        status="suspended" if account.status == "suspended" else "active",
        rate_limit_per_minute=key.rate_limit_per_minute,
        content_policy=account.content_policy,
    )


CONSOLE_KEY_PREFIX = "console:"
"""The ``key_id`` of a signed-in person's principal (``console:<person id>``): never a stored
key's id, so jobs it submits record no key (``jobs.key_id`` NULL) and no key's limits apply."""


def may_submit(principal: Principal) -> Principal:
    """Refuse a suspended account's submissions (403 ``account_suspended``), as the dialects
    refuse its keys."""
    if principal.status == "suspended":
        raise Forbidden("This account is suspended.", code="account_suspended")
    return principal


async def person_principal(db: Database, account_id: str, person_id: str) -> Principal:
    """Who a signed-in person acts as when generating for ``account_id`` (which the caller
    checked they belong to): the account's plan, unlimited flag, status and content policy,
    with the key id ``console:<person id>``. A deleted account is a 404."""
    account = await db.read(lambda session: account_by_id(session, account_id))
    return Principal(
        account_id=account.id,
        account_name=account.name,
        plan=account.plan,
        key_id=f"{CONSOLE_KEY_PREFIX}{person_id}",
        unlimited=account.unlimited,
        scopes=DEFAULT_SCOPES,
        status="suspended" if account.status == "suspended" else "active",
        content_policy=account.content_policy,
    )


async def key_principal(db: Database, key_id: str) -> Principal:
    """The principal of the live key ``key_id`` (its own limits and budgets apply), for a
    request it already authenticated; a revoked or unknown key is a 401."""

    def read(session: Session) -> tuple[ApiKey, Account] | None:
        key = session.get(ApiKey, key_id)
        account = session.get(Account, key.account_id) if key is not None else None
        return None if key is None or account is None else (key, account)

    found = await db.read(read)
    if found is None:
        raise Unauthorized("Incorrect API key provided.")
    return _principal(*found)


@dataclass(frozen=True)
class AuthenticatedKey:
    """A live key found by its secret: who it acts for, and when its use was last recorded."""

    principal: Principal
    last_used_at: datetime | None


async def touch(db: Database, key_id: str, last_used_at: datetime | None) -> datetime | None:
    """Record the key's use, at most once per ``LAST_USED_RESOLUTION``; when its use is
    recorded as of now."""
    now = utcnow()
    if last_used_at is not None and now - last_used_at < LAST_USED_RESOLUTION:
        return last_used_at
    before = now - LAST_USED_RESOLUTION
    await db.write(lambda session: repository.touch_key(session, key_id, now, before))
    return now


async def key_by_secret(db: Database, secret: str) -> AuthenticatedKey:
    """The live key whose secret is ``secret`` (its use not recorded); ``Unauthorized``
    for an unknown or revoked one."""
    digest = hash_secret(secret)
    found = await db.read(lambda session: repository.key_with_account(session, digest))
    if found is None or not hmac.compare_digest(found[0].secret_hash, digest):
        raise Unauthorized("Incorrect API key provided.")
    return AuthenticatedKey(_principal(*found), found[0].last_used_at)


async def authenticate(db: Database, secret: str) -> Principal:
    """The principal of the live key whose secret is ``secret``, its use recorded (without a
    cache: ``keycache.KeyCache`` is what requests use)."""
    found = await key_by_secret(db, secret)
    await touch(db, found.principal.key_id, found.last_used_at)
    return found.principal


async def create_account(
    db: Database, name: str, plan: str, *, unlimited: bool, actor: AuditActor = SYSTEM
) -> AccountInfo:
    """A new account; ``Conflict`` if the name is taken."""
    if not name.strip():
        raise InvalidRequest("account name must not be empty", param="account")

    def work(session: Session) -> AccountInfo:
        if repository.account_by_name(session, name) is not None:
            raise Conflict(f"An account named {name!r} already exists.", param="name")
        account = Account(
            id=new_id("acct"), name=name, plan=plan, unlimited=unlimited, created_at=utcnow()
        )
        session.add(account)
        record_by(
            session,
            actor,
            account_id=account.id,
            action="account.created",
            target=account.id,
            detail={"name": name, "plan": plan, "unlimited": unlimited},
        )
        return _account_info(account)

    return await db.write(work)


async def list_accounts(db: Database) -> list[AccountInfo]:
    """Every account not deleted, by name."""
    return await db.read(
        lambda session: [
            _account_info(a) for a in repository.all_accounts(session) if a.deleted_at is None
        ]
    )


async def update_account(
    db: Database,
    account_id: str,
    *,
    name: str | None = None,
    plan: str | None = None,
    unlimited: bool | None = None,
    status: AccountStatus | None = None,
    actor: AuditActor = SYSTEM,
) -> AccountInfo:
    """Rename, move to a plan, mark unlimited, suspend or reactivate an account (the plan is
    the caller's to check against the catalog)."""
    if name is not None and not name.strip():
        raise InvalidRequest("account name must not be empty", param="name")

    def work(session: Session) -> AccountInfo:
        account = account_by_id(session, account_id)
        changes: dict[str, object] = {}
        if name is not None and name != account.name:
            if repository.account_by_name(session, name) is not None:
                raise Conflict(f"An account named {name!r} already exists.", param="name")
            changes["name"] = {"from": account.name, "to": name}
            account.name = name
        if plan is not None and plan != account.plan:
            changes["plan"] = {"from": account.plan, "to": plan}
            account.plan = plan
        if unlimited is not None and unlimited != account.unlimited:
            changes["unlimited"] = {"from": account.unlimited, "to": unlimited}
            account.unlimited = unlimited
        if status is not None and status != account.status:
            changes["status"] = {"from": account.status, "to": status}
            account.status = status
        if changes:
            record_by(
                session,
                actor,
                account_id=account.id,
                action="account.updated",
                target=account.id,
                detail=changes,
            )
        return _account_info(account)

    return await db.write(work)


async def delete_account(
    db: Database, account_id: str, *, actor: AuditActor = SYSTEM
) -> AccountInfo:
    """Soft-delete an account: it is listed and found no more, and its keys stop working;
    its rows (ledger, jobs, keys) stay."""

    def work(session: Session) -> AccountInfo:
        account = account_by_id(session, account_id)
        account.deleted_at = utcnow()
        record_by(
            session, actor, account_id=account.id, action="account.deleted", target=account.id
        )
        return _account_info(account)

    return await db.write(work)


async def set_content_policy(
    db: Database,
    account_id: str,
    policy: str | None,
    known: Collection[str],
    *,
    actor: AuditActor = SYSTEM,
) -> AccountInfo:
    """Override the account's plan's content policy with ``policy`` (one of ``known``, the
    catalog's policies); None goes back to the plan's."""
    if policy is not None and policy not in known:
        names = ", ".join(sorted(known))
        raise InvalidRequest(
            f"unknown content policy {policy!r}; the catalog has: {names}", param="policy"
        )

    def work(session: Session) -> AccountInfo:
        account = account_by_id(session, account_id)
        account.content_policy = policy
        record_by(
            session,
            actor,
            account_id=account.id,
            action="account.policy_set",
            target=account.id,
            detail={"content_policy": policy},
        )
        return _account_info(account)

    return await db.write(work)


_NO_SUCH_KEY_HASH = hash_secret("no such key")


async def authenticate_pair(db: Database, key_id: str, secret: str) -> Principal:
    """``key_by_pair``, its use recorded (without a cache)."""
    found = await key_by_pair(db, key_id, secret)
    await touch(db, found.principal.key_id, found.last_used_at)
    return found.principal


async def key_by_pair(db: Database, key_id: str, secret: str) -> AuthenticatedKey:
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
    return AuthenticatedKey(_principal(*found), found[0].last_used_at)


async def audit_page(db: Database, account_id: str | None, *, limit: int, offset: int) -> AuditPage:
    """A page of the audit log, newest first, of one account or (None) of all."""

    def read(session: Session) -> list[AuditRecord]:
        rows = audit.entries(session, account_id, limit=limit + 1, offset=offset)
        return [AuditRecord.model_validate(row, from_attributes=True) for row in rows]

    records = await db.read(read)
    more = len(records) > limit
    return AuditPage(
        entries=records[:limit],
        limit=limit,
        offset=offset,
        next_offset=offset + limit if more else None,
    )
