"""``artnex-generate.txt``, example by example: both of its curl requests sent as written
against a real server (only the host and key swapped), the response validated against the
fields and types the document gives, every model of its price list charged as listed, and
every error code of its table."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import httpx
import pytest
from PIL import Image
from pydantic import BaseModel, ConfigDict, StringConstraints

from creatix.accounts import service as accounts
from reference_support import (
    TRICKLE,
    Account,
    Curl,
    curl_examples,
    funded_account,
    reference_server,
    reference_text,
)
from support import LiveServer

DOCUMENT = "artnex-generate.txt"
GENERATE = "/v1/generate"

# The request template at the top of the page, verbatim: placeholders, and no key.
TEMPLATE = Curl(
    "POST",
    GENERATE,
    ("Content-Type",),
    {"prompt": "<string>", "model": "<string>", "width": 123, "height": 123, "num_images": 123},
)
# "Example requests", verbatim.
EXAMPLE = Curl(
    "POST",
    GENERATE,
    ("Authorization", "Content-Type"),
    {
        "prompt": "A serene mountain landscape at sunset, photorealistic, golden hour lighting",
        "model": "flux-2-pro",
        "width": 1024,
        "height": 1024,
        "num_images": 1,
    },
)
# "Models": the price list, verbatim (gpt-image-2 "Varies").
CREDITS_PER_IMAGE = {
    "z-image-turbo": 100,
    "artsyn-light": 240,
    "flux-2-pro": 250,
    "seedream-v4": 200,
    "seedream-v4.5": 800,
    "nano-banana-pro": 800,
    "nano-banana-pro-ultra": 1000,
}
RESOLUTIONS = ("1k", "2k", "4k")
QUALITIES = ("low", "medium", "high")


# -- the documented response ("Response fields", "Example response") -------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True)


class GeneratedImage(_Strict):
    url: str


class Generated(_Strict):
    success: bool
    images: list[GeneratedImage]
    request_id: Annotated[str, StringConstraints(pattern=r"^req_\w+$")]
    """"string"; the example's (and its image URL's) form is ``req_…``."""
    credits_used: int


ErrorCode = Literal[
    "missing_prompt",
    "invalid_model",
    "invalid_dimensions",
    "invalid_api_key",
    "insufficient_credits",
    "rate_limit_exceeded",
]


class ErrorDetail(BaseModel):
    code: ErrorCode
    message: str


class Failure(_Strict):
    """The document names each error's code but shows no body; Creatix's envelope is
    ``docs/api/artnex.md``'s."""

    success: Literal[False]
    error: ErrorDetail


def generated(response: httpx.Response, images: int = 1) -> Generated:
    assert response.status_code == 200, response.text
    body = Generated.model_validate_json(response.content)
    assert body.success is True
    assert len(body.images) == images
    return body


def failure(response: httpx.Response, status: int, code: ErrorCode) -> None:
    assert response.status_code == status, response.text
    assert Failure.model_validate_json(response.content).error.code == code


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
    with httpx.Client(base_url=server.url, timeout=120) as plain:
        yield plain


def _generate(client: httpx.Client, account: Account, **body: Any) -> httpx.Response:
    return client.post(GENERATE, headers=account.bearer, json=body)


# -- the document's examples are this module's -----------------------------------------------


def test_the_modules_examples_are_the_documents() -> None:
    text = reference_text(DOCUMENT)
    assert curl_examples(text) == [TEMPLATE, EXAMPLE]
    for model, credits in CREDITS_PER_IMAGE.items():
        assert re.search(rf"^{re.escape(model)}{credits:,}[A-Z]", text, re.MULTILINE), model
    assert re.search(r"^gpt-image-2Varies", text, re.MULTILINE)
    assert "resolution (1k, 2k, 4k) and quality (low, medium, high)" in text


# -- the examples, sent as written -----------------------------------------------------------


