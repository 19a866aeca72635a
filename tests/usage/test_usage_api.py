"""Usage, the ledger, the audit log and per-key limits through the real HTTP API and a real
server: the account API (``/api/account/{id}/…``, a ``manage`` key) and the operator's
(``/api/admin/…``, an ``operator`` key)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from creatix.accounts import service as accounts
from creatix.accounts.schemas import KeyLimits
from creatix.billing import service as billing
from creatix.kit.errors import InvalidRequest
from support import LiveServer

TURBO, LIGHT = "z-image-turbo", "artsyn-light"  # 100 and 240 credits an image


def _generate(client: httpx.Client, model: str, n: int = 1) -> httpx.Response:
    return client.post(
        "/v1/images/generations",
        json={"prompt": "a red sneaker", "model": model, "size": "512x512", "n": n},
    )


def _second_key(server: LiveServer, account: str) -> tuple[str, str]:
    assert server.runtime is not None
    key = server.call(accounts.create_key(server.runtime.db, account))
    return key.key_id, key.secret


def _key_id(server: LiveServer, account: str, secret: str) -> str:
    assert server.runtime is not None
    keys = server.call(accounts.list_keys(server.runtime.db, account))
    principal = server.call(accounts.authenticate(server.runtime.db, secret))
    assert principal.key_id in {k.key_id for k in keys}
    return principal.key_id


def _manager(server: LiveServer, account: str, *scopes: str) -> tuple[str, httpx.Client]:
    """The account's id, and a client with a new key of it (``manage`` unless ``scopes``)."""
    assert server.runtime is not None
    key = server.call(accounts.create_key(server.runtime.db, account, scopes=scopes or ["manage"]))
    return key.account_id, server.client(key.secret)


def _secret_of(client: httpx.Client) -> str:
    return client.headers["Authorization"].removeprefix("Bearer ")


def _operator(server: LiveServer) -> httpx.Client:
    """A client with an ``operator`` key (of an account of its own)."""
    name, _ = server.funded_account()
    return _manager(server, name, "operator")[1]


def test_usage_by_day_model_and_key_matches_what_was_made_and_charged(
    server: LiveServer,
) -> None:
    account, first_secret = server.funded_account(credits=10_000)
    first_id = _key_id(server, account, first_secret)
    second_id, second_secret = _second_key(server, account)
    account_id, manager = _manager(server, account)
    with server.client(first_secret) as first, server.client(second_secret) as second, manager:
        assert _generate(first, TURBO, n=2).status_code == 200
        assert _generate(first, LIGHT).status_code == 200
        assert _generate(second, TURBO).status_code == 200
        usage = f"/api/account/{account_id}/usage"
        by_model = manager.get(usage, params={"group_by": "day,model"})
        by_key = manager.get(usage, params={"group_by": "key"})
        totals = manager.get(usage)
    today = datetime.now(UTC).date().isoformat()
    assert by_model.status_code == 200, by_model.text
    body = by_model.json()
    assert body["group_by"] == ["day", "model"]
    assert body["end"] == today
    rows = {(r["day"], r["model"]): r for r in body["rows"]}
    assert set(rows) == {(today, LIGHT), (today, TURBO)}
    assert rows[today, TURBO]["images"] == 3
    assert rows[today, TURBO]["credits"] == 300
    assert rows[today, TURBO]["jobs"] == 2
    assert rows[today, LIGHT]["credits"] == 240
    assert rows[today, TURBO]["key_id"] is None  # not grouped by key
    keys = {r["key_id"]: (r["images"], r["credits"]) for r in by_key.json()["rows"]}
    assert keys == {first_id: (3, 440), second_id: (1, 100)}
    (total,) = totals.json()["rows"]
    assert (total["images"], total["credits"], total["jobs"], total["day"]) == (4, 540, 3, None)
    assert server.call(billing.statement(server.runtime.db, account)).lifetime_used == 540


