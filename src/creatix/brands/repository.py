"""All SQL of the brand-kit room."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from creatix.brands.models import BrandKitRow


def add(session: Session, row: BrandKitRow) -> None:
    session.add(row)
    session.flush()


def owned(session: Session, account_id: str, kit_id: str) -> BrandKitRow | None:
    """The account's kit ``kit_id``; None for an unknown id or another account's."""
    row = session.get(BrandKitRow, kit_id)
    return row if row is not None and row.account_id == account_id else None


def of_account(session: Session, account_id: str) -> list[BrandKitRow]:
    """The account's kits, oldest first."""
    query = (
        select(BrandKitRow)
        .where(BrandKitRow.account_id == account_id)
        .order_by(BrandKitRow.created_at, BrandKitRow.id)
    )
    return list(session.scalars(query))


def delete(session: Session, row: BrandKitRow) -> None:
    session.delete(row)
    session.flush()
