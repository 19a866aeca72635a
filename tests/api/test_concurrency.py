"""20 concurrent clients × 5 requests against one account's quota: exact answers and counts."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from creatix.accounts.models import Account
from creatix.jobs.models import JobRow
from support import LiveServer

# Slow, and run in the PostgreSQL pass too: only there do the requests' transactions race.
pytestmark = [pytest.mark.slow, pytest.mark.concurrency]
CLIENTS, REQUESTS_EACH = 20, 5


def test_concurrent_clients_get_exact_answers_and_quota_counts(server: LiveServer) -> None:
    secrets = [server.key(plan="free", account="shared-free") for _ in range(CLIENTS)]

    def client_session(index: int) -> list[httpx.Response]:
        with server.client(secrets[index]) as client:
            return [
                client.post(
                    "/v1/images/generations",
                    json={
                        "prompt": f"client {index} request {r}",
                        "size": "512x512",
                        "aspect_ratio": "16:9",
                        "response_format": "b64_json",
                        "seed": index * 100 + r,
                    },
                )
                for r in range(REQUESTS_EACH)
            ]

    with ThreadPoolExecutor(CLIENTS) as pool:
        responses = [r for batch in pool.map(client_session, range(CLIENTS)) for r in batch]

    succeeded = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 429]
    assert len(succeeded) == 50, "the free plan allows exactly 50 images a day"
    assert len(refused) == 50
    assert all(r.json()["error"]["code"] == "quota_exceeded" for r in refused)
    job_ids = {r.headers["X-Creatix-Job-Id"] for r in succeeded}
    assert len(job_ids) == 50
    for response in succeeded:
        [item] = response.json()["data"]
        image = Image.open(io.BytesIO(base64.b64decode(item["b64_json"])))
        assert image.size == (704, 384)

    assert server.runtime is not None
    rows = server.call(server.runtime.db.read(_jobs_of_account("shared-free")))
    assert {job_id for job_id, _, _ in rows} == job_ids, "refused requests created no job"
    assert all(status == "succeeded" and finished for _, status, finished in rows)
    jobs = [server.call(server.runtime.jobs.get(job_id)) for job_id in job_ids]
    assert all(len(job.assets) == 1 for job in jobs)


def _jobs_of_account(name: str) -> Callable[[Session], list[tuple[str, str, bool]]]:
    def read(session: Session) -> list[tuple[str, str, bool]]:
        rows = session.execute(
            select(JobRow.id, JobRow.status, JobRow.finished_at.is_not(None))
            .join(Account, Account.id == JobRow.account_id)
            .where(Account.name == name)
        )
        return [(job_id, status, finished) for job_id, status, finished in rows]

    return read
