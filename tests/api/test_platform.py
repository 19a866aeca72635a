"""The platform API's credits endpoint, through a real HTTP client."""

from __future__ import annotations

from creatix.billing import service as billing
from support import LiveServer


def test_credits_show_balance_and_lifetime_usage(server: LiveServer) -> None:
    secret = server.key(plan="paid", account="platform-credits")
    assert server.runtime is not None
    server.call(billing.grant(server.runtime.db, "platform-credits", 500, "top-up"))
    with server.client(secret) as client:
        generated = client.post(
            "/v1/images/generations",
            json={"prompt": "paid sneaker", "model": "z-image-turbo", "size": "512x512", "n": 2},
        )
        assert generated.status_code == 200, generated.text
        response = client.get("/api/platform/credits")
    assert response.status_code == 200
    assert response.json() == {
        "balance": 300,
        "lifetimePurchased": 500,
        "lifetimeUsed": 200,
        "unlimited": False,
    }


def test_credits_need_a_key(server: LiveServer) -> None:
    with server.client() as anonymous:
        response = anonymous.get("/api/platform/credits")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_api_key"
        assert anonymous.get("/api/platform/nope").json()["error"]["code"] == "unknown_url"


def test_insufficient_credits_is_a_402_in_the_openai_envelope(server: LiveServer) -> None:
    with server.client(server.key(plan="paid")) as client:
        response = client.post(
            "/v1/images/generations", json={"prompt": "x", "model": "flux-2-pro", "size": "512x512"}
        )
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "insufficient_credits"
