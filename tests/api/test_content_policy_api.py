"""Content policy through a real server: a blocked prompt is refused at submit."""

from __future__ import annotations

import httpx

from creatix.billing import service as billing
from support import LiveServer


def test_creatix_v1_refuses_a_blocked_prompt_with_the_policy_code(api: httpx.Client) -> None:
    answer = api.post(
        "/v1/images/generations", json={"prompt": "a miracle cure in a bottle", "n": 2}
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "content_policy_violation"
    assert "regulated_claim" in error["message"]
    assert error["param"] == "prompt"
    assert api.post("/v1/images/generations", json={"prompt": "a calm beach"}).status_code == 200


def test_a_refused_prompt_charges_nothing(server: LiveServer) -> None:
    assert server.runtime is not None
    name, secret = server.funded_account(credits=100)
    with server.client(secret) as client:
        refused = client.post("/v1/images/generations", json={"prompt": "gore everywhere"})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "content_policy_violation"
    assert server.call(billing.statement(server.runtime.db, name)).balance == 100
