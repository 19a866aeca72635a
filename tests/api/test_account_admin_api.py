"""The account API (``/api/account/{id}``) and the operator API (``/api/admin/accounts``),
through a real HTTP client against a real server: sessions and scoped keys, the 401/403/404/409
answers, another account's ids, and what the dialects do with scopes and suspended accounts."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from creatix.accounts import service as accounts_service
from creatix.accounts.schemas import NewKey
from creatix.kit.clock import utcnow
from support import LiveServer, make_settings

STRONG = "correct horse battery staple 42"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = make_settings(tmp_path_factory.mktemp("creatix"), signin_attempts_per_address=10_000)
    live = LiveServer(settings).start()
    yield live
    live.stop()


def _name() -> str:
    return f"acct-{uuid.uuid4().hex[:8]}"


def _account(server: LiveServer, plan: str = "paid") -> str:
    assert server.runtime is not None
    info = server.call(accounts_service.ensure_account(server.runtime.db, _name(), plan, "free"))
    return info.id


def _key(server: LiveServer, account_id: str, *scopes: str) -> NewKey:
    assert server.runtime is not None
    return server.call(
        accounts_service.create_account_key(
            server.runtime.db, account_id, scopes=scopes or ("generate",)
        )
    )


def _person(
    server: LiveServer,
    *,
    operator: bool = False,
    account_id: str | None = None,
    role: str | None = None,
) -> str:
    assert server.runtime is not None
    email = f"p-{uuid.uuid4().hex[:10]}@example.com"
    server.call(
        server.runtime.people.create(
            email, password=STRONG, operator=operator, account_id=account_id, role=role
        )
    )
    return email


@contextmanager
def _signed_in(server: LiveServer, email: str) -> Iterator[httpx.Client]:
    """A client signed in as ``email``, sending its session's CSRF token."""
    with server.client() as client:
        response = client.post("/api/session", json={"email": email, "password": STRONG})
        assert response.status_code == 200, response.text
        client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        yield client


@pytest.fixture(scope="module")
def operator(server: LiveServer) -> Iterator[httpx.Client]:
    with _signed_in(server, _person(server, operator=True)) as client:
        yield client


def _error(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) >= {"code", "message"}
    if code is not None:
        assert error["code"] == code, error
    error.setdefault("param", None)
    return error


# -- who may call ----------------------------------------------------------------------------


def test_without_credentials_both_apis_answer_401(server: LiveServer) -> None:
    account_id = _account(server)
    with server.client() as client:
        _error(client.get(f"/api/account/{account_id}"), 401, "not_signed_in")
        _error(client.get("/api/admin/accounts"), 401, "not_signed_in")
        _error(client.post("/api/admin/accounts", json={"name": _name()}), 401)
    with server.client("sk_live_nonsense") as client:
        _error(client.get(f"/api/account/{account_id}"), 401)


def test_a_key_needs_the_scope_each_api_asks_for(server: LiveServer) -> None:
    account_id = _account(server)
    generate = _key(server, account_id)
    manage = _key(server, account_id, "manage")
    with server.client(generate.secret) as client:
        error = _error(client.get(f"/api/account/{account_id}"), 403, "insufficient_scope")
        assert "manage" in error["message"]
        _error(client.get("/api/admin/accounts"), 403, "insufficient_scope")
    with server.client(manage.secret) as client:
        assert client.get(f"/api/account/{account_id}").status_code == 200
        _error(client.get("/api/admin/accounts"), 403, "insufficient_scope")
        # The dialects take only keys with the generate scope.
        _error(client.get("/api/platform/credits"), 403, "insufficient_scope")
    with server.client(generate.secret) as client:
        assert client.get("/api/platform/credits").status_code == 200
    pair = {"X-API-ID": manage.key_id, "X-API-KEY": manage.secret}
    with server.client() as client:
        assert client.get("/api/asset_generator/schemas/", headers=pair).status_code == 403


def test_a_person_without_the_operator_role_is_refused_the_admin_api(server: LiveServer) -> None:
    account_id = _account(server)
    with _signed_in(server, _person(server, account_id=account_id, role="owner")) as client:
        _error(client.get("/api/admin/accounts"), 403, "forbidden")
        _error(client.post("/api/admin/accounts", json={"name": _name()}), 403, "forbidden")


