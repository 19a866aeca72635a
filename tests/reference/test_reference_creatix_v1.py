"""``creatix-v1.txt``, example by example: its cURL, Python and JavaScript requests sent as
written against a real server (only the host and key swapped), every response validated
against the fields and types the document gives, every documented parameter value accepted,
and the documented error statuses."""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Iterator
from typing import Any, Literal

import httpx
import pytest
from PIL import Image
from pydantic import BaseModel, ConfigDict

from reference_support import (
    TRICKLE,
    Account,
    Curl,
    curl_examples,
    funded_account,
    js_object,
    reference_server,
    reference_text,
)
from support import LiveServer

DOCUMENT = "creatix-v1.txt"
GENERATIONS = "/v1/images/generations"

# "Example Request (cURL)", verbatim.
CURL = Curl(
    "POST",
    GENERATIONS,
    ("Authorization", "Content-Type"),
    {
        "prompt": "A majestic mountain landscape at sunset with a calm lake and pine trees, "
        "cinematic lighting",
        "n": 2,
        "size": "1024x1024",
        "aspect_ratio": "16:9",
    },
)
# "Python Example": its headers and payload, verbatim.
PYTHON_HEADERS = ("Authorization", "Content-Type")
PYTHON_PAYLOAD = {"prompt": "Cyberpunk city at night", "n": 1, "size": "1024x1024"}
# "JavaScript Example": its headers and body, verbatim.
JAVASCRIPT_HEADERS = ("Authorization", "Content-Type")
JAVASCRIPT_BODY = {"prompt": "A cat astronaut floating in space", "n": 1, "size": "1024x1024"}

# "Request Parameters": every value the table lists.
DOCUMENTED_VALUES: list[tuple[str, Any]] = [
    ("model", "creatix-flash"),
    ("model", "creatix-pro"),
    *[("n", n) for n in (1, 2, 3, 4)],
    *[("size", size) for size in ("512x512", "1024x1024", "2048x2048")],
    *[("aspect_ratio", ratio) for ratio in ("1:1", "16:9", "9:16", "4:3", "3:4", "1:4", "4:1")],
    ("response_format", "url"),
    ("response_format", "b64_json"),
    ("quality", "standard"),
    ("quality", "hd"),
]


# -- the documented response ("Example Successful Response") ---------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True)


class GeneratedImage(_Strict):
    url: str | None
    b64_json: str | None


class Generations(_Strict):
    created: int
    data: list[GeneratedImage]


def generations(response: httpx.Response, n: int) -> Generations:
    assert response.status_code == 200, response.text
    body = Generations.model_validate_json(response.content)
    assert len(body.data) == n
    return body


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


def _picture(client: httpx.Client, url: str) -> Image.Image:
    response = client.get(url)
    assert response.status_code == 200, response.text
    return Image.open(io.BytesIO(response.content))


# -- the document's examples are this module's -----------------------------------------------


def test_the_modules_examples_are_the_documents() -> None:
    text = reference_text(DOCUMENT)
    assert curl_examples(text) == [CURL]

    python_headers = re.search(r"^headers = (\{.*\})$", text, re.MULTILINE)
    python_payload = re.search(r"^payload = (\{.*\})$", text, re.MULTILINE)
    assert python_headers is not None
    assert python_payload is not None
    assert tuple(json.loads(python_headers[1])) == PYTHON_HEADERS
    assert json.loads(python_payload[1]) == PYTHON_PAYLOAD

    javascript_headers = re.search(r"^headers:(\{.*?\})", text, re.MULTILINE | re.DOTALL)
    javascript_body = re.search(r"body:JSON\.stringify\((\{.*?\})\)", text, re.DOTALL)
    assert javascript_headers is not None
    assert javascript_body is not None
    assert tuple(json.loads(javascript_headers[1])) == JAVASCRIPT_HEADERS
    assert js_object(javascript_body[1]) == JAVASCRIPT_BODY


# -- the examples, sent as written -----------------------------------------------------------


def test_the_curl_example(client: httpx.Client, account: Account) -> None:
    body = generations(CURL.request(client, account), n=2)
    for image in body.data:
        assert image.url is not None
        assert image.b64_json is None
        assert _picture(client, image.url).size[0] > 0


