"""Credits under concurrency, through POST /v1/generate and a real HTTP client."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creatix.accounts import repository
from creatix.billing import ledger
from creatix.billing import service as billing
from creatix.jobs.models import JobRow
from support import LiveServer

# Slow, and run in the PostgreSQL pass too: only there do the requests' transactions race.
pytestmark = [pytest.mark.slow, pytest.mark.concurrency]
PRICE = 100  # z-image-turbo
BODY = {"prompt": "concurrent sneaker ad", "model": "z-image-turbo", "width": 512, "height": 512}


def _post_all(
    server: LiveServer, secret: str, count: int, headers: dict[str, str] | None = None
) -> list[httpx.Response]:
    def post(_: int) -> httpx.Response:
        with server.client(secret) as client:
            return client.post("/v1/generate", json=BODY, headers=headers)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(post, range(count)))


def _books(server: LiveServer, account: str) -> tuple[int, int, int]:
    """The account's balance, the sum of its ledger and its number of jobs."""

    def read(session: Session) -> tuple[int, int, int]:
        found = repository.account_by_name(session, account)
        assert found is not None
        jobs = session.execute(
            select(func.count()).where(JobRow.account_id == found.id)
        ).scalar_one()
        balance = ledger.balance_of(session, found.id).balance
        return balance, ledger.ledger_sum(session, found.id), jobs

    assert server.runtime is not None
    return server.call(server.runtime.db.read(read))


def test_fifty_concurrent_requests_against_twenty_affordable(server: LiveServer) -> None:
    secret = server.key(plan="paid", account="twenty-affordable")
    assert server.runtime is not None
    server.call(billing.grant(server.runtime.db, "twenty-affordable", 20 * PRICE, None))
    responses = _post_all(server, secret, 50)
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) == 20
    assert statuses.count(402) == 30
    for refused in (r for r in responses if r.status_code == 402):
        assert refused.json() == {
            "success": False,
            "error": {
                "code": "insufficient_credits",
                "message": refused.json()["error"]["message"],
            },
        }
    assert all(r.json()["credits_used"] == PRICE for r in responses if r.status_code == 200)
    assert _books(server, "twenty-affordable") == (0, 0, 20)


def test_ten_concurrent_requests_with_one_key_make_one_job_and_one_charge(
    server: LiveServer,
) -> None:
    secret = server.key(plan="paid", account="one-key")
    assert server.runtime is not None
    server.call(billing.grant(server.runtime.db, "one-key", 1000, None))
    responses = _post_all(server, secret, 10, headers={"Idempotency-Key": "launch-banner"})
    assert {r.status_code for r in responses} == {200}
    assert len({r.json()["request_id"] for r in responses}) == 1
    assert _books(server, "one-key") == (900, 900, 1)