def test_the_example_request(client: httpx.Client, account: Account) -> None:
    body = generated(EXAMPLE.request(client, account))
    assert body.credits_used == 250  # as "Example response" says
    [image] = body.images
    download = client.get(image.url)
    assert download.status_code == 200, download.text
    picture = Image.open(io.BytesIO(download.content))
    assert (picture.format, picture.size) == ("JPEG", (1024, 1024))  # ".../image_0.jpg"


def test_the_template_as_written_has_no_key(client: httpx.Client, account: Account) -> None:
    failure(TEMPLATE.request(client, account), 401, "invalid_api_key")


def test_the_template_with_a_key_names_no_model(client: httpx.Client, account: Account) -> None:
    response = client.post(GENERATE, headers=account.bearer, json=TEMPLATE.body)
    failure(response, 400, "invalid_model")


@pytest.mark.parametrize(("model", "credits"), CREDITS_PER_IMAGE.items())
def test_every_listed_model_costs_its_listed_credits(
    client: httpx.Client, account: Account, model: str, credits: int
) -> None:
    body = generated(_generate(client, account, prompt="A red sneaker", model=model))
    assert body.credits_used == credits


def test_each_image_costs_the_full_price(client: httpx.Client, account: Account) -> None:
    response = _generate(
        client, account, prompt="A red sneaker", model="z-image-turbo", num_images=4
    )
    assert generated(response, images=4).credits_used == 4 * 100


@pytest.mark.parametrize(
    ("resolution", "quality"),
    [(resolution, "medium") for resolution in RESOLUTIONS]
    + [("1k", quality) for quality in QUALITIES if quality != "medium"],
)
def test_gpt_image_2_takes_resolution_and_quality(
    client: httpx.Client, account: Account, resolution: str, quality: str
) -> None:
    response = _generate(
        client,
        account,
        prompt="A red sneaker",
        model="gpt-image-2",
        resolution=resolution,
        quality=quality,
    )
    assert generated(response).credits_used > 0


# -- "Error codes" ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [{"model": "z-image-turbo"}, {"prompt": "", "model": "z-image-turbo"}]
)
def test_missing_prompt(client: httpx.Client, account: Account, body: dict[str, Any]) -> None:
    failure(client.post(GENERATE, headers=account.bearer, json=body), 400, "missing_prompt")


def test_invalid_model(client: httpx.Client, account: Account) -> None:
    response = _generate(client, account, prompt="A red sneaker", model="dall-e-9")
    failure(response, 400, "invalid_model")


@pytest.mark.parametrize(("width", "height"), [(100_000, 1024), (1024, 100_000), (0, 1024)])
def test_invalid_dimensions(
    client: httpx.Client, account: Account, width: int, height: int
) -> None:
    response = _generate(
        client, account, prompt="A red sneaker", model="z-image-turbo", width=width, height=height
    )
    failure(response, 400, "invalid_dimensions")


@pytest.mark.parametrize("authorization", [None, "Bearer sk_live_revoked-or-unknown", "Bearer"])
def test_invalid_api_key(client: httpx.Client, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = client.post(GENERATE, headers=headers, json=EXAMPLE.body)
    failure(response, 401, "invalid_api_key")


def test_a_revoked_key_is_invalid_api_key(server: LiveServer, client: httpx.Client) -> None:
    revoked = funded_account(server)
    assert server.runtime is not None
    server.call(accounts.revoke_key(server.runtime.db, revoked.key_id))
    failure(EXAMPLE.request(client, revoked), 401, "invalid_api_key")


def test_insufficient_credits(server: LiveServer, client: httpx.Client) -> None:
    poor = funded_account(server, credits=99)
    response = _generate(client, poor, prompt="A red sneaker", model="z-image-turbo")
    failure(response, 402, "insufficient_credits")
    assert server.balance(poor.name) == 99


def test_rate_limit_exceeded(server: LiveServer, client: httpx.Client) -> None:
    limited = funded_account(server, plan=TRICKLE)
    generated(_generate(client, limited, prompt="A red sneaker", model="z-image-turbo"))
    response = _generate(client, limited, prompt="A red sneaker", model="z-image-turbo")
    failure(response, 429, "rate_limit_exceeded")
