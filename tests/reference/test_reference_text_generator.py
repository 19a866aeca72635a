"""``creatify-text-generator.txt``: its request sent as written against a real server (only
the host and credentials swapped) and refused for its placeholders, then with each placeholder
given a value the document allows; the 201 task, the task polled to ``done`` and the webhook's
body validated against the fields and types of its "Response" section; and refusals of what
its "Body" section rules out."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

import httpx
import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ConfigDict

from reference_support import (
    Account,
    Curl,
    curl_examples,
    funded_account,
    poll,
    reference_server,
    reference_text,
)
from support import LiveServer
from webhooks.receiver import Receiver

DOCUMENT = "creatify-text-generator.txt"
BASE = "/api/text_generator"

# The request at the top of the page, verbatim: its values are placeholders.
TEMPLATE = Curl(
    "POST",
    f"{BASE}/",
    ("Content-Type", "X-API-ID", "X-API-KEY"),
    {
        "model_name": "<string>",
        "messages": [{"role": "user", "content": "<string>"}],
        "system_instruction": "",
        "config": {
            "temperature": 123,
            "max_output_tokens": 123,
            "top_p": 123,
            "top_k": 123,
            "presence_penalty": 123,
            "frequency_penalty": 123,
            "seed": 123,
            "stop_sequences": ["<string>"],
            "response_mime_type": "text/plain",
            "response_json_schema": "<unknown>",
        },
        "webhook_url": "<string>",
    },
)


def filled(webhook_url: str) -> dict[str, Any]:
    """The template, each placeholder given a value: the model the document names, Gemini's
    ranges for the numbers, and no schema for ``text/plain`` (``null``)."""
    return {
        "model_name": "gemini-2.5-flash",
        "messages": [{"role": "user", "content": "Write a tagline for a coffee shop by the sea."}],
        "system_instruction": "",
        "config": {
            "temperature": 0.7,
            "max_output_tokens": 123,
            "top_p": 0.95,
            "top_k": 40,
            "presence_penalty": 0.5,
            "frequency_penalty": 0.5,
            "seed": 123,
            "stop_sequences": ["<END>"],
            "response_mime_type": "text/plain",
            "response_json_schema": None,
        },
        "webhook_url": webhook_url,
    }


# -- the documented response ("Response: 201 - application/json") ----------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True)


class Message(_Strict):
    """ "List of messages with 'role' (user/model) and 'content'"."""

    role: Literal["user", "model"]
    content: str


class Config(_Strict):
    """The example's config; the document requires none of its settings (a setting left out
    may be absent or null)."""

    temperature: float | None = None
    max_output_tokens: int | None = None
    top_p: float | None = None
    top_k: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    seed: int | None = None
    stop_sequences: list[str] | None = None
    response_mime_type: str | None = None
    response_json_schema: Any = None


class Task(_Strict):
    """Required: as the document marks them. The rest may be absent or null (it marks them
    optional and says no more)."""

    id: uuid.UUID
    model_name: str
    messages: list[Message]
    config: Config
    created_at: datetime
    updated_at: datetime
    system_instruction: str | None = None
    status: Literal["pending", "running", "done", "failed"] | None = None
    response_text: str | None = None
    failed_reason: str | None = None
    credits_used: float | None = None


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = reference_server(tmp_path_factory)
    yield live
    live.stop()


@pytest.fixture(scope="module")
def account(server: LiveServer) -> Account:
    return funded_account(server)


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as plain:
        yield plain


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


def created(response: httpx.Response) -> Task:
    assert response.status_code == 201, response.text
    return Task.model_validate_json(response.content)


def finished(client: httpx.Client, account: Account, task: Task) -> Task:
    """The task polled at ``GET /{id}/`` (the document implies it) until it is done or failed."""

    def ended(response: httpx.Response) -> Task | None:
        assert response.status_code == 200, response.text
        polled = Task.model_validate_json(response.content)
        return None if polled.status in ("pending", "running") else polled

    return poll(lambda: client.get(f"{BASE}/{task.id}/", headers=account.pair), ended)


def _keys(value: Any) -> Any:
    """The shape of a JSON value: its objects' keys, nested, without the values."""
    if isinstance(value, dict):
        return {key: _keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_keys(item) for item in value]
    return None


# -- the document's example is this module's -------------------------------------------------


def test_the_modules_example_is_the_documents() -> None:
    assert curl_examples(reference_text(DOCUMENT)) == [TEMPLATE]


def test_the_filled_example_fills_every_placeholder_and_nothing_else() -> None:
    assert _keys(filled("http://127.0.0.1/hook")) == _keys(TEMPLATE.body)


