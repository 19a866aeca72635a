"""All SQL of the policy room."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creatix.accounts.models import Account
from creatix.policy.models import PolicyRefusal


def insert_refusal(session: Session, refusal: PolicyRefusal) -> None:
    session.add(refusal)


def refusals(
    session: Session, account_id: str | None, limit: int, offset: int
) -> tuple[list[tuple[PolicyRefusal, str]], int]:
    """A page of refusals, newest first, with their account's name; and how many in all."""
    joined = Account.id == PolicyRefusal.account_id
    query = select(PolicyRefusal, Account.name).join(Account, joined)
    count = select(func.count()).select_from(PolicyRefusal)
    if account_id is not None:
        query = query.where(PolicyRefusal.account_id == account_id)
        count = count.where(PolicyRefusal.account_id == account_id)
    rows = session.execute(
        query.order_by(PolicyRefusal.created_at.desc(), PolicyRefusal.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return [(row[0], row[1]) for row in rows], session.execute(count).scalar_one()


def account_policy(session: Session, account_id: str) -> tuple[str, str | None] | None:
    """An account's plan and its policy override."""
    row = session.execute(
        select(Account.plan, Account.content_policy).where(Account.id == account_id)
    ).one_or_none()
    return None if row is None else (row[0], row[1])
