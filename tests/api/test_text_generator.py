"""The text generator (``/api/text_generator/...``) through a real HTTP client against a real
server: the reference's example end to end, the task's exact shape, polling, listing a page at
a time, exact credits, JSON mode, every validation error naming its field, X-API-ID/X-API-KEY,
accounts kept apart, a signed webhook, and Idempotency-Key."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator
from standardwebhooks import Webhook

from creatix.accounts import service as accounts
from creatix.api.text_generator import task
from creatix.billing import service as billing
from creatix.catalog.loader import load_catalog
from creatix.catalog.schemas import ModelEntry
from creatix.engines.registry import FACTORIES
from creatix.jobs.specs import (
    ChatTurn,
    Job,
    JobError,
    JobKind,
    JobStatus,
    TextConfig,
    TextResult,
    TextSpec,
)
from creatix.webhooks import payloads
from creatix.webhooks import service as webhooks
from fakes.gemini import KEY as GEMINI_KEY
from fakes.gemini import FakeGemini
from support import LiveServer, make_settings
from webhooks.receiver import Receiver

BASE = "/api/text_generator"
MODEL = "gemini-2.5-flash"
TASK_KEYS = {
    "id",
    "model_name",
    "messages",
    "config",
    "created_at",
    "updated_at",
    "system_instruction",
    "status",
    "response_text",
    "failed_reason",
    "credits_used",
    "provenance",
}
CONFIG_KEYS = {
    "temperature",
    "max_output_tokens",
    "top_p",
    "top_k",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "stop_sequences",
    "response_mime_type",
    "response_json_schema",
}
SHIPPED = load_catalog(None)


def _shipped_engine() -> tuple[str, str]:
    """The instance and type of the engine the shipped catalog serves ``MODEL`` on."""
    entry = SHIPPED.model(MODEL)
    assert entry is not None, f"the shipped catalog has no {MODEL}"
    assert entry.kind == JobKind.TEXT
    return entry.engine, SHIPPED.engines[entry.engine].type


def reference_body(webhook_url: str | None = None) -> dict[str, Any]:
    """The reference's example body, its placeholders replaced by real values. Its
    ``response_json_schema`` ("<unknown>") goes with ``text/plain``, which takes none: null."""
    return {
        "model_name": MODEL,
        "messages": [
            {"role": "user", "content": "Write a tagline for a coffee shop by the sea."},
        ],
        "system_instruction": "",
        "config": {
            "temperature": 0.7,
            "max_output_tokens": 256,
            "top_p": 0.95,
            "top_k": 40,
            "presence_penalty": 0,
            "frequency_penalty": 0,
            "seed": 123,
            "stop_sequences": ["<END>"],
            "response_mime_type": "text/plain",
            "response_json_schema": None,
        },
        "webhook_url": webhook_url,
    }


# -- servers ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalog_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Settings that serve the shipped catalog's ``gemini-2.5-flash``: as shipped when this
    build has its engine type; else (while the built-in text engine is being written) with
    that engine replaced by the upstream Gemini engine talking to a fake Gemini."""
    instance, engine_type = _shipped_engine()
    if engine_type in FACTORIES:
        yield {}
        return
    gemini = FakeGemini()
    gemini.start()
    engines = {name: entry.model_dump() for name, entry in SHIPPED.engines.items()}
    engines[instance] = {"type": "gemini"}
    path = tmp_path_factory.mktemp("text-catalog") / "catalog.yaml"
    path.write_text(yaml.safe_dump({"extends": "shipped", "engines": engines}))
    yield {
        "catalog": path,
        "gemini_api_key": GEMINI_KEY,
        "gemini_base_url": f"{gemini.url}/v1beta",
    }
    gemini.stop()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, catalog_settings: dict[str, Any]
) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("creatix-text")
    live = LiveServer(make_settings(data_dir, **catalog_settings)).start()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def private_server(
    tmp_path_factory: pytest.TempPathFactory, catalog_settings: dict[str, Any]
) -> Iterator[LiveServer]:
    """Webhooks may reach loopback, where the test's receiver listens."""
    data_dir = tmp_path_factory.mktemp("creatix-text-private")
    settings = make_settings(data_dir, allow_private_urls=True, **catalog_settings)
    live = LiveServer(settings).start()
    live.settings.public_url = live.url
    yield live
    live.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