# -- the example -----------------------------------------------------------------------------


def test_the_example_as_written_is_refused_for_its_placeholders(
    client: httpx.Client, account: Account
) -> None:
    response = TEMPLATE.request(client, account)
    assert response.status_code == 400, response.text


def test_the_example_end_to_end(client: httpx.Client, account: Account, receiver: Receiver) -> None:
    body = filled(receiver.url)
    first = created(TEMPLATE.request(client, account, body=body))
    assert first.model_name == body["model_name"]
    assert [message.model_dump() for message in first.messages] == body["messages"]
    assert first.updated_at >= first.created_at

    done = finished(client, account, first)
    assert done.status == "done", done
    assert done.id == first.id
    assert done.response_text
    assert done.credits_used is not None
    assert done.credits_used >= 0
    assert done.created_at == first.created_at

    [received] = receiver.wait_for(1)
    webhook = Task.model_validate_json(received.body)
    assert (webhook.id, webhook.status, webhook.response_text) == (
        done.id,
        "done",
        done.response_text,
    )


def test_the_least_body(client: httpx.Client, account: Account) -> None:
    """Only what the document requires: ``model_name`` and ``messages``."""
    body = {"model_name": "gemini-2.5-flash", "messages": [{"role": "user", "content": "Hi."}]}
    task = created(client.post(f"{BASE}/", headers=account.pair, json=body))
    assert finished(client, account, task).status == "done"


def test_a_conversation_with_a_system_instruction(client: httpx.Client, account: Account) -> None:
    body = {
        "model_name": "gemini-2.5-flash",
        "system_instruction": "You write short ad copy.",
        "messages": [
            {"role": "user", "content": "A tagline for running shoes."},
            {"role": "model", "content": "Run the day."},
            {"role": "user", "content": "Shorter."},
        ],
    }
    task = created(client.post(f"{BASE}/", headers=account.pair, json=body))
    assert task.system_instruction == body["system_instruction"]
    assert finished(client, account, task).status == "done"


def test_json_output_follows_the_response_json_schema(
    client: httpx.Client, account: Account
) -> None:
    schema = {
        "type": "object",
        "properties": {"headline": {"type": "string"}, "words": {"type": "integer"}},
        "required": ["headline", "words"],
    }
    body = {
        "model_name": "gemini-2.5-flash",
        "messages": [{"role": "user", "content": "A headline for a summer sale."}],
        "config": {"response_mime_type": "application/json", "response_json_schema": schema},
    }
    task = created(client.post(f"{BASE}/", headers=account.pair, json=body))
    done = finished(client, account, task)
    assert done.status == "done", done
    assert done.response_text is not None
    Draft202012Validator(schema).validate(json.loads(done.response_text))


# -- what the "Body" section rules out -------------------------------------------------------


INVALID: dict[str, dict[str, Any]] = {
    "no model_name": {"messages": [{"role": "user", "content": "Hi."}]},
    "a model_name over 255 characters": {"model_name": "g" * 256},
    "no messages": {"messages": None},
    "a role other than user or model": {"messages": [{"role": "assistant", "content": "Hi."}]},
    "a webhook_url that is no URI": {"webhook_url": "not a uri"},
}


@pytest.mark.parametrize("problem", list(INVALID))
def test_what_the_body_section_rules_out_is_400(
    client: httpx.Client, account: Account, problem: str
) -> None:
    least = {"model_name": "gemini-2.5-flash", "messages": [{"role": "user", "content": "Hi."}]}
    body = {key: value for key, value in {**least, **INVALID[problem]}.items() if value is not None}
    if problem == "no model_name":
        del body["model_name"]
    response = client.post(f"{BASE}/", headers=account.pair, json=body)
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("credentials", ["none", "a wrong secret", "a bearer key"])
def test_the_authorizations_are_required(
    client: httpx.Client, account: Account, credentials: str
) -> None:
    headers = {
        "none": {},
        "a wrong secret": {"X-API-ID": account.key_id, "X-API-KEY": "sk_live_not-the-secret"},
        "a bearer key": account.bearer,
    }[credentials]
    body = filled("http://127.0.0.1/hook")
    response = client.post(f"{BASE}/", headers=headers, json=body)
    assert response.status_code == 401, response.text


def test_an_unknown_task_is_404(client: httpx.Client, account: Account) -> None:
    response = client.get(f"{BASE}/{uuid.uuid4()}/", headers=account.pair)
    assert response.status_code == 404, response.text
