"""An account's webhooks over the account API, through a real server and a real receiver:
the signing secret (revealed and rotated by owners, audited, and what the webhooks are signed
with) and the delivery log with each attempt, to the account's people only."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from receiver import Receiver
from standardwebhooks import Webhook

from creatix.accounts import service as accounts
from creatix.jobs.specs import ImageSpec
from support import LiveServer, make_settings

STRONG = "correct horse battery staple 42"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(make_settings(tmp_path, allow_private_urls=True)).start()
    live.settings.public_url = live.url
    yield live
    live.stop()


def _account_with_manager(server: LiveServer) -> tuple[str, httpx.Client]:
    assert server.runtime is not None
    db = server.runtime.db
    info = server.call(accounts.ensure_account(db, f"acct-{uuid.uuid4().hex[:8]}", "paid", "free"))
    key = server.call(accounts.create_account_key(db, info.id, scopes=("generate", "manage")))
    return info.id, server.client(key.secret)


def _hooked_job(server: LiveServer, account_id: str, url: str) -> str:
    assert server.runtime is not None
    db = server.runtime.db
    key = server.call(accounts.create_account_key(db, account_id, scopes=("generate",)))
    principal = server.call(accounts.authenticate(db, key.secret))
    spec = ImageSpec(prompt="a paper boat", width=512, height=512, n=1, seed=3)
    job = server.call(
        server.runtime.jobs.intake.submit_image(
            principal, "creatix-flash", spec, webhook_url=url, source="creatix_v1"
        )
    )
    return job.id


def _delivered(manager: httpx.Client, account_id: str, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        page = manager.get(
            f"/api/account/{account_id}/webhooks/deliveries", params={"job_id": job_id}
        ).json()
        if page["data"] and page["data"][0]["status"] == "delivered":
            return page
        assert time.monotonic() < deadline, page
        time.sleep(0.1)


@contextmanager
def _member(server: LiveServer, account_id: str) -> Iterator[httpx.Client]:
    """A client signed in as a member (not an owner) of the account, sending its CSRF token."""
    assert server.runtime is not None
    email = f"m-{uuid.uuid4().hex[:8]}@example.com"
    server.call(
        server.runtime.people.create(email, password=STRONG, account_id=account_id, role="member")
    )
    with server.client() as client:
        signed = client.post("/api/session", json={"email": email, "password": STRONG})
        assert signed.status_code == 200, signed.text
        client.headers["X-CSRF-Token"] = signed.json()["csrf_token"]
        yield client


def test_the_secret_signs_the_webhooks_and_rotating_replaces_it(
    server: LiveServer, receiver: Receiver
) -> None:
    account_id, manager = _account_with_manager(server)
    with manager:
        job_id = _hooked_job(server, account_id, receiver.url)
        [received] = receiver.wait_for(1)
        revealed = manager.get(f"/api/account/{account_id}/webhooks/secret")
        assert revealed.status_code == 200, revealed.text
        secret = revealed.json()["secret"]
        assert secret.startswith("whsec_")
        assert Webhook(secret).verify(received.body, received.headers)  # raises if unsigned
        rotated = manager.post(f"/api/account/{account_id}/webhooks/secret/rotate")
        assert rotated.status_code == 200, rotated.text
        assert rotated.json()["secret"] not in (secret, None)
        again = manager.get(f"/api/account/{account_id}/webhooks/secret").json()["secret"]
        assert again == rotated.json()["secret"]
        page = _delivered(manager, account_id, job_id)
    [delivery] = page["data"]
    assert page["total"] == 1
    assert delivery["job_id"] == job_id
    assert delivery["url"] == receiver.url
    assert delivery["attempts"] == 1
    [attempt] = delivery["attempt_log"]
    assert attempt["status_code"] == 204
    assert attempt["error"] is None
    assert server.runtime is not None
    audit = server.call(accounts.audit_page(server.runtime.db, account_id, limit=10, offset=0))
    actions = [entry.action for entry in audit.entries]
    assert actions[:3] == [
        "webhook_secret.revealed",
        "webhook_secret.rotated",
        "webhook_secret.revealed",
    ]


def test_members_read_deliveries_but_not_the_secret_and_other_accounts_see_nothing(
    server: LiveServer, receiver: Receiver
) -> None:
    account_id, manager = _account_with_manager(server)
    other_id, other = _account_with_manager(server)
    with manager, other, _member(server, account_id) as member:
        job_id = _hooked_job(server, account_id, receiver.url)
        _hooked_job(server, account_id, receiver.url)
        receiver.wait_for(2)
        _delivered(manager, account_id, job_id)
        listed = member.get(f"/api/account/{account_id}/webhooks/deliveries")
        assert listed.status_code == 200, listed.text
        assert listed.json()["total"] == 2
        one = member.get(
            f"/api/account/{account_id}/webhooks/deliveries", params={"limit": 1, "offset": 1}
        ).json()
        assert (len(one["data"]), one["total"], one["offset"]) == (1, 2, 1)
        refused = member.get(f"/api/account/{account_id}/webhooks/secret")
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
        assert member.post(f"/api/account/{account_id}/webhooks/secret/rotate").status_code == 403
        for path in ("webhooks/secret", "webhooks/deliveries"):
            hidden = other.get(f"/api/account/{account_id}/{path}")
            assert hidden.status_code == 404, path
            assert hidden.json()["error"]["param"] == "account_id"
        assert other.get(f"/api/account/{other_id}/webhooks/deliveries").json()["total"] == 0
        bad = manager.get(f"/api/account/{account_id}/webhooks/deliveries", params={"limit": 0})
        assert bad.status_code == 400
        assert bad.json()["error"]["param"] == "limit"