def test_usage_as_csv_by_format_or_accept(server: LiveServer) -> None:
    account, secret = server.funded_account(credits=1_000)
    account_id, manager = _manager(server, account)
    usage = f"/api/account/{account_id}/usage"
    with server.client(secret) as client, manager:
        assert _generate(client, TURBO).status_code == 200
        by_format = manager.get(usage, params={"group_by": "model", "format": "csv"})
        by_accept = manager.get(usage, params={"group_by": "model"}, headers={"Accept": "text/csv"})
    assert by_format.status_code == 200
    assert by_format.headers["content-type"].startswith("text/csv")
    assert by_format.text == by_accept.text
    rows = list(csv.reader(io.StringIO(by_format.text)))
    assert rows[0] == [
        "model",
        "images",
        "videos",
        "input_tokens",
        "output_tokens",
        "credits",
        "jobs",
    ]
    assert rows[1:] == [[TURBO, "1", "0", "0", "0", "100", "1"]]


def test_another_accounts_usage_and_ledger_are_a_404(server: LiveServer) -> None:
    spender, secret = server.funded_account(credits=1_000)
    spender_id, _ = _manager(server, spender)
    onlooker, _ = server.funded_account(credits=0)
    onlooker_id, client = _manager(server, onlooker)
    with server.client(secret) as spending:
        assert _generate(spending, TURBO).status_code == 200
    with client:
        for what in ("usage", "ledger"):
            theirs = client.get(f"/api/account/{spender_id}/{what}")
            assert theirs.status_code == 404, theirs.text
            assert theirs.json()["error"]["param"] == "account_id"
        own = client.get(f"/api/account/{onlooker_id}/usage", params={"group_by": "model"})
        assert own.json()["rows"] == []
        assert client.get(f"/api/account/{onlooker_id}/ledger").json()["entries"] == []


def test_bad_dates_group_by_and_format_are_400s_naming_the_field(server: LiveServer) -> None:
    account, _ = server.funded_account()
    account_id, client = _manager(server, account)
    usage = f"/api/account/{account_id}/usage"
    with client:
        cases = {
            "group_by": {"group_by": "day,colour"},
            "start": {"start": "2026-13-01"},
            "end": {"end": "yesterday"},
            "format": {"format": "xml"},
        }
        for field, params in cases.items():
            response = client.get(usage, params=params)
            assert response.status_code == 400, (field, response.text)
            error = response.json()["error"]
            assert error["param"] == field, (field, error)
            assert error["code"] in {"invalid_request", "invalid_value"}
        backwards = client.get(usage, params={"start": "2026-02-01", "end": "2026-01-01"})
        assert backwards.status_code == 400
        assert "after" in backwards.json()["error"]["message"]
        too_long = client.get(usage, params={"start": "2020-01-01", "end": "2026-01-01"})
        assert too_long.status_code == 400
        twice = client.get(usage, params={"group_by": "day,day"})
        assert twice.json()["error"]["param"] == "group_by"
        ledger = f"/api/account/{account_id}/ledger"
        assert client.get(ledger, params={"limit": 0}).status_code == 400


def test_usage_and_ledger_need_a_manage_key_or_a_session(server: LiveServer) -> None:
    account, generate_only = server.funded_account()
    account_id, _ = _manager(server, account)
    with server.client() as anonymous, server.client(generate_only) as generating:
        for what in ("usage", "ledger"):
            path = f"/api/account/{account_id}/{what}"
            response = anonymous.get(path)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "not_signed_in"
            refused = generating.get(path)
            assert refused.status_code == 403
            assert refused.json()["error"]["code"] == "insufficient_scope"


def test_a_date_range_without_jobs_is_empty(server: LiveServer) -> None:
    account, secret = server.funded_account(credits=1_000)
    account_id, manager = _manager(server, account)
    last_year = (datetime.now(UTC) - timedelta(days=365)).date()
    with server.client(secret) as client, manager:
        assert _generate(client, TURBO).status_code == 200
        response = manager.get(
            f"/api/account/{account_id}/usage",
            params={"start": str(last_year), "end": str(last_year + timedelta(days=5))},
        )
    assert response.json()["rows"] == [
        {
            "day": None,
            "model": None,
            "key_id": None,
            "images": 0,
            "videos": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "credits": 0,
            "jobs": 0,
        }
    ]


