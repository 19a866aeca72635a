"""``creatify-asset-generator.txt``, step by step: its three curl requests sent as written
against a real server (only the host, the credentials and the task id of step 2 swapped; the
image and webhook hosts it names are stood in for on loopback), the schemas, the task polled
to ``done`` and the webhook's body validated against the fields and types the document shows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any, Literal

import httpx
import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from reference_support import (
    Account,
    Curl,
    ImageOrigin,
    curl_examples,
    funded_account,
    poll,
    reference_server,
    reference_text,
    swap_host,
)
from support import LiveServer
from webhooks.receiver import Receiver

DOCUMENT = "creatify-asset-generator.txt"
BASE = "/api/asset_generator"

# "1) Discover Models & Input Schemas", verbatim.
SCHEMAS = Curl("GET", f"{BASE}/schemas/", ("X-API-ID", "X-API-KEY"))
# "2) Create a Generation Task", verbatim.
CREATE = Curl(
    "POST",
    f"{BASE}/",
    ("Content-Type", "X-API-ID", "X-API-KEY"),
    {
        "model_name": "kling-video/v1.6/pro/image-to-video",
        "webhook_url": "https://webhook.site/8de4fa26-a1aa-4e83-8795-ede39bb99d78",
        "input_params": {
            "prompt": "A man working in the snow moutains with small image logo.",
            "duration": "5",
            "cfg_scale": 0.5,
            "image_url": "https://d35ghwdno3nak3.cloudfront.net/media_file/18165/d91443bdd92c82ed5d5992e38f3ff9d3.jpg",
            "aspect_ratio": "16:9",
            "negative_prompt": "blur, distort, and low quality",
        },
    },
)
# "3) Check Status (Poll)", verbatim: the id is the task step 2 creates.
POLL = Curl("GET", f"{BASE}/1ea584a7-4930-4892-90a0-d7c74c6623dd/", ("X-API-ID", "X-API-KEY"))
EXAMPLE_ID = "1ea584a7-4930-4892-90a0-d7c74c6623dd"


# -- the documented shapes -------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True)


class InputParamsSchema(_Strict):
    """ "a JSON Schema containing $schema, required, and properties"."""

    schema_: str = Field(alias="$schema")
    required: list[str]
    properties: dict[str, Any]


class ModelSchema(_Strict):
    model_name: str
    input_params_schema: InputParamsSchema


SCHEMA_LIST = TypeAdapter(list[ModelSchema])
"""The document shows no wrapper; Creatix's is a bare array (docs/api/asset-generator.md)."""


class Asset(_Strict):
    id: uuid.UUID
    type: Literal["image", "video"]
    url: str
    thumbnail_url: str
    name: str


class Task(_Strict):
    """The webhook's example body, which is also what ``GET /{id}/`` answers ("You can get the
    generated result from the assets field"). Its statuses are Creatify's (the text
    generator's reference lists them); the example shows ``done``."""

    id: uuid.UUID
    status: Literal["pending", "running", "done", "failed"]
    failed_reason: str
    assets: list[Asset]


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


@pytest.fixture(scope="module")
def origin() -> Iterator[ImageOrigin]:
    with ImageOrigin() as running:
        yield running


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


def _create_body(origin: ImageOrigin, receiver: Receiver) -> dict[str, Any]:
    """The create example's body, its image and webhook hosts swapped for loopback ones."""
    params = CREATE.body["input_params"]
    return {
        **CREATE.body,
        "webhook_url": swap_host(CREATE.body["webhook_url"], f"http://127.0.0.1:{receiver.port}"),
        "input_params": {**params, "image_url": swap_host(params["image_url"], origin.url)},
    }


def _poll(client: httpx.Client, account: Account, task_id: str) -> Task:
    path = POLL.path.replace(EXAMPLE_ID, task_id)

    def finished(response: httpx.Response) -> Task | None:
        assert response.status_code == 200, response.text
        task = Task.model_validate_json(response.content)
        if task.status in ("pending", "running"):
            assert task.assets == []
            return None
        return task

    return poll(lambda: POLL.request(client, account, path=path), finished, timeout=240)


# -- the document's examples are this module's -----------------------------------------------


def test_the_modules_examples_are_the_documents() -> None:
    assert curl_examples(reference_text(DOCUMENT)) == [SCHEMAS, CREATE, POLL]


# -- 1) discover models & input schemas ------------------------------------------------------


