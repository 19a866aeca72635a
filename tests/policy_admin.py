"""What the content-policy tests ask as an operator: an operator key, an account's id by name,
its refusals, and putting it under a policy."""

from __future__ import annotations

from functools import cache
from typing import Any

import httpx

from creatix.accounts import service as accounts
from support import LiveServer


@cache
def operator_key(server: LiveServer) -> str:
    """The secret of an ``operator`` key (of an account of its own)."""
    assert server.runtime is not None
    name, _ = server.funded_account()
    return server.call(accounts.create_key(server.runtime.db, name, scopes=["operator"])).secret


def account_id(server: LiveServer, name: str) -> str:
    assert server.runtime is not None
    return server.call(accounts.account_id_named(server.runtime.db, name))


def list_refusals(server: LiveServer, **params: Any) -> httpx.Response:
    with server.client(operator_key(server)) as client:
        return client.get("/api/admin/policy/refusals", params=params)


def refusals(server: LiveServer, account: str) -> list[dict[str, Any]]:
    answer = list_refusals(server, account_id=account_id(server, account))
    assert answer.status_code == 200, answer.text
    data: list[dict[str, Any]] = answer.json()["data"]
    return data


def put_policy(server: LiveServer, account: str, policy: str | None) -> httpx.Response:
    """An operator's ``PUT /api/admin/accounts/{id}/content-policy``."""
    path = f"/api/admin/accounts/{account_id(server, account)}/content-policy"
    with server.client(operator_key(server)) as client:
        return client.put(path, json={"policy": policy})
