"""Per-account signing secrets in the Standard Webhooks format: ``whsec_`` + base64 of 32
random bytes. One secret per account, made on first use; rotating replaces it at once."""

from __future__ import annotations

import base64
import os
from datetime import datetime

from sqlalchemy.orm import Session

from creatix.webhooks.models import WebhookSecret

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(os.urandom(SECRET_BYTES)).decode()


def current(session: Session, account_id: str) -> WebhookSecret | None:
    return session.get(WebhookSecret, account_id)


def secret_for(session: Session, account_id: str, now: datetime) -> WebhookSecret:
    """The account's secret, created on first use."""
    found = current(session, account_id)
    if found is not None:
        return found
    created = WebhookSecret(account_id=account_id, secret=new_secret(), created_at=now)
    session.add(created)
    session.flush()
    return created


def rotate(session: Session, account_id: str, now: datetime) -> WebhookSecret:
    """Replace the account's secret (or make its first); the old one stops verifying."""
    found = current(session, account_id)
    if found is None:
        return secret_for(session, account_id, now)
    found.secret = new_secret()
    found.created_at = now
    session.flush()
    return found
