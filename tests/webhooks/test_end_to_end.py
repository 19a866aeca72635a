"""A job with a webhook through the running app: one signed POST whose links download."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from receiver import Receiver
from standardwebhooks import Webhook

from creatix.accounts import service as accounts
from creatix.accounts.schemas import Principal
from creatix.jobs.specs import ImageSpec
from creatix.webhooks import service as webhooks
from support import LiveServer, make_settings


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(make_settings(tmp_path, allow_private_urls=True)).start()
    # Links made outside a request use the public URL, known once the server has a port.
    live.settings.public_url = live.url
    yield live
    live.stop()


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def test_a_finished_job_posts_one_signed_event_with_links_that_download(
    server: LiveServer, receiver: Receiver
) -> None:
    assert server.runtime is not None
    db = server.runtime.db
    info = server.call(accounts.ensure_account(db, "hooked", "free", "free"))
    principal = Principal(
        account_id=info.id, account_name=info.name, plan=info.plan, key_id="key_t"
    )
    spec = ImageSpec(prompt="a red kite over the sea", width=512, height=512, n=2, seed=7)
    job = server.call(
        server.runtime.jobs.intake.submit_image(
            principal, "creatix-flash", spec, webhook_url=receiver.url, source="creatix_v1"
        )
    )

    [received] = receiver.wait_for(1)
    secret = server.call(webhooks.account_secret(db, principal.account_id)).secret
    assert secret.startswith("whsec_")
    payload = Webhook(secret).verify(received.body, received.headers)
    strings = _strings(payload)
    assert job.id in strings
    links = [s for s in strings if s.startswith(f"{server.url}/files/")]
    assert len(links) == 2
    for link in links:
        download = httpx.get(link, timeout=30)
        assert download.status_code == 200
        assert download.headers["content-type"].startswith("image/")
        assert len(download.content) > 0

    deadline = time.monotonic() + 10
    [delivery] = server.call(webhooks.deliveries_of(db, job.id))
    while delivery.status == "pending" and time.monotonic() < deadline:
        time.sleep(0.05)  # the receiver answered; the attempt is being recorded
        [delivery] = server.call(webhooks.deliveries_of(db, job.id))
    assert received.headers["webhook-id"] == delivery.id
    assert delivery.event_type == "job.succeeded"
    assert delivery.status == "delivered"
    assert [a.status_code for a in delivery.attempt_log] == [204]
    time.sleep(1.5)  # more than a poll: nothing is sent again
    assert len(receiver.received) == 1