# -- helpers ---------------------------------------------------------------------------------


def _credentials(server: LiveServer, account: str, credits: int = 0) -> dict[str, str]:
    """X-API-ID and X-API-KEY of a fresh key on ``account`` (paid plan), granted ``credits``."""
    assert server.runtime is not None
    db = server.runtime.db
    server.call(accounts.ensure_account(db, account, "paid", "free"))
    if credits:
        server.call(billing.grant(db, account, credits, None))
    key = server.call(accounts.create_key(db, account))
    return {"X-API-ID": key.key_id, "X-API-KEY": key.secret}


def _account() -> str:
    return f"tg-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def account() -> str:
    return _account()


@pytest.fixture
def client(server: LiveServer, account: str) -> Iterator[httpx.Client]:
    headers = _credentials(server, account, credits=100_000)
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as c:
        yield c


def _create(client: httpx.Client, body: dict[str, Any], **headers: str) -> httpx.Response:
    return client.post(f"{BASE}/", json=body, headers=headers)


def _minimal(content: str = "Say hello.", **extra: Any) -> dict[str, Any]:
    return {"model_name": MODEL, "messages": [{"role": "user", "content": content}], **extra}


def _poll(client: httpx.Client, task_id: str, timeout: float = 60) -> dict[str, Any]:
    """The task once it is done or failed; fails the test if it is neither in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"{BASE}/{task_id}/")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in ("done", "failed"):
            return body
        assert body["status"] in ("pending", "running")
        assert body["response_text"] is None
        assert body["failed_reason"] is None
        assert body["credits_used"] == 0
        time.sleep(0.05)
    pytest.fail(f"task {task_id} did not finish in {timeout} s")


def _fields(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"error", "detail", "field", "fields"}
    assert body["field"] == next(iter(body["fields"]))
    fields: dict[str, str] = body["fields"]
    for name in fields:
        assert name in body["detail"]
    return fields


def _instant(value: str) -> datetime:
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value)


def _balance(server: LiveServer, account: str) -> int:
    assert server.runtime is not None
    return server.call(billing.statement(server.runtime.db, account)).balance


def _model(server: LiveServer) -> ModelEntry:
    assert server.runtime is not None
    entry = server.runtime.catalog.model(MODEL)
    assert entry is not None
    assert entry.kind == JobKind.TEXT
    return entry


# -- the reference's example, end to end -----------------------------------------------------


def test_the_reference_example_end_to_end(private_server: LiveServer, receiver: Receiver) -> None:
    account = _account()
    headers = _credentials(private_server, account, credits=10_000)
    before = _balance(private_server, account)
    body = reference_body(webhook_url=receiver.url)
    with httpx.Client(base_url=private_server.url, headers=headers, timeout=60) as client:
        created = client.post(f"{BASE}/", json=body)
        assert created.status_code == 201, created.text
        first = created.json()
        assert set(first) == TASK_KEYS
        assert uuid.UUID(first["id"]).version == 7
        assert created.headers["Location"] == f"{BASE}/{first['id']}/"
        assert "X-RateLimit-Limit" in created.headers
        assert first["model_name"] == MODEL
        assert first["messages"] == body["messages"]
        assert first["system_instruction"] == ""
        assert first["config"] == {**body["config"], "temperature": 0.7}
        assert set(first["config"]) == CONFIG_KEYS
        assert first["status"] in ("pending", "running")
        assert first["response_text"] is None
        assert first["failed_reason"] is None
        assert first["credits_used"] == 0
        created_at = _instant(first["created_at"])
        assert _instant(first["updated_at"]) >= created_at

        done = _poll(client, first["id"])
        assert done["status"] == "done", done
        assert set(done) == TASK_KEYS
        assert isinstance(done["response_text"], str)
        assert done["response_text"].strip()
        assert done["failed_reason"] is None
        assert {k: done[k] for k in ("id", "model_name", "messages", "config")} == {
            k: first[k] for k in ("id", "model_name", "messages", "config")
        }
        assert _instant(done["created_at"]) == created_at
        assert _instant(done["updated_at"]) >= created_at

        # The exact charge: what the task says it used is what left the balance.
        spent = before - _balance(private_server, account)
        assert done["credits_used"] == spent
        if _model(private_server).credits_per_1k_output_tokens:
            assert spent > 0

        # The webhook: one signed POST whose body is the task as GET shows it.
        [received] = receiver.wait_for(1)
        assert private_server.runtime is not None
        db = private_server.runtime.db
        account_id = private_server.call(accounts.account_id_named(db, account))
        secret = private_server.call(webhooks.signing_secret(db, account_id))
        payload = Webhook(secret).verify(received.body, received.headers)
        assert payload == client.get(f"{BASE}/{first['id']}/").json() == done


def test_paths_answer_without_the_trailing_slash(client: httpx.Client) -> None:
    created = client.post(BASE, json=_minimal())
    assert created.status_code == 201, created.text
    task_id = created.json()["id"]
    assert client.get(f"{BASE}/{task_id}").json()["id"] == task_id
    listed = client.get(BASE)
    assert listed.status_code == 200
    assert [t["id"] for t in listed.json()["results"]] == [task_id]


def test_settings_left_out_are_echoed_as_null(client: httpx.Client) -> None:
    created = _create(client, _minimal())
    assert created.status_code == 201, created.text
    shown = created.json()
    assert shown["system_instruction"] == ""
    assert shown["config"] == {
        "temperature": None,
        "max_output_tokens": None,
        "top_p": None,
        "top_k": None,
        "presence_penalty": None,
        "frequency_penalty": None,
        "seed": None,
        "stop_sequences": [],
        "response_mime_type": "text/plain",
        "response_json_schema": None,
    }
    # null is the same as leaving a setting out; integers may be written 2.0
    nulls = _minimal(
        system_instruction=None,
        config={"temperature": None, "top_k": 5.0, "stop_sequences": None},
        webhook_url="",
    )
    created = _create(client, nulls)
    assert created.status_code == 201, created.text
    assert created.json()["config"]["top_k"] == 5
    assert created.json()["config"]["stop_sequences"] == []
    assert created.json()["system_instruction"] == ""
    assert _create(client, _minimal(config=None)).status_code == 201


def test_a_conversation_with_a_system_instruction(client: httpx.Client) -> None:
    messages = [
        {"role": "user", "content": "Name a colour."},
        {"role": "model", "content": "Teal."},
        {"role": "user", "content": "Another one, please."},
    ]
    body = {"model_name": MODEL, "messages": messages, "system_instruction": "Be brief."}
    created = _create(client, body)
    assert created.status_code == 201, created.text
    done = _poll(client, created.json()["id"])
    assert done["status"] == "done", done
    assert done["messages"] == messages
    assert done["system_instruction"] == "Be brief."
    assert done["response_text"]


# -- JSON mode -------------------------------------------------------------------------------

SLOGANS = {
    "type": "object",
    "properties": {
        "slogans": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "tone": {"type": "string", "enum": ["playful", "serious"]},
    },
    "required": ["slogans", "tone"],
    "additionalProperties": False,
}


def test_json_mode_answers_json_valid_against_the_schema(client: httpx.Client) -> None:
    config = {"response_mime_type": "application/json", "response_json_schema": SLOGANS}
    created = _create(client, _minimal("Three slogans for a bakery.", config=config))
    assert created.status_code == 201, created.text
    assert created.json()["config"]["response_json_schema"] == SLOGANS
    done = _poll(client, created.json()["id"])
    assert done["status"] == "done", done
    Draft202012Validator(SLOGANS).validate(json.loads(done["response_text"]))


def test_json_mode_without_a_schema_answers_json(client: httpx.Client) -> None:
    config = {"response_mime_type": "application/json"}
    created = _create(client, _minimal("A JSON object describing a cat.", config=config))
    assert created.status_code == 201, created.text
    done = _poll(client, created.json()["id"])
    assert done["status"] == "done", done
    json.loads(done["response_text"])


def test_a_schema_with_a_published_dialect_is_accepted(client: httpx.Client) -> None:
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}
    config = {"response_mime_type": "application/json", "response_json_schema": schema}
    assert _create(client, _minimal(config=config)).status_code == 201


# -- listing ---------------------------------------------------------------------------------


def test_the_list_pages_through_the_callers_text_tasks(
    client: httpx.Client, server: LiveServer
) -> None:
    ids = []
    for index in range(5):
        created = _create(client, _minimal(f"Task number {index}."))
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    newest_first = ids[::-1]
    # An image task of the same account is not a text task.
    image = client.post(
        "/api/asset_generator/",
        json={"model_name": "creatix-flash", "input_params": {"prompt": "a cup"}},
    )
    assert image.status_code == 200, image.text

    first = client.get(f"{BASE}/", params={"limit": 2})
    assert first.status_code == 200, first.text
    page = first.json()
    assert set(page) == {"count", "next", "previous", "results"}
    assert page["count"] == 5
    assert page["previous"] is None
    assert [t["id"] for t in page["results"]] == newest_first[:2]
    for shown in page["results"]:
        assert set(shown) == TASK_KEYS
    assert page["next"] == f"{server.url}{BASE}/?limit=2&page=2"

    second = client.get(page["next"]).json()
    assert [t["id"] for t in second["results"]] == newest_first[2:4]
    assert second["previous"] == f"{server.url}{BASE}/?limit=2&page=1"
    third = client.get(second["next"]).json()
    assert [t["id"] for t in third["results"]] == newest_first[4:]
    assert third["next"] is None
    assert third["previous"] == f"{server.url}{BASE}/?limit=2&page=2"

    everything = client.get(f"{BASE}/").json()
    assert [t["id"] for t in everything["results"]] == newest_first
    assert everything["next"] is None
    beyond = client.get(f"{BASE}/", params={"page": 9, "limit": 2}).json()
    assert beyond["results"] == []
    assert beyond["count"] == 5
    assert beyond["next"] is None
    assert beyond["previous"] == f"{server.url}{BASE}/?limit=2&page=3"

    with httpx.Client(
        base_url=server.url, headers=_credentials(server, _account()), timeout=30
    ) as other:
        assert other.get(f"{BASE}/").json() == {
            "count": 0,
            "next": None,
            "previous": None,
            "results": [],
        }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": 0}, "page"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"page": "x"}, "page"),
    ],
)
def test_bad_paging_is_a_400_naming_it(
    client: httpx.Client, params: dict[str, Any], field: str
) -> None:
    response = client.get(f"{BASE}/", params=params)
    assert list(_fields(response)) == [field]
    assert response.json()["error"] == "invalid_value"


# -- ownership and auth ----------------------------------------------------------------------


def test_another_accounts_task_is_a_404(client: httpx.Client, server: LiveServer) -> None:
    task_id = _create(client, _minimal("private")).json()["id"]
    image = client.post(
        "/api/asset_generator/",
        json={"model_name": "creatix-flash", "input_params": {"prompt": "a cup"}},
    ).json()["id"]
    with httpx.Client(
        base_url=server.url, headers=_credentials(server, _account()), timeout=30
    ) as other:
        for unknown in (task_id, "job_doesnotexist"):
            response = other.get(f"{BASE}/{unknown}/")
            assert response.status_code == 404
            assert response.json() == {
                "error": "not_found",
                "detail": f"No task found with id '{unknown}'.",
                "field": "id",
            }
    assert client.get(f"{BASE}/{task_id}/").status_code == 200
    # the account's own image task is not a text task
    assert client.get(f"{BASE}/{image}/").status_code == 404


def test_credentials_must_be_one_live_key(server: LiveServer) -> None:
    mine = _credentials(server, _account())
    other = _credentials(server, _account())
    refused = [
        {},
        {"X-API-ID": mine["X-API-ID"]},
        {"X-API-KEY": mine["X-API-KEY"]},
        {"X-API-ID": mine["X-API-ID"], "X-API-KEY": other["X-API-KEY"]},
        {"Authorization": f"Bearer {mine['X-API-KEY']}"},
    ]
    with httpx.Client(base_url=server.url, timeout=30) as anonymous:
        for headers in refused:
            for method, path in [("POST", f"{BASE}/"), ("GET", f"{BASE}/"), ("GET", f"{BASE}/x/")]:
                response = anonymous.request(method, path, headers=headers, json=_minimal())
                assert response.status_code == 401, (headers, method, path)
                assert response.json()["error"] == "invalid_api_key"
                assert response.json()["detail"]
        assert anonymous.get(f"{BASE}/", headers=mine).status_code == 200


def test_an_empty_balance_is_a_402(server: LiveServer) -> None:
    if not (
        _model(server).credits_per_1k_input_tokens or _model(server).credits_per_1k_output_tokens
    ):
        pytest.skip("the model is free in this catalog")
    headers = _credentials(server, _account())
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as broke:
        response = broke.post(f"{BASE}/", json=_minimal())
        assert response.status_code == 402
        assert response.json()["error"] == "insufficient_credits"
        assert broke.get(f"{BASE}/").json()["count"] == 0


# -- validation ------------------------------------------------------------------------------


def _with_config(**config: Any) -> dict[str, Any]:
    return _minimal(config=config)


INVALID_SCHEMA = {"type": "strnig"}

BAD_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("model_name missing", {"messages": [{"role": "user", "content": "hi"}]}, "model_name"),
    ("model_name too long", {**_minimal(), "model_name": "g" * 256}, "model_name"),
    ("model_name unknown", {**_minimal(), "model_name": "gemini-9"}, "model_name"),
    ("model_name an image model", {**_minimal(), "model_name": "creatix-flash"}, "model_name"),
    ("model_name not a string", {**_minimal(), "model_name": 7}, "model_name"),
    ("messages missing", {"model_name": MODEL}, "messages"),
    ("messages empty", {**_minimal(), "messages": []}, "messages"),
    ("messages not a list", {**_minimal(), "messages": "hi"}, "messages"),
    ("a message not an object", {**_minimal(), "messages": ["hi"]}, "messages.0"),
    (
        "role system",
        {**_minimal(), "messages": [{"role": "system", "content": "hi"}]},
        "messages.0.role",
    ),
    (
        "role assistant",
        {
            **_minimal(),
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello"},
            ],
        },
        "messages.1.role",
    ),
    ("role missing", {**_minimal(), "messages": [{"content": "hi"}]}, "messages.0.role"),
    (
        "content empty",
        {**_minimal(), "messages": [{"role": "user", "content": ""}]},
        "messages.0.content",
    ),
    (
        "content blank",
        {**_minimal(), "messages": [{"role": "user", "content": "  \n"}]},
        "messages.0.content",
    ),
    (
        "content not a string",
        {**_minimal(), "messages": [{"role": "user", "content": ["hi"]}]},
        "messages.0.content",
    ),
    (
        "a message's unknown key",
        {**_minimal(), "messages": [{"role": "user", "content": "hi", "name": "x"}]},
        "messages.0.name",
    ),
    ("system_instruction a number", _minimal(system_instruction=5), "system_instruction"),
    ("config a string", _minimal(config="hot"), "config"),
    ("config unknown key", _with_config(candidate_count=2), "config.candidate_count"),
    ("temperature below 0", _with_config(temperature=-0.1), "config.temperature"),
    ("temperature above 2", _with_config(temperature=2.01), "config.temperature"),
    ("temperature a string", _with_config(temperature="1"), "config.temperature"),
    ("temperature a boolean", _with_config(temperature=True), "config.temperature"),
    ("top_p below 0", _with_config(top_p=-0.5), "config.top_p"),
    ("top_p above 1", _with_config(top_p=1.5), "config.top_p"),
    ("top_k zero", _with_config(top_k=0), "config.top_k"),
    ("top_k negative", _with_config(top_k=-3), "config.top_k"),
    ("top_k a fraction", _with_config(top_k=2.5), "config.top_k"),
    ("max_output_tokens zero", _with_config(max_output_tokens=0), "config.max_output_tokens"),
    ("max_output_tokens negative", _with_config(max_output_tokens=-1), "config.max_output_tokens"),
    ("presence_penalty below -2", _with_config(presence_penalty=-2.5), "config.presence_penalty"),
    ("presence_penalty above 2", _with_config(presence_penalty=2.5), "config.presence_penalty"),
    (
        "frequency_penalty below -2",
        _with_config(frequency_penalty=-3),
        "config.frequency_penalty",
    ),
    ("frequency_penalty above 2", _with_config(frequency_penalty=2.1), "config.frequency_penalty"),
    ("seed a fraction", _with_config(seed=1.5), "config.seed"),
    ("seed beyond 32 bits", _with_config(seed=2**31), "config.seed"),
    ("stop_sequences a string", _with_config(stop_sequences="END"), "config.stop_sequences"),
    (
        "stop_sequences too many",
        _with_config(stop_sequences=list("abcdef")),
        "config.stop_sequences",
    ),
    ("a stop sequence empty", _with_config(stop_sequences=["END", ""]), "config.stop_sequences.1"),
    (
        "mime type unknown",
        _with_config(response_mime_type="text/html"),
        "config.response_mime_type",
    ),
    (
        "schema not valid",
        _with_config(response_mime_type="application/json", response_json_schema=INVALID_SCHEMA),
        "config.response_json_schema",
    ),
    (
        "schema not an object",
        _with_config(response_mime_type="application/json", response_json_schema="<unknown>"),
        "config.response_json_schema",
    ),
    (
        "schema of an unknown dialect",
        _with_config(
            response_mime_type="application/json",
            response_json_schema={"$schema": "https://example.com/my-dialect", "type": "object"},
        ),
        "config.response_json_schema",
    ),
    (
        "schema without application/json",
        _with_config(response_json_schema={"type": "object"}),
        "config.response_json_schema",
    ),
    (
        "schema with text/plain",
        _with_config(response_mime_type="text/plain", response_json_schema={"type": "object"}),
        "config.response_json_schema",
    ),
    ("webhook_url private", _minimal(webhook_url="http://127.0.0.1:9/hook"), "webhook_url"),
    ("webhook_url localhost", _minimal(webhook_url="http://localhost/hook"), "webhook_url"),
    ("webhook_url not http", _minimal(webhook_url="ftp://example.com/hook"), "webhook_url"),
    ("webhook_url a number", _minimal(webhook_url=5), "webhook_url"),
    ("an unknown field", _minimal(temperature=1), "temperature"),
]


@pytest.mark.parametrize(
    ("body", "field"), [(b, f) for _, b, f in BAD_BODIES], ids=[name for name, _, _ in BAD_BODIES]
)
def test_each_bad_field_is_a_400_naming_it(
    client: httpx.Client, body: dict[str, Any], field: str
) -> None:
    response = _create(client, body)
    assert list(_fields(response)) == [field]
    assert response.json()["error"] == "invalid_request"
    assert client.get(f"{BASE}/").json()["count"] == 0  # nothing was created


def test_max_output_tokens_beyond_the_models_limit(
    client: httpx.Client, server: LiveServer
) -> None:
    most = _model(server).max_output_tokens
    fields = _fields(_create(client, _with_config(max_output_tokens=most + 1)))
    assert list(fields) == ["config.max_output_tokens"]
    assert str(most) in fields["config.max_output_tokens"]
    assert _create(client, _with_config(max_output_tokens=most)).status_code == 201


def test_every_failing_field_is_named_at_once_in_body_order(client: httpx.Client) -> None:
    body = {
        "webhook_url": "http://127.0.0.1/hook",
        "config": {
            "top_p": 3,
            "temperature": 9,
            "response_mime_type": "application/json",
            "response_json_schema": INVALID_SCHEMA,
        },
        "messages": [{"role": "user", "content": "hi"}, {"role": "bot", "content": ""}],
        "model_name": "nope",
        "extra": True,
    }
    fields = _fields(_create(client, body))
    assert list(fields) == [
        "model_name",
        "messages.1.role",
        "messages.1.content",
        "config.temperature",
        "config.top_p",
        "config.response_json_schema",
        "webhook_url",
        "extra",
    ]
    assert "between 0 and 2" in fields["config.temperature"]
    assert "between 0 and 1" in fields["config.top_p"]
    assert '"user", "model"' in fields["messages.1.role"]
    assert "not a valid JSON Schema" in fields["config.response_json_schema"]


def test_a_body_that_is_not_a_json_object_is_a_400(client: httpx.Client) -> None:
    for content, content_type, code in [
        (b"{", "application/json", "invalid_json"),
        (b"not json", "application/json", "invalid_json"),
        (
            b'{"model_name": "m", "config": {"temperature": NaN}}',
            "application/json",
            "invalid_json",
        ),
        (b'{"config": {"top_p": Infinity}}', "application/json", "invalid_json"),
        (b"[]", "application/json", "invalid_body"),
        (b"", "application/json", "invalid_body"),
        (b"model_name=x", "application/x-www-form-urlencoded", "invalid_content_type"),
    ]:
        response = client.post(f"{BASE}/", content=content, headers={"Content-Type": content_type})
        assert response.status_code == 400, content
        assert response.json()["error"] == code
        assert set(response.json()) == {"error", "detail"}


def test_unknown_paths_and_methods_answer_in_the_envelope(client: httpx.Client) -> None:
    missing = client.get(f"{BASE}/a/b/c")
    assert missing.status_code == 404
    assert missing.json()["error"] == "unknown_url"
    wrong = client.delete(f"{BASE}/")
    assert wrong.status_code == 405
    assert wrong.json()["error"] == "method_not_allowed"


# -- idempotency -----------------------------------------------------------------------------


def test_idempotency_key_returns_the_same_task_and_charges_once(
    server: LiveServer, client: httpx.Client, account: str
) -> None:
    key = uuid.uuid4().hex
    body = _minimal("Once only, please.")
    first = _create(client, body, **{"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    done = _poll(client, first.json()["id"])
    balance = _balance(server, account)
    second = _create(client, body, **{"Idempotency-Key": key})
    assert second.status_code == 201
    assert second.json() == done  # the earlier task, as it stands now
    assert _balance(server, account) == balance
    assert client.get(f"{BASE}/").json()["count"] == 1
    reused = _create(client, _minimal("Something else."), **{"Idempotency-Key": key})
    assert reused.status_code == 409
    assert reused.json()["error"] == "idempotency_key_reused"


# -- the task's fields from the job ----------------------------------------------------------


def _job(
    status: JobStatus,
    *,
    error: JobError | None = None,
    text: str | None = None,
    charged: int | None = None,
) -> Job:
    spec = TextSpec(
        messages=[ChatTurn(role="user", content="hi")],
        config=TextConfig(temperature=0.5, stop_sequences=["x"]),
    )
    created = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    return Job(
        id="job_x",
        account_id="acct_x",
        source="text_generator",
        kind=JobKind.TEXT,
        model=MODEL,
        engine="gemini",
        spec=spec,
        status=status,
        attempts=1,
        created_at=created,
        started_at=created.replace(second=6) if status is not JobStatus.QUEUED else None,
        finished_at=created.replace(second=9) if status.is_terminal else None,
        error=error,
        credits_reserved=40,
        credits_charged=charged,
        text=TextResult(text=text, input_tokens=3, output_tokens=4) if text else None,
    )


def test_statuses_and_results_map_to_the_references() -> None:
    retrying = JobError(code="engine_error", message="busy")
    boom = JobError(code="provider_rejected", message="The provider refused the request.")
    cases = [
        (_job(JobStatus.QUEUED), "pending", None, None, 0),
        (_job(JobStatus.QUEUED, error=retrying), "pending", None, None, 0),  # requeued
        (_job(JobStatus.RUNNING), "running", None, None, 0),
        (_job(JobStatus.SUCCEEDED, text="Hello!", charged=7), "done", "Hello!", None, 7),
        (_job(JobStatus.FAILED, error=boom, charged=0), "failed", None, boom.message, 0),
        (_job(JobStatus.CANCELED), "failed", None, "The task was canceled.", 0),
    ]
    for job, status, text, reason, credits in cases:
        shown = task(job)
        assert (shown.status, shown.response_text, shown.failed_reason) == (status, text, reason)
        assert shown.credits_used == credits
    done = task(_job(JobStatus.SUCCEEDED, text="Hello!", charged=7)).model_dump(mode="json")
    assert done["created_at"] == "2025-01-02T03:04:05Z"
    assert done["updated_at"] == "2025-01-02T03:04:09Z"
    assert done["config"]["temperature"] == 0.5
    assert done["config"]["stop_sequences"] == ["x"]
    assert task(_job(JobStatus.RUNNING)).updated_at.second == 6


def test_the_webhook_body_is_the_task() -> None:
    job = _job(JobStatus.SUCCEEDED, text="Hello!", charged=7)
    assert payloads.render(job, lambda asset: "unused") == task(job).model_dump(mode="json")


# -- untrusted patterns ----------------------------------------------------------------------


def _json_config(schema: dict[str, Any]) -> dict[str, Any]:
    return {"response_mime_type": "application/json", "response_json_schema": schema}


def _healthz_seconds(url: str) -> float:
    started = time.perf_counter()
    response = httpx.get(f"{url}/healthz", timeout=5)
    assert response.status_code == 200
    return time.perf_counter() - started


def test_a_catastrophic_pattern_never_stalls_the_server(
    client: httpx.Client, server: LiveServer
) -> None:
    # The request of issue 13: Python's re needs 2^40 steps to refuse 'a' * 40 + 'b' here,
    # holding the GIL all the while; the server froze and /healthz stopped answering.
    baseline = min(_healthz_seconds(server.url) for _ in range(5))
    schema = {
        "type": "object",
        "properties": {"code": {"type": "string", "pattern": "^(a|a)*$", "minLength": 40}},
        "required": ["code"],
    }
    created = _create(client, _minimal("A code of forty a's.", config=_json_config(schema)))
    assert created.status_code == 201, created.text
    task_id = created.json()["id"]
    slowest = 0.0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        slowest = max(slowest, _healthz_seconds(server.url))
        body = client.get(f"{BASE}/{task_id}/").json()
        if body["status"] in ("done", "failed"):
            break
    assert body["status"] == "done", body
    code = json.loads(body["response_text"])["code"]
    assert len(code) >= 40
    assert set(code) == {"a"}
    # The freeze it guards against lasted minutes; 5 s leaves room for a loaded machine.
    assert slowest < max(5.0, 20 * baseline), (slowest, baseline)


@pytest.mark.parametrize(
    ("schema", "field", "feature"),
    [
        (
            {"type": "object", "properties": {"code": {"type": "string", "pattern": "(a)\\1"}}},
            "config.response_json_schema.properties.code.pattern",
            "backreference",
        ),
        (
            {"type": "array", "items": {"type": "string", "pattern": "^(?=[A-Z])\\w+$"}},
            "config.response_json_schema.items.pattern",
            "lookahead",
        ),
        (
            {"type": "object", "patternProperties": {"^(?!x_)": {"type": "string"}}},
            "config.response_json_schema.patternProperties.^(?!x_)",
            "lookahead",
        ),
        (
            {
                "$defs": {"sku": {"type": "string", "pattern": "(?<=SKU-)\\d+"}},
                "type": "object",
                "properties": {"sku": {"$ref": "#/$defs/sku"}},
            },
            "config.response_json_schema.$defs.sku.pattern",
            "lookbehind",
        ),
    ],
)
def test_a_pattern_that_cannot_run_in_linear_time_is_a_400_naming_it(
    client: httpx.Client,
    server: LiveServer,
    account: str,
    *,
    schema: dict[str, Any],
    field: str,
    feature: str,
) -> None:
    before = _balance(server, account)
    tasks = client.get(f"{BASE}/").json()["count"]
    fields = _fields(_create(client, _minimal(config=_json_config(schema))))
    assert list(fields) == [field]
    assert feature in fields[field]
    assert "linear-time" in fields[field]
    assert _balance(server, account) == before, "nothing is charged"
    assert client.get(f"{BASE}/").json()["count"] == tasks, "no task is made"


def test_an_ordinary_pattern_is_answered_end_to_end(client: httpx.Client) -> None:
    schema = {
        "type": "object",
        "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-\\d{4}$"}},
        "required": ["sku"],
        "additionalProperties": False,
    }
    created = _create(client, _minimal("A product code.", config=_json_config(schema)))
    assert created.status_code == 201, created.text
    done = _poll(client, created.json()["id"])
    assert done["status"] == "done", done
    answer = json.loads(done["response_text"])
    assert re.fullmatch(r"[A-Z]{3}-\d{4}", answer["sku"]), answer
    Draft202012Validator(schema).validate(answer)


def test_a_blocked_message_is_refused_with_the_policy_code_and_no_charge(
    server: LiveServer, account: str, client: httpx.Client
) -> None:
    before = _balance(server, account)
    response = _create(client, _minimal("Write an ad: our pills are a miracle cure."))
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "content_policy_violation"
    assert "regulated_claim" in response.text
    assert _balance(server, account) == before
