"""``GET /v1/me`` (the key in use) and ``GET /v1/jobs/{id}`` (any dialect's job, with what it
cost) through a real HTTP client against the live server: both ways of sending a key, a
revoked key, another account's job, and the OpenAPI document naming both."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from creatix.accounts import service as accounts
from support import LiveServer, make_settings

PRICED = "z-image-turbo"  # 100 credits an image


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(make_settings(tmp_path_factory.mktemp("me") / "data")).start()
    yield live
    live.stop()


def _key_id(server: LiveServer, name: str) -> str:
    assert server.runtime is not None
    [key] = server.call(accounts.list_keys(server.runtime.db, name))
    return key.key_id


def test_a_key_learns_its_own_id_either_way(server: LiveServer) -> None:
    name, secret = server.funded_account()
    key_id = _key_id(server, name)
    with server.client(secret) as client:
        response = client.get("/v1/me")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.keys() == {"object", "id", "account", "account_id", "plan", "scopes"}
    assert (body["object"], body["id"], body["account"], body["plan"]) == (
        "api_key",
        key_id,
        name,
        "paid",
    )
    assert "generate" in body["scopes"]
    pair = {"X-API-ID": key_id, "X-API-KEY": secret}
    again = httpx.get(f"{server.url}/v1/me", headers=pair, timeout=30)
    assert again.status_code == 200, again.text
    assert again.json() == body


def test_a_revoked_or_wrong_key_is_401(server: LiveServer) -> None:
    name, secret = server.funded_account()
    key_id = _key_id(server, name)
    assert server.runtime is not None
    server.call(accounts.revoke_key(server.runtime.db, key_id))
    for headers in (
        {"Authorization": f"Bearer {secret}"},
        {"X-API-ID": key_id, "X-API-KEY": secret},
        {"Authorization": "Bearer sk_live_wrong"},
        {},
    ):
        response = httpx.get(f"{server.url}/v1/me", headers=headers, timeout=30)
        assert response.status_code == 401, (headers.keys(), response.text)
        error = response.json()["error"]
        assert error["type"] == "authentication_error"
        assert error["message"]


def test_a_job_of_any_dialect_says_what_it_cost(server: LiveServer) -> None:
    name, secret = server.funded_account(credits=1_000)
    with server.client(secret) as client:
        made = client.post(
            "/v1/images/generations",
            json={"prompt": "A priced poster", "model": PRICED, "size": "512x512"},
        )
        assert made.status_code == 200, made.text
        job_id = made.headers["X-Creatix-Job-Id"]
        assert made.headers["X-Creatix-Credits-Charged"] == "100"
        job = client.get(f"/v1/jobs/{job_id}")
        assert job.status_code == 200, job.text
        body = job.json()
        assert (body["job_id"], body["status"], body["kind"], body["model"]) == (
            job_id,
            "succeeded",
            "image",
            PRICED,
        )
        assert (body["credits_charged"], body["credits_reserved"], body["progress"]) == (
            100,
            0,
            100.0,
        )
        assert (body["step"], body["steps"], body["error"], body["text"]) == (
            None,
            None,
            None,
            None,
        )
        [asset] = body["assets"]
        assert httpx.get(asset["url"], timeout=30).content[:4] == b"\x89PNG"
        # The platform API's id is the same job's: its answers carry no credits.
        queued = client.post(
            "/api/platform/generate", json={"prompt": "A red sneaker", "modelId": PRICED}
        )
        assert queued.status_code == 202, queued.text
        platform_id = queued.json()["id"]
        seen = client.get(f"/v1/jobs/{platform_id}").json()
        assert seen["status"] in ("queued", "running", "succeeded")
        if seen["status"] != "succeeded":
            assert (seen["credits_reserved"], seen["credits_charged"]) == (100, None)
    with server.client(server.funded_account()[1]) as stranger:
        other = stranger.get(f"/v1/jobs/{job_id}")
        assert other.status_code == 404
        assert other.json()["error"]["param"] == "id"
    assert server.balance(name) == 800


def test_the_openapi_document_names_both_routes(server: LiveServer) -> None:
    document = httpx.get(f"{server.url}/openapi.json", timeout=30).json()
    me = document["paths"]["/v1/me"]["get"]
    assert me["summary"] == "The key in use"
    assert set(me["responses"]) >= {"200", "401"}
    job = document["paths"]["/v1/jobs/{job_id}"]["get"]
    assert set(job["responses"]) >= {"200", "401", "404"}
    schema = document["components"]["schemas"]["JobState"]
    assert {"credits_charged", "step", "steps"} <= set(schema["properties"])