def test_the_python_example(client: httpx.Client, account: Account) -> None:
    values = {**account.bearer, "Content-Type": "application/json"}
    headers = {name: values[name] for name in PYTHON_HEADERS}
    response = client.post(GENERATIONS, headers=headers, json=PYTHON_PAYLOAD)
    [image] = generations(response, n=1).data
    assert image.url is not None
    assert _picture(client, image.url).size == (1024, 1024)


def test_the_javascript_example(client: httpx.Client, account: Account) -> None:
    values = {**account.bearer, "Content-Type": "application/json"}
    headers = {name: values[name] for name in JAVASCRIPT_HEADERS}
    response = client.post(GENERATIONS, headers=headers, content=json.dumps(JAVASCRIPT_BODY))
    [image] = generations(response, n=1).data
    assert image.url is not None
    assert _picture(client, image.url).size == (1024, 1024)


def test_base64_responses_carry_the_image(client: httpx.Client, account: Account) -> None:
    """ "Working with Base64 Responses": the image data itself, no CDN link."""
    payload = {**PYTHON_PAYLOAD, "response_format": "b64_json"}
    response = client.post(GENERATIONS, headers=account.bearer, json=payload)
    [image] = generations(response, n=1).data
    assert image.b64_json is not None
    picture = Image.open(io.BytesIO(base64.b64decode(image.b64_json)))
    assert picture.size == (1024, 1024)


@pytest.mark.parametrize(("name", "value"), DOCUMENTED_VALUES)
def test_every_documented_parameter_value_is_accepted(
    client: httpx.Client, account: Account, name: str, value: Any
) -> None:
    payload = {"prompt": "Minimalist product photo of a perfume bottle", name: value}
    response = client.post(GENERATIONS, headers=account.bearer, json=payload)
    body = generations(response, n=value if name == "n" else 1)
    for image in body.data:
        if payload.get("response_format") == "b64_json":
            assert image.b64_json is not None
        else:
            assert image.url is not None


# -- "Error Codes" and "Limits & Quotas" -----------------------------------------------------


Problem = Literal[
    "a fifth image",
    "a longer prompt",
    "no prompt",
    "an undocumented size",
    "an undocumented aspect ratio",
    "an undocumented format",
    "an undocumented quality",
    "an undocumented model",
]
INVALID: dict[Problem, dict[str, Any]] = {
    "a fifth image": {"prompt": "a cat", "n": 5},
    "a longer prompt": {"prompt": "a" * 1001},
    "no prompt": {"n": 1},
    "an undocumented size": {"prompt": "a cat", "size": "640x480"},
    "an undocumented aspect ratio": {"prompt": "a cat", "aspect_ratio": "2:1"},
    "an undocumented format": {"prompt": "a cat", "response_format": "png"},
    "an undocumented quality": {"prompt": "a cat", "quality": "ultra"},
    "an undocumented model": {"prompt": "a cat", "model": "creatix-ultra"},
}


@pytest.mark.parametrize("problem", list(INVALID))
def test_invalid_request_parameters_are_400(
    client: httpx.Client, account: Account, problem: Problem
) -> None:
    response = client.post(GENERATIONS, headers=account.bearer, json=INVALID[problem])
    assert response.status_code == 400, response.text


def test_a_prompt_of_the_maximum_length_is_accepted(client: httpx.Client, account: Account) -> None:
    response = client.post(GENERATIONS, headers=account.bearer, json={"prompt": "a" * 1000})
    generations(response, n=1)


@pytest.mark.parametrize("authorization", [None, "Bearer sk_live_not-a-key", "Basic abc"])
def test_a_missing_or_invalid_key_is_401(client: httpx.Client, authorization: str | None) -> None:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = client.post(GENERATIONS, headers=headers, content=json.dumps(PYTHON_PAYLOAD))
    assert response.status_code == 401, response.text


def test_past_the_rate_limit_is_429(server: LiveServer, client: httpx.Client) -> None:
    account = funded_account(server, plan=TRICKLE)
    first = client.post(GENERATIONS, headers=account.bearer, json=PYTHON_PAYLOAD)
    generations(first, n=1)
    second = client.post(GENERATIONS, headers=account.bearer, json=PYTHON_PAYLOAD)
    assert second.status_code == 429, second.text


def test_the_key_is_checked_before_the_body(client: httpx.Client) -> None:
    """ "401 | Missing or invalid API key" whatever the body: the key comes first."""
    response = client.post(
        "/v1/images/generations", content=b"prompt=x", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 401, response.text