def test_the_ledger_pages_newest_first(server: LiveServer) -> None:
    account, _ = server.funded_account(credits=0)
    assert server.runtime is not None
    for amount in (10, 20, 30):
        server.call(billing.grant(server.runtime.db, account, amount, f"top-up {amount}"))
    account_id, client = _manager(server, account)
    ledger = f"/api/account/{account_id}/ledger"
    with client:
        first = client.get(ledger, params={"limit": 2}).json()
        second = client.get(ledger, params={"limit": 2, "offset": first["next_offset"]}).json()
    amounts = [e["amount"] for e in first["entries"] + second["entries"]]
    assert sorted(amounts) == [10, 20, 30]
    assert len({e["id"] for e in first["entries"] + second["entries"]}) == 3
    assert first["next_offset"] == 2
    assert second["next_offset"] is None
    assert all(e["kind"] == "grant" for e in first["entries"])


def test_a_key_limited_to_models_is_refused_others_with_a_403(server: LiveServer) -> None:
    account, secret = server.funded_account(credits=1_000)
    assert server.runtime is not None
    key_id = _key_id(server, account, secret)
    server.call(
        accounts.set_key_limits(server.runtime.db, key_id, KeyLimits(allowed_models=[TURBO]))
    )
    with server.client(secret) as client:
        refused = _generate(client, LIGHT)
        allowed = _generate(client, TURBO)
        platform = client.post(
            "/api/platform/generate", json={"prompt": "a red sneaker", "modelId": LIGHT}
        )
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "model_not_allowed"
    assert refused.json()["error"]["type"] == "permission_error"
    assert platform.status_code == 403, platform.text
    assert platform.json()["error"]["code"] == "model_not_allowed"
    assert platform.json()["error"]["param"] == "modelId"
    assert TURBO in refused.json()["error"]["message"]
    assert allowed.status_code == 200
    assert server.balance(account) == 900  # the refused request reserved nothing


def test_a_spent_daily_budget_is_a_402_that_says_so(server: LiveServer) -> None:
    account, secret = server.funded_account(credits=10_000)
    assert server.runtime is not None
    key_id = _key_id(server, account, secret)
    _, other_secret = _second_key(server, account)
    server.call(
        accounts.set_key_limits(server.runtime.db, key_id, KeyLimits(budget_daily_credits=250))
    )
    with server.client(secret) as client, server.client(other_secret) as other:
        assert _generate(client, TURBO, n=2).status_code == 200  # 200 of 250
        spent = _generate(client, TURBO)  # 300 > 250
        assert _generate(other, TURBO).status_code == 200  # another key: its own budget
    assert spent.status_code == 402, spent.text
    error = spent.json()["error"]
    assert error["code"] == "key_budget_exceeded"
    assert "daily budget of 250 credits" in error["message"]
    assert server.balance(account) == 10_000 - 300


def test_a_monthly_budget_counts_every_day_of_the_month(server: LiveServer) -> None:
    account, secret = server.funded_account(credits=10_000)
    assert server.runtime is not None
    key_id = _key_id(server, account, secret)
    server.call(
        accounts.set_key_limits(server.runtime.db, key_id, KeyLimits(budget_monthly_credits=100))
    )
    with server.client(secret) as client:
        assert _generate(client, TURBO).status_code == 200
        assert _generate(client, TURBO).status_code == 402


def test_a_keys_own_rate_limit_is_enforced_and_may_not_pass_the_plans(
    server: LiveServer,
) -> None:
    account, _ = server.funded_account(credits=0)
    assert server.runtime is not None
    account_id, client = _manager(server, account, "generate", "manage")
    key_id = server.call(accounts.authenticate(server.runtime.db, _secret_of(client))).key_id
    server.call(
        accounts.set_key_limits(server.runtime.db, key_id, KeyLimits(rate_limit_per_minute=2))
    )
    with client:
        answers = [client.get(f"/api/account/{account_id}/ledger") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].headers["X-RateLimit-Limit"] == "2"
    with pytest.raises(InvalidRequest) as refused:
        server.call(
            accounts.set_key_limits(
                server.runtime.db,
                key_id,
                KeyLimits(rate_limit_per_minute=10_000),
                max_rate_limit=600,
            )
        )
    assert refused.value.param == "rate_limit_per_minute"
    with pytest.raises(InvalidRequest) as unknown:
        server.call(
            accounts.set_key_limits(
                server.runtime.db,
                key_id,
                KeyLimits(allowed_models=[TURBO, "no-such-model"]),
                known_models=[m.id for m in server.runtime.catalog.models],
            )
        )
    assert unknown.value.param == "allowed_models"
    assert "no-such-model" in unknown.value.message


