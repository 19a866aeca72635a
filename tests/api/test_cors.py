"""CORS is off unless CREATIX_CORS_ORIGINS names origins; then a configured origin's
preflight is allowed and its scripts may read the headers clients need."""

from __future__ import annotations

from pathlib import Path

import httpx

from support import LiveServer, make_settings

APP = "https://app.example"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
}


def _preflight(server: LiveServer, origin: str) -> httpx.Response:
    return httpx.options(
        f"{server.url}/v1/images/generations", headers={"Origin": origin, **PREFLIGHT}
    )


def test_a_configured_origin_is_allowed_and_sees_the_headers_clients_need(tmp_path: Path) -> None:
    server = LiveServer(make_settings(tmp_path, cors_origins=[APP])).start()
    try:
        allowed = _preflight(server, APP)
        refused = _preflight(server, "https://elsewhere.example")
        with server.client(server.key()) as client:
            answer = client.post(
                "/v1/images/generations", json={"prompt": "a red kite"}, headers={"Origin": APP}
            )
    finally:
        server.stop()
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == APP
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "idempotency-key" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in refused.headers

    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == APP
    exposed = {
        h.strip().lower() for h in answer.headers["access-control-expose-headers"].split(",")
    }
    assert {
        "x-request-id",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "retry-after",
        "x-creatix-engine",
        "x-creatix-job-id",
        "x-creatix-credits-charged",
    } <= exposed


def test_without_configured_origins_there_are_no_cors_headers(tmp_path: Path) -> None:
    server = LiveServer(make_settings(tmp_path)).start()
    try:
        preflight = _preflight(server, APP)
        answer = httpx.get(f"{server.url}/healthz", headers={"Origin": APP})
    finally:
        server.stop()
    assert "access-control-allow-origin" not in preflight.headers
    assert preflight.status_code != 200
    assert not [name for name in answer.headers if name.lower().startswith("access-control-")]


def test_origins_are_read_comma_separated_or_as_a_json_list() -> None:
    two = ["https://a.example", "https://b.example"]
    assert (
        make_settings(Path("x"), cors_origins="https://a.example, https://b.example").cors_origins
        == two
    )
    assert (
        make_settings(
            Path("x"), cors_origins='["https://a.example", "https://b.example"]'
        ).cors_origins
        == two
    )