def test_the_schemas_example(client: httpx.Client, account: Account) -> None:
    response = SCHEMAS.request(client, account)
    assert response.status_code == 200, response.text
    models = SCHEMA_LIST.validate_json(response.content)
    assert CREATE.body["model_name"] in {model.model_name for model in models}
    for model in models:
        Draft202012Validator.check_schema(model.input_params_schema.model_dump(by_alias=True))
        assert set(model.input_params_schema.required) <= set(model.input_params_schema.properties)


def test_the_schemas_filtered_by_a_comma_separated_list(
    client: httpx.Client, account: Account
) -> None:
    names = [CREATE.body["model_name"], "creatix-flash"]
    path = f"{SCHEMAS.path}?model_name={','.join(names)}"
    response = SCHEMAS.request(client, account, path=path)
    assert response.status_code == 200, response.text
    assert [model.model_name for model in SCHEMA_LIST.validate_json(response.content)] == names


def test_the_create_examples_input_params_satisfy_its_schema(
    client: httpx.Client, account: Account
) -> None:
    path = f"{SCHEMAS.path}?model_name={CREATE.body['model_name']}"
    [model] = SCHEMA_LIST.validate_json(SCHEMAS.request(client, account, path=path).content)
    schema = model.input_params_schema.model_dump(by_alias=True)
    Draft202012Validator(schema).validate(CREATE.body["input_params"])


# -- 2) create, 3) poll or receive the webhook -----------------------------------------------


def test_the_create_and_poll_examples_and_the_webhook(
    client: httpx.Client, account: Account, origin: ImageOrigin, receiver: Receiver
) -> None:
    fetched_before = len(origin.paths)
    created = CREATE.request(client, account, body=_create_body(origin, receiver))
    assert created.status_code in (200, 201), created.text
    task = Task.model_validate_json(created.content)
    assert origin.paths[fetched_before:] == [urlpath(CREATE.body["input_params"]["image_url"])]

    done = _poll(client, account, str(task.id))
    assert done.status == "done", done
    assert done.id == task.id
    assert done.failed_reason == ""
    [video] = done.assets
    assert video.type == "video"
    for url in (video.url, video.thumbnail_url):
        assert client.get(url).status_code == 200

    [received] = receiver.wait_for(1)
    webhook = Task.model_validate_json(received.body)
    assert webhook.model_dump(exclude={"assets"}) == done.model_dump(exclude={"assets"})
    assert [asset.id for asset in webhook.assets] == [video.id]
    assert received.path == "/8de4fa26-a1aa-4e83-8795-ede39bb99d78"


def urlpath(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def test_a_task_without_a_webhook(client: httpx.Client, account: Account) -> None:
    """``webhook_url`` is optional; an image model makes ``image`` assets."""
    body = {"model_name": "creatix-flash", "input_params": {"prompt": "A red sneaker"}}
    created = client.post(f"{BASE}/", headers=account.pair, json=body)
    assert created.status_code in (200, 201), created.text
    done = _poll(client, account, str(Task.model_validate_json(created.content).id))
    assert done.status == "done", done
    assert [asset.type for asset in done.assets] == ["image"]


# -- refusals --------------------------------------------------------------------------------


def test_a_required_input_param_left_out_is_400(
    client: httpx.Client, account: Account, origin: ImageOrigin, receiver: Receiver
) -> None:
    body = _create_body(origin, receiver)
    del body["input_params"]["prompt"]
    response = CREATE.request(client, account, body=body)
    assert response.status_code == 400, response.text


def test_an_unknown_model_is_400(
    client: httpx.Client, account: Account, origin: ImageOrigin, receiver: Receiver
) -> None:
    body = {**_create_body(origin, receiver), "model_name": "no-such-model"}
    response = CREATE.request(client, account, body=body)
    assert response.status_code == 400, response.text


def test_an_unknown_task_is_404(client: httpx.Client, account: Account) -> None:
    response = POLL.request(client, account)
    assert response.status_code == 404, response.text


@pytest.mark.parametrize("example", [SCHEMAS, CREATE, POLL], ids=["schemas", "create", "poll"])
def test_every_step_needs_valid_credentials(
    client: httpx.Client, account: Account, example: Curl
) -> None:
    wrong = Account(account.name, account.key_id, "sk_live_not-the-secret")
    response = example.request(client, wrong)
    assert response.status_code == 401, response.text
    keyless = Curl(example.method, example.path, ("Content-Type",), example.body)
    response = keyless.request(client, account)
    assert response.status_code == 401, response.text