def test_a_state_change_with_a_session_needs_the_csrf_token(
    server: LiveServer, operator: httpx.Client
) -> None:
    response = operator.post(
        "/api/admin/accounts", json={"name": _name()}, headers={"X-CSRF-Token": "wrong"}
    )
    _error(response, 403, "csrf_failed")


# -- the account API -------------------------------------------------------------------------


def test_a_person_sees_their_account_and_every_other_id_is_a_404(
    server: LiveServer, operator: httpx.Client
) -> None:
    mine = _account(server, plan="free")
    theirs = _account(server)
    granted = operator.post(
        f"/api/admin/accounts/{mine}/credits", json={"kind": "grant", "amount": 70}
    )
    assert granted.status_code == 201, granted.text
    with _signed_in(server, _person(server, account_id=mine, role="member")) as client:
        response = client.get(f"/api/account/{mine}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["id"] == mine
        assert body["plan"] == "free"
        assert body["status"] == "active"
        assert (body["balance"], body["lifetime_purchased"], body["lifetime_used"]) == (70, 70, 0)
        quota = body["quota"]
        assert (quota["period"], quota["images"], quota["used"]) == ("day", 50, 0)
        resets = datetime.fromisoformat(quota["resets_at"])
        assert timedelta(0) < resets - utcnow() <= timedelta(days=1)
        for other in (theirs, "acct_does_not_exist"):
            error = _error(client.get(f"/api/account/{other}"), 404, "not_found")
            assert error["param"] == "account_id"
            _error(client.get(f"/api/account/{other}/keys"), 404)
            _error(client.post(f"/api/account/{other}/keys", json={}), 404)
    # An operator too sees only the accounts they belong to here (theirs is /api/admin).
    _error(operator.get(f"/api/account/{mine}"), 404)


def test_an_owner_makes_lists_and_revokes_keys_shown_once(server: LiveServer) -> None:
    account_id = _account(server)
    with _signed_in(server, _person(server, account_id=account_id, role="owner")) as client:
        made = client.post(
            f"/api/account/{account_id}/keys", json={"name": "website", "scopes": ["generate"]}
        )
        assert made.status_code == 201, made.text
        key = made.json()
        assert key["secret"].startswith("sk_live_")
        assert key["name"] == "website"
        assert key["scopes"] == ["generate"]
        assert key["account_id"] == account_id
        assert key["last_used_at"] is None

        # Its key id is its X-API-ID.
        pair = {"X-API-ID": key["key_id"], "X-API-KEY": key["secret"]}
        with server.client() as generator:
            assert generator.get("/api/asset_generator/schemas/", headers=pair).status_code == 200

        listed = client.get(f"/api/account/{account_id}/keys")
        assert listed.status_code == 200, listed.text
        [row] = [k for k in listed.json()["data"] if k["key_id"] == key["key_id"]]
        assert "secret" not in row
        assert key["secret"] not in listed.text
        assert row["last_used_at"] is not None

        revoked = client.delete(f"/api/account/{account_id}/keys/{key['key_id']}")
        assert revoked.status_code == 200, revoked.text
        assert revoked.json()["revoked_at"] is not None
        with server.client(key["secret"]) as generator:
            _error(generator.get("/api/platform/credits"), 401)
        _error(client.delete(f"/api/account/{account_id}/keys/{key['key_id']}"), 404)

        bad = client.post(f"/api/account/{account_id}/keys", json={"scopes": ["root"]})
        assert _error(bad, 400)["param"] == "scopes.0"
        operator_scope = client.post(
            f"/api/account/{account_id}/keys", json={"scopes": ["operator"]}
        )
        _error(operator_scope, 403)


def test_another_accounts_key_cannot_be_revoked_through_mine(server: LiveServer) -> None:
    mine = _account(server)
    theirs = _account(server)
    their_key = _key(server, theirs)
    with _signed_in(server, _person(server, account_id=mine, role="owner")) as client:
        _error(client.delete(f"/api/account/{mine}/keys/{their_key.key_id}"), 404)
        _error(client.delete(f"/api/account/{theirs}/keys/{their_key.key_id}"), 404)
    with server.client(their_key.secret) as generator:
        assert generator.get("/api/platform/credits").status_code == 200


def test_a_member_reads_but_only_owners_make_keys(server: LiveServer) -> None:
    account_id = _account(server)
    with _signed_in(server, _person(server, account_id=account_id, role="member")) as client:
        assert client.get(f"/api/account/{account_id}/keys").status_code == 200
        _error(client.post(f"/api/account/{account_id}/keys", json={}), 403)


def test_a_manage_key_runs_its_own_account_only(server: LiveServer) -> None:
    mine = _account(server)
    theirs = _account(server)
    manage = _key(server, mine, "manage")
    with server.client(manage.secret) as client:
        made = client.post(f"/api/account/{mine}/keys", json={})
        assert made.status_code == 201, made.text
        assert made.json()["scopes"] == ["generate"]
        _error(client.get(f"/api/account/{theirs}"), 404)
        _error(client.post(f"/api/account/{theirs}/keys", json={}), 404)


def test_last_used_is_written_at_most_once_a_minute(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id = _account(server)
    key = _key(server, account_id)
    manage = _key(server, account_id, "manage")
    offset = timedelta()

    def moved() -> datetime:
        return utcnow() + offset

    monkeypatch.setattr(accounts_service, "utcnow", moved)

    def last_used() -> str | None:
        with server.client(manage.secret) as client:
            keys = client.get(f"/api/account/{account_id}/keys").json()["data"]
        [row] = [k for k in keys if k["key_id"] == key.key_id]
        used: str | None = row["last_used_at"]
        return used

    with server.client(key.secret) as client:
        assert client.get("/api/platform/credits").status_code == 200
        first = last_used()
        assert first is not None
        offset = timedelta(seconds=30)
        assert client.get("/api/platform/credits").status_code == 200
        assert last_used() == first
        offset = timedelta(seconds=90)
        assert client.get("/api/platform/credits").status_code == 200
        later = last_used()
        assert later is not None
        assert datetime.fromisoformat(later) - datetime.fromisoformat(first) >= timedelta(
            seconds=60
        )


# -- the operator API ------------------------------------------------------------------------


def test_an_operator_creates_lists_changes_and_deletes_accounts(
    server: LiveServer, operator: httpx.Client
) -> None:
    name = _name()
    created = operator.post("/api/admin/accounts", json={"name": name, "plan": "paid"})
    assert created.status_code == 201, created.text
    account = created.json()
    assert (account["name"], account["plan"], account["status"]) == (name, "paid", "active")
    account_id = account["id"]

    _error(operator.post("/api/admin/accounts", json={"name": name}), 409, "conflict")
    unknown_plan = operator.post("/api/admin/accounts", json={"name": _name(), "plan": "gold"})
    assert _error(unknown_plan, 400)["param"] == "plan"
    extra = operator.post("/api/admin/accounts", json={"name": _name(), "colour": "red"})
    assert _error(extra, 400)["param"] == "colour"

    listed = operator.get("/api/admin/accounts").json()["data"]
    assert account_id in {a["id"] for a in listed}

    renamed = _name()
    changed = operator.patch(
        f"/api/admin/accounts/{account_id}",
        json={"name": renamed, "plan": "free", "unlimited": True},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["plan"]) == (renamed, "free")
    assert changed.json()["unlimited"] is True
    other = operator.post("/api/admin/accounts", json={"name": _name()}).json()
    taken = operator.patch(f"/api/admin/accounts/{other['id']}", json={"name": renamed})
    _error(taken, 409)
    _error(operator.patch("/api/admin/accounts/acct_nope", json={"plan": "free"}), 404)
    bad_status = operator.patch(f"/api/admin/accounts/{account_id}", json={"status": "gone"})
    assert _error(bad_status, 400)["param"] == "status"

    key = _key(server, account_id)
    assert operator.delete(f"/api/admin/accounts/{account_id}").status_code == 204
    _error(operator.get(f"/api/admin/accounts/{account_id}"), 404)
    _error(operator.delete(f"/api/admin/accounts/{account_id}"), 404)
    assert account_id not in {a["id"] for a in operator.get("/api/admin/accounts").json()["data"]}
    with server.client(key.secret) as client:
        _error(client.get("/api/platform/credits"), 401)


def test_a_suspended_accounts_keys_get_403_until_it_is_reactivated(
    server: LiveServer, operator: httpx.Client
) -> None:
    account_id = _account(server)
    key = _key(server, account_id)
    suspended = operator.patch(f"/api/admin/accounts/{account_id}", json={"status": "suspended"})
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "suspended"
    with server.client(key.secret) as client:
        _error(client.get("/api/platform/credits"), 403, "account_suspended")
        pair = {"X-API-ID": key.key_id, "X-API-KEY": key.secret}
        assert client.get("/api/asset_generator/schemas/", headers=pair).status_code == 403
        operator.patch(f"/api/admin/accounts/{account_id}", json={"status": "active"})
        assert client.get("/api/platform/credits").status_code == 200


def test_credits_are_granted_and_deducted_idempotently(
    server: LiveServer, operator: httpx.Client
) -> None:
    account_id = _account(server)
    url = f"/api/admin/accounts/{account_id}/credits"
    headers = {"Idempotency-Key": f"invoice-{uuid.uuid4().hex}"}
    body = {"kind": "grant", "amount": 500, "note": "invoice 42"}
    first = operator.post(url, json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["balance"] == 500
    assert first.json()["entry"]["note"] == "invoice 42"
    assert first.json()["replayed"] is False

    again = operator.post(url, json=body, headers=headers)
    assert again.status_code == 200, again.text
    assert again.json()["entry"]["id"] == first.json()["entry"]["id"]
    assert again.json()["replayed"] is True
    assert again.json()["balance"] == 500

    reused = operator.post(url, json={**body, "amount": 501}, headers=headers)
    _error(reused, 409, "idempotency_key_reused")

    deducted = operator.post(url, json={"kind": "deduct", "amount": 120, "note": "refund"})
    assert deducted.status_code == 201, deducted.text
    assert deducted.json()["balance"] == 380
    assert deducted.json()["entry"]["amount"] == -120
    too_much = operator.post(url, json={"kind": "deduct", "amount": 381})
    _error(too_much, 409, "insufficient_balance")

    zero = operator.post(url, json={"kind": "grant", "amount": 0})
    assert _error(zero, 400)["param"] == "amount"
    _error(operator.post("/api/admin/accounts/acct_nope/credits", json=body), 404)

    with _signed_in(server, _person(server, account_id=account_id, role="owner")) as owner_view:
        assert owner_view.get(f"/api/account/{account_id}").json()["balance"] == 380
    assert operator.get(f"/api/admin/accounts/{account_id}").json()["balance"] == 380
    never_granted = _account(server)
    listed = {a["id"]: a["balance"] for a in operator.get("/api/admin/accounts").json()["data"]}
    assert (listed[account_id], listed[never_granted]) == (380, 0)


def test_an_operator_manages_any_accounts_keys(server: LiveServer, operator: httpx.Client) -> None:
    account_id = _account(server)
    made = operator.post(
        f"/api/admin/accounts/{account_id}/keys", json={"scopes": ["manage", "operator"]}
    )
    assert made.status_code == 201, made.text
    key = made.json()
    assert key["scopes"] == ["manage", "operator"]
    listed = operator.get(f"/api/admin/accounts/{account_id}/keys").json()["data"]
    assert [k["key_id"] for k in listed] == [key["key_id"]]
    # An operator key runs the admin API.
    with server.client(key["secret"]) as client:
        assert client.get("/api/admin/accounts").status_code == 200
    other = _account(server)
    _error(operator.delete(f"/api/admin/accounts/{other}/keys/{key['key_id']}"), 404)
    revoked = operator.delete(f"/api/admin/accounts/{account_id}/keys/{key['key_id']}")
    assert revoked.status_code == 200, revoked.text
    with server.client(key["secret"]) as client:
        _error(client.get("/api/admin/accounts"), 401)
    _error(operator.get("/api/admin/accounts/acct_nope/keys"), 404)


def test_every_route_is_in_the_openapi_document(server: LiveServer) -> None:
    with server.client() as client:
        paths: dict[str, Any] = client.get("/openapi.json").json()["paths"]
    expected: dict[str, set[str]] = {
        "/api/account/{account_id}": {"get"},
        "/api/account/{account_id}/keys": {"get", "post"},
        "/api/account/{account_id}/keys/{key_id}": {"delete"},
        "/api/admin/accounts": {"get", "post"},
        "/api/admin/accounts/{account_id}": {"get", "patch", "delete"},
        "/api/admin/accounts/{account_id}/credits": {"post"},
        "/api/admin/accounts/{account_id}/keys": {"get", "post"},
        "/api/admin/accounts/{account_id}/keys/{key_id}": {"delete"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) == methods, path
