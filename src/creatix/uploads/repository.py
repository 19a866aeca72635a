"""All SQL of the uploads room."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from creatix.uploads.models import UploadRow


def by_path(session: Session, account_id: str, path: str) -> UploadRow | None:
    """The account's upload at ``path``; None for a missing path or another account's."""
    return session.execute(
        select(UploadRow).where(UploadRow.path == path, UploadRow.account_id == account_id)
    ).scalar_one_or_none()


def add(session: Session, row: UploadRow) -> None:
    """Insert a new upload; the unique ``path`` makes a second row for one key impossible."""
    session.add(row)
    session.flush()
