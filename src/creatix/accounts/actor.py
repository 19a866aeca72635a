"""Who calls the account and admin APIs: a signed-in person or an API key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from creatix.accounts.audit import AuditActor

AccountRole = Literal["owner", "member", "key"]


@dataclass(frozen=True)
class Actor:
    kind: Literal["person", "key"]
    id: str
    """The person's id, or the key's id."""
    label: str
    """What the audit log names: the person's email, or ``key:<key id>``."""
    operator: bool
    """May use /api/admin (the operator role, or a key with the ``operator`` scope)."""
    accounts: Mapping[str, AccountRole] = field(default_factory=dict)
    """Accounts this actor may manage via /api/account, by account id, with its role there
    (a key with the ``manage`` scope: its own account, role ``key``)."""
    address: str | None = None
    """The client's address, for the audit log."""

    def may_manage(self, account_id: str) -> bool:
        return account_id in self.accounts

    @property
    def audit(self) -> AuditActor:
        """Who the audit log names for this actor's changes."""
        return AuditActor(kind=self.kind, id=self.id, address=self.address)