def test_an_owner_sets_a_keys_limits_over_http_and_they_are_checked(server: LiveServer) -> None:
    account, secret = server.funded_account(credits=1_000)
    key_id = _key_id(server, account, secret)
    account_id, manager = _manager(server, account)
    limits = f"/api/account/{account_id}/keys/{key_id}/limits"
    with manager, server.client(secret) as client:
        too_fast = manager.put(limits, json={"rate_limit_per_minute": 1_000_000})
        unknown = manager.put(limits, json={"allowed_models": ["no-such-model"]})
        extra = manager.put(limits, json={"budget_yearly_credits": 5})
        negative = manager.put(limits, json={"budget_daily_credits": -1})
        answer = manager.put(limits, json={"allowed_models": [TURBO], "budget_daily_credits": 150})
        refused = _generate(client, LIGHT)
        assert _generate(client, TURBO).status_code == 200
        spent = _generate(client, TURBO)
        listed = manager.get(f"/api/account/{account_id}/keys").json()["data"]
    for response, field in (
        (too_fast, "rate_limit_per_minute"),
        (unknown, "allowed_models"),
        (extra, "budget_yearly_credits"),
        (negative, "budget_daily_credits"),
    ):
        assert response.status_code == 400, response.text
        assert response.json()["error"]["param"] == field, response.text
    assert answer.status_code == 200, answer.text
    assert answer.json()["limits"]["allowed_models"] == [TURBO]
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "model_not_allowed"
    assert spent.status_code == 402
    assert spent.json()["error"]["code"] == "key_budget_exceeded"
    (entry,) = [k for k in listed if k["key_id"] == key_id]
    assert entry["limits"]["budget_daily_credits"] == 150
    assert entry["last_used_at"] is not None


def test_another_accounts_key_limits_are_a_404(server: LiveServer) -> None:
    theirs, secret = server.funded_account()
    their_key = _key_id(server, theirs, secret)
    ours, _ = server.funded_account()
    our_id, manager = _manager(server, ours)
    with manager:
        answer = manager.put(
            f"/api/account/{our_id}/keys/{their_key}/limits", json={"budget_daily_credits": 1}
        )
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"]["param"] == "key_id"


def test_an_operator_reads_any_accounts_usage_ledger_and_the_audit_log(
    server: LiveServer,
) -> None:
    account, secret = server.funded_account(credits=1_000)
    account_id, manager = _manager(server, account)
    key_id = _key_id(server, account, secret)
    with server.client(secret) as client, manager, _operator(server) as operator:
        assert _generate(client, TURBO).status_code == 200
        limited = manager.put(
            f"/api/account/{account_id}/keys/{key_id}/limits", json={"budget_daily_credits": 500}
        )
        assert limited.status_code == 200, limited.text
        usage = operator.get(
            f"/api/admin/accounts/{account_id}/usage", params={"group_by": "model"}
        )
        ledger = operator.get(f"/api/admin/accounts/{account_id}/ledger")
        audit = operator.get("/api/admin/audit", params={"account_id": account_id})
        first = operator.get("/api/admin/audit", params={"account_id": account_id, "limit": 1})
        unknown = operator.get("/api/admin/accounts/acct_nope/usage")
        not_an_operator = manager.get("/api/admin/audit")
    assert usage.status_code == 200, usage.text
    (row,) = usage.json()["rows"]
    assert (row["model"], row["images"], row["credits"]) == (TURBO, 1, 100)
    assert {e["kind"] for e in ledger.json()["entries"]} >= {"grant", "charge"}
    assert audit.status_code == 200, audit.text
    actions = [e["action"] for e in audit.json()["entries"]]
    assert actions[0] == "key.limits_set"  # newest first
    assert "key.created" in actions
    (change,) = [e for e in audit.json()["entries"] if e["action"] == "key.limits_set"]
    assert change["actor_kind"] == "key"
    assert change["target"] == key_id
    assert change["detail"]["to"]["budget_daily_credits"] == 500
    assert change["address"] == "127.0.0.1"
    assert len(first.json()["entries"]) == 1
    assert first.json()["next_offset"] == 1
    assert unknown.status_code == 404
    assert not_an_operator.status_code == 403
