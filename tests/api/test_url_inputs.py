"""URLs a client gives (``webhook_url``, ``input_params.image_url``) through the real HTTP
endpoints: a URL that does not parse, or one whose address is private however it is
written, is a 400 in the dialect's envelope naming the field, and nothing is stored,
queued or charged."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from creatix.accounts import service as accounts
from creatix.billing import service as billing
from creatix.jobs.models import JobRow
from creatix.uploads.models import UploadRow
from support import LiveServer

UNPARSEABLE = [
    "http://127.0.0.1:99999/a.png",
    "http://example.com:99999/a.png",
    "http://127.0.0.1:abc/a.png",
    "http://127.0.0.1:-1/a.png",
    "http://[::1/a.png",
    "http://::1]/a.png",
    "http://a@b@example.com/a.png",
    "http://xn--/a.png",
]
PRIVATE_IN_IPV6 = [
    "http://[64:ff9b::a9fe:a9fe]/a.png",  # NAT64 of 169.254.169.254
    "http://[2002:7f00:1::]/a.png",  # 6to4 of 127.0.0.1
    "http://[::127.0.0.1]/a.png",  # IPv4-compatible
    "http://[::ffff:10.0.0.1]/a.png",  # IPv4-mapped
    "http://[2001:0:808:808::80ff:fffe]/a.png",  # Teredo, client 127.0.0.1
]
CREDITS = 10_000


@dataclass(frozen=True)
class Caller:
    account: str
    account_id: str
    client: httpx.Client


@pytest.fixture
def caller(server: LiveServer) -> Iterator[Caller]:
    assert server.runtime is not None
    db = server.runtime.db
    name = f"urls-{uuid.uuid4().hex[:10]}"
    info = server.call(accounts.ensure_account(db, name, "paid", "free"))
    server.call(billing.grant(db, name, CREDITS, None))
    key = server.call(accounts.create_key(db, name))
    headers = {"X-API-ID": key.key_id, "X-API-KEY": key.secret}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
        yield Caller(name, info.id, client)


def _rows(server: LiveServer, account_id: str) -> tuple[int, int]:
    """The account's job and upload rows."""
    assert server.runtime is not None

    def count(session: Session) -> tuple[int, int]:
        jobs = select(func.count()).select_from(JobRow).where(JobRow.account_id == account_id)
        ups = select(func.count()).select_from(UploadRow).where(UploadRow.account_id == account_id)
        return int(session.execute(jobs).scalar_one()), int(session.execute(ups).scalar_one())

    return server.call(server.runtime.db.read(count))


def _refused(
    server: LiveServer, caller: Caller, path: str, body: dict[str, Any], field: str
) -> dict[str, Any]:
    response = caller.client.post(path, json=body)
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()
    assert error["field"] == field
    assert list(error["fields"]) == [field]
    assert set(error) == {"error", "detail", "field", "fields"}
    assert _rows(server, caller.account_id) == (0, 0)
    assert server.balance(caller.account) == CREDITS
    return error


@pytest.mark.parametrize("url", [*UNPARSEABLE, *PRIVATE_IN_IPV6])
def test_an_asset_generator_image_url_is_a_400_naming_it(
    server: LiveServer, caller: Caller, url: str
) -> None:
    body = {"model_name": "creatix-pro", "input_params": {"prompt": "a logo", "image_url": url}}
    error = _refused(server, caller, "/api/asset_generator/", body, "input_params.image_url")
    assert error["error"] == "invalid_input_params"


@pytest.mark.parametrize("url", [*UNPARSEABLE, *PRIVATE_IN_IPV6])
def test_an_asset_generator_webhook_url_is_a_400_naming_it(
    server: LiveServer, caller: Caller, url: str
) -> None:
    body = {"model_name": "creatix-flash", "input_params": {"prompt": "a cat"}, "webhook_url": url}
    error = _refused(server, caller, "/api/asset_generator/", body, "webhook_url")
    assert error["error"] == "invalid_request"


@pytest.mark.parametrize("url", [*UNPARSEABLE, *PRIVATE_IN_IPV6])
def test_a_text_generator_webhook_url_is_a_400_naming_it(
    server: LiveServer, caller: Caller, url: str
) -> None:
    body = {
        "model_name": "gemini-2.5-flash",
        "messages": [{"role": "user", "content": "A tagline."}],
        "webhook_url": url,
    }
    _refused(server, caller, "/api/text_generator/", body, "webhook_url")
