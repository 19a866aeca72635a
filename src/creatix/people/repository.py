"""All SQL of the people room."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from creatix.accounts.models import Account
from creatix.people.models import Membership, Person, PersonSession


def person_by_email(session: Session, email_normalized: str) -> Person | None:
    return session.execute(
        select(Person).where(Person.email_normalized == email_normalized)
    ).scalar_one_or_none()


def person_by_password_token(session: Session, token_hash: str) -> Person | None:
    return session.execute(
        select(Person).where(Person.password_token_hash == token_hash)
    ).scalar_one_or_none()


def people(session: Session, account_id: str | None) -> list[Person]:
    query = select(Person)
    if account_id is not None:
        query = query.join(Membership, Membership.person_id == Person.id).where(
            Membership.account_id == account_id
        )
    return list(session.execute(query.order_by(Person.email_normalized)).scalars())


def memberships_of(
    session: Session, person_ids: Sequence[str]
) -> dict[str, list[tuple[Membership, Account]]]:
    """Each person's memberships with their accounts, by account name."""
    found: dict[str, list[tuple[Membership, Account]]] = {pid: [] for pid in person_ids}
    if not person_ids:
        return found
    rows = session.execute(
        select(Membership, Account)
        .join(Account, Account.id == Membership.account_id)
        .where(Membership.person_id.in_(person_ids))
        .order_by(Account.name)
    )
    for membership, account in rows:
        found[membership.person_id].append((membership, account))
    return found


def session_with_person(session: Session, token_hash: str) -> tuple[PersonSession, Person] | None:
    row = session.execute(
        select(PersonSession, Person)
        .join(Person, Person.id == PersonSession.person_id)
        .where(PersonSession.token_hash == token_hash)
    ).one_or_none()
    return None if row is None else (row[0], row[1])


def touch_session(session: Session, session_id: str, now: datetime) -> None:
    session.execute(
        update(PersonSession).where(PersonSession.id == session_id).values(last_seen_at=now)
    )


def delete_session(session: Session, session_id: str) -> bool:
    deleted = session.execute(
        delete(PersonSession).where(PersonSession.id == session_id).returning(PersonSession.id)
    )
    return deleted.first() is not None


def delete_sessions_of(session: Session, person_id: str, keep: str | None = None) -> int:
    query = delete(PersonSession).where(PersonSession.person_id == person_id)
    if keep is not None:
        query = query.where(PersonSession.id != keep)
    return len(session.execute(query.returning(PersonSession.id)).all())


def delete_expired_sessions(session: Session, now: datetime, idle_since: datetime) -> int:
    """Sessions past their absolute end, or unused since ``idle_since``."""
    expired = or_(PersonSession.expires_at <= now, PersonSession.last_seen_at <= idle_since)
    gone = session.execute(delete(PersonSession).where(expired).returning(PersonSession.id))
    return len(gone.all())
