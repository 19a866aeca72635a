"""The official ``openai`` package against Creatix v1, with only base URL and key changed."""

from __future__ import annotations

import base64
import io

import httpx
import openai
import pytest
from PIL import Image

from support import LiveServer


@pytest.fixture
def client(server: LiveServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=server.key(), max_retries=0)


def test_images_generate_with_urls(client: openai.OpenAI) -> None:
    result = client.images.generate(
        model="creatix-flash", prompt="Cyberpunk city at night", n=2, size="1024x1024"
    )
    assert result.data is not None
    assert len(result.data) == 2
    for image in result.data:
        assert image.url is not None
        assert image.b64_json is None
        assert httpx.get(image.url).status_code == 200


def test_images_generate_with_b64_and_our_extensions(client: openai.OpenAI) -> None:
    result = client.images.generate(
        model="creatix-pro",
        prompt="Modern sneaker advertisement with bold typography",
        size="512x512",
        response_format="b64_json",
        quality="hd",
        style="vivid",
        output_format="webp",
        extra_body={"aspect_ratio": "4:1", "seed": 11},
    )
    assert result.data is not None
    [image] = result.data
    assert image.b64_json is not None
    decoded = Image.open(io.BytesIO(base64.b64decode(image.b64_json)))
    assert (decoded.format, decoded.size) == ("WEBP", (1024, 256))


def test_models_list_and_retrieve(client: openai.OpenAI) -> None:
    ids = [model.id for model in client.models.list()]
    assert "creatix-flash" in ids
    assert client.models.retrieve("creatix-pro").id == "creatix-pro"


def test_errors_map_to_the_clients_exceptions(client: openai.OpenAI, server: LiveServer) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        client.images.generate(prompt="x", n=5)
    assert bad.value.param == "n"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-image-1")
    wrong = openai.OpenAI(base_url=f"{server.url}/v1", api_key="sk_live_wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
