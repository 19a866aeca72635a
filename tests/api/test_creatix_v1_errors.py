"""Creatix v1's errors: OpenAI's envelope, the right status, the offending field named."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
import yaml
from PIL.Image import Image

from creatix.accounts import service as accounts
from creatix.catalog.loader import load_catalog
from creatix.engines import registry
from creatix.engines.base import EngineParams, ProgressCallback
from creatix.engines.preview import PreviewEngine
from creatix.jobs.specs import ImageSpec
from support import LiveServer, make_settings

GENERATIONS = "/v1/images/generations"


def _error(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error: dict[str, object] = body["error"]
    assert {"message", "type", "param", "code"} <= set(error)
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({"prompt": "x", "model": "dall-e-9"}, "model"),
        ({"prompt": "x" * 1001}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"model": "creatix-flash"}, "prompt"),
        ({"prompt": "x", "n": 5}, "n"),
        ({"prompt": "x", "n": 0}, "n"),
        ({"prompt": "x", "n": "2"}, "n"),
        ({"prompt": "x", "n": 1.5}, "n"),
        ({"prompt": "x", "size": "100x100"}, "size"),
        ({"prompt": "x", "aspect_ratio": "2:1"}, "aspect_ratio"),
        ({"prompt": "x", "response_format": "jpg"}, "response_format"),
        ({"prompt": "x", "quality": "ultra"}, "quality"),
        ({"prompt": "x", "seed": -1}, "seed"),
        ({"prompt": "x", "style": "no-such-style"}, "style"),
        ({"prompt": "x", "output_format": "gif"}, "output_format"),
        ({"prompt": 42}, "prompt"),
        ({"prompt": "x", "colour": "red"}, "colour"),
    ],
)
def test_invalid_parameter_is_a_400_naming_it(
    api: httpx.Client, payload: dict[str, object], param: str
) -> None:
    error = _error(api.post(GENERATIONS, json=payload), 400)
    assert error["param"] == param
    assert error["type"] == "invalid_request_error"
    assert param in str(error["message"]) or error["code"] in {"model_not_found"}


@pytest.mark.parametrize(
    ("content", "content_type", "code"),
    [
        (b'{"prompt": "x",', "application/json", "invalid_json"),
        (b"", "application/json", "missing_body"),
        (b"[1, 2]", "application/json", "invalid_body"),
        (b"prompt=x", "application/x-www-form-urlencoded", "invalid_content_type"),
        (b'{"prompt": "x"}', "text/plain", "invalid_content_type"),
    ],
)
def test_malformed_bodies_are_400(
    api: httpx.Client, content: bytes, content_type: str, code: str
) -> None:
    response = api.post(GENERATIONS, content=content, headers={"Content-Type": content_type})
    assert _error(response, 400)["code"] == code


def test_missing_wrong_and_revoked_keys_are_401(server: LiveServer) -> None:
    body = {"prompt": "x"}
    with server.client() as anonymous:
        assert _error(anonymous.post(GENERATIONS, json=body), 401)["code"] == "invalid_api_key"
        wrong = anonymous.post(GENERATIONS, json=body, headers={"Authorization": "Bearer sk_no"})
        assert _error(wrong, 401)["type"] == "authentication_error"
        basic = anonymous.get("/v1/models", headers={"Authorization": "Basic abc"})
        _error(basic, 401)
    secret = server.key(account="revoke-me")
    assert server.runtime is not None
    db = server.runtime.db
    with server.client(secret) as client:
        assert client.get("/v1/models").status_code == 200
        [key] = server.call(accounts.list_keys(db, "revoke-me"))
        server.call(accounts.revoke_key(db, key.key_id))
        assert "revoked" in str(_error(client.get("/v1/models"), 401)["message"])


def test_free_plan_quota_is_50_images_a_day(server: LiveServer) -> None:
    with server.client(server.key(plan="free")) as client:
        payload = {"prompt": "quota", "size": "512x512", "n": 4}
        for _ in range(12):
            assert client.post(GENERATIONS, json=payload).status_code == 200
        over = client.post(GENERATIONS, json=payload)
        error = _error(over, 429)
        assert error["code"] == "quota_exceeded"
        assert "50 images per day" in str(error["message"])
        assert "resets at" in str(error["message"])
        assert 0 < int(over.headers["Retry-After"]) <= 86400
        assert client.post(GENERATIONS, json={**payload, "n": 2}).status_code == 200
        _error(client.post(GENERATIONS, json={**payload, "n": 1}), 429)


def _catalog_with(
    tmp_path: Path,
    requests_per_minute: int = 60,
    engines: dict[str, object] | None = None,
    models: list[dict[str, str]] | None = None,
) -> Path:
    data = load_catalog().model_dump(mode="json")
    for plan in data["plans"]:
        plan["requests_per_minute"] = requests_per_minute
    data["engines"].update(engines or {})
    data["models"].extend(models or [])
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def limited_server(tmp_path: Path) -> Iterator[LiveServer]:
    catalog = _catalog_with(tmp_path, requests_per_minute=3)
    live = LiveServer(make_settings(tmp_path / "data", catalog=catalog)).start()
    yield live
    live.stop()


def test_rate_limit_per_key_answers_429_with_headers(limited_server: LiveServer) -> None:
    with limited_server.client(limited_server.key()) as client:
        first = client.get("/v1/models")
        assert first.headers["X-RateLimit-Limit"] == "3"
        assert first.headers["X-RateLimit-Remaining"] == "2"
        assert int(first.headers["X-RateLimit-Reset"]) > 0
        client.get("/v1/models")
        client.get("/v1/models")
        limited = client.get("/v1/models")
        error = _error(limited, 429)
        assert error["code"] == "rate_limit_exceeded"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.headers["X-RateLimit-Remaining"] == "0"
    with limited_server.client(limited_server.key()) as other:
        assert other.get("/v1/models").status_code == 200, "limits are per key"


class CrashingEngine(PreviewEngine):
    async def generate(
        self,
        model: str,
        specs: Sequence[ImageSpec],
        input_images: Sequence[Image | None] | None = None,
        progress: ProgressCallback | None = None,
        params: EngineParams | None = None,
    ) -> list[list[Image]]:
        raise RuntimeError("secret internal detail: /opt/weights missing")


@pytest.fixture
def crashing_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveServer]:
    monkeypatch.setitem(registry.FACTORIES, "crashing", lambda options, context: CrashingEngine())
    catalog = _catalog_with(
        tmp_path,
        engines={"broken": {"type": "crashing"}, "absent": {"type": "no-such-engine"}},
        models=[
            {"id": "crashy", "engine": "broken", "display_name": "Crashy"},
            {"id": "ghost", "engine": "absent", "display_name": "Ghost"},
        ],
    )
    live = LiveServer(make_settings(tmp_path / "data", catalog=catalog, max_attempts=2)).start()
    yield live
    live.stop()


def test_engine_crash_is_a_500_with_request_id_and_no_internals(
    crashing_server: LiveServer,
) -> None:
    with crashing_server.client(crashing_server.key()) as client:
        response = client.post(GENERATIONS, json={"prompt": "x", "model": "crashy"})
        error = _error(response, 500)
        assert error["type"] == "server_error"
        assert error["request_id"] == response.headers["X-Request-ID"]
        assert "secret internal detail" not in response.text
        assert "Traceback" not in response.text


def test_unavailable_engine_is_listed_and_refused(crashing_server: LiveServer) -> None:
    with crashing_server.client(crashing_server.key()) as client:
        models = {m["id"]: m for m in client.get("/v1/models").json()["data"]}
        assert models["ghost"]["available"] is False
        assert "no-such-engine" in models["ghost"]["unavailable_reason"]
        assert models["crashy"]["available"] is True
        response = client.post(GENERATIONS, json={"prompt": "x", "model": "ghost"})
        assert _error(response, 503)["code"] == "unavailable"


def test_unknown_paths_and_methods_answer_in_the_openai_envelope(api: httpx.Client) -> None:
    missing = _error(api.get("/v1/images/variations"), 404)
    assert missing["code"] == "unknown_url"
    assert _error(api.get(GENERATIONS), 405)["code"] == "method_not_allowed"
    assert "POST" in api.get(GENERATIONS).headers["Allow"]
