"""``adcreator-platform.txt``, endpoint by endpoint: its curl examples sent as written against
a real server (only the host, the key and the ids an earlier step makes swapped), every other
endpoint it documents called, each response validated against the fields and types its tables
give, generations and videos polled to completion, and the documented error statuses."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Literal

import httpx
import pytest
from PIL import Image
from pydantic import BaseModel, ConfigDict, TypeAdapter
from pydantic.alias_generators import to_camel

from reference_support import (
    Account,
    Curl,
    curl_examples,
    funded_account,
    jpeg,
    poll,
    reference_server,
    reference_text,
)
from support import LiveServer

DOCUMENT = "adcreator-platform.txt"
API = "/api/platform"

# Every endpoint heading, verbatim ("GET/api/platform/credits", ...).
ENDPOINTS = [
    ("GET", f"{API}/credits"),
    ("GET", f"{API}/models"),
    ("GET", f"{API}/video-models"),
    ("GET", f"{API}/styles"),
    ("POST", f"{API}/upload"),
    ("POST", f"{API}/generate"),
    ("GET", f"{API}/generations"),
    ("GET", f"{API}/generations/:id"),
    ("DELETE", f"{API}/generations/:id"),
    ("POST", f"{API}/videos"),
    ("GET", f"{API}/videos/:id"),
]
# "curl — multipart upload", verbatim.
UPLOAD = Curl("POST", f"{API}/upload", ("Authorization",), form=("file=@product.jpg",))
# "curl — generate an image", verbatim.
GENERATE = Curl(
    "POST",
    f"{API}/generate",
    ("Authorization", "Content-Type"),
    {
        "prompt": "Luxury perfume bottle on marble surface, soft studio lighting",
        "modelId": "nano-banana-2",
        "aspectRatio": "1:1",
        "stylePreset": "studio-product",
    },
)
# "curl — poll for completion", verbatim: GEN_ID is the generation's id.
POLL_GENERATION = Curl("GET", f"{API}/generations/GEN_ID", ("Authorization",))
# "curl — generate video from an image", verbatim: the source is an earlier generation's id.
VIDEO = Curl(
    "POST",
    f"{API}/videos",
    ("Authorization", "Content-Type"),
    {
        "sourceGenerationId": "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
        "prompt": "Smooth camera orbit around the product",
        "modelId": "kling-v3-pro",
        "durationSeconds": 5,
    },
)
# "curl — poll video status", verbatim: VIDEO_ID is the video's id.
POLL_VIDEO = Curl("GET", f"{API}/videos/VIDEO_ID", ("Authorization",))

# -- the documented responses (each endpoint's "Response" table) -----------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True)


class _Camel(BaseModel):
    """An object whose documented fields are camelCase (``lifetimePurchased``)."""

    model_config = ConfigDict(strict=True, alias_generator=to_camel)


class Credits(_Camel):
    balance: float
    lifetime_purchased: float
    lifetime_used: float
    unlimited: bool


class ImageModel(_Camel):
    id: str
    display_name: str
    credits_cost: float
    estimated_seconds: float
    supports_image_input: bool
    max_width: float
    max_height: float


class AspectRatio(_Camel):
    id: str
    label: str
    width: float
    height: float


class Models(_Camel):
    models: list[ImageModel]
    aspect_ratios: list[AspectRatio]


class VideoModel(_Camel):
    id: str
    display_name: str
    durations: list[float]
    credits: dict[str, float]
    supports_audio: bool
    supports_negative_prompt: bool
    supports_cfg_scale: bool


class VideoModels(_Camel):
    models: list[VideoModel]


class Style(_Camel):
    id: str
    display_name: str
    category: str
    prompt_suffix: str


class Styles(_Camel):
    styles: list[Style]


class Uploaded(_Camel):
    path: str
    public_url: str


class Accepted(_Strict):
    """202 of /generate and /videos: "Generation ID for polling", a UUID as /generations/:id
    and /videos' ``sourceGenerationId`` type it."""

    id: uuid.UUID
    status: Literal["processing"]


Status = Literal["processing", "completed", "failed"]


class Generation(_Strict):
    id: uuid.UUID
    status: Status
    prompt: str
    image_url: str | None
    model_id: str
    created_at: datetime


class GenerationEnvelope(_Strict):
    generation: Generation


GENERATIONS = TypeAdapter(list[Generation])
"""The list: "an array of generation objects"."""


class Deleted(_Strict):
    deleted: bool


class Video(_Strict):
    id: uuid.UUID
    status: Status
    video_url: str | None
    model_id: str
    duration_seconds: float
    created_at: datetime


class VideoEnvelope(_Strict):
    video: Video


def accepted(response: httpx.Response) -> Accepted:
    assert response.status_code == 202, response.text
    return Accepted.model_validate_json(response.content)


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


def _completed_generation(client: httpx.Client, account: Account, generation_id: str) -> Generation:
    """``generation_id`` polled as "curl — poll for completion" does, until it is done."""
    path = POLL_GENERATION.path.replace("GEN_ID", generation_id)

    def finished(response: httpx.Response) -> Generation | None:
        assert response.status_code == 200, response.text
        generation = GenerationEnvelope.model_validate_json(response.content).generation
        if generation.status == "processing":
            assert generation.image_url is None
            return None
        return generation

    generation = poll(lambda: POLL_GENERATION.request(client, account, path=path), finished)
    assert generation.status == "completed", generation
    assert str(generation.id) == generation_id
    return generation


@pytest.fixture(scope="module")
def generation(server: LiveServer, account: Account) -> Generation:
    """The generate example's generation, completed."""
    with httpx.Client(base_url=server.url, timeout=60) as client:
        started = accepted(GENERATE.request(client, account))
        return _completed_generation(client, account, str(started.id))


# -- the document's examples are this module's -----------------------------------------------


def test_the_modules_examples_are_the_documents() -> None:
    text = reference_text(DOCUMENT)
    assert curl_examples(text) == [UPLOAD, GENERATE, POLL_GENERATION, VIDEO, POLL_VIDEO]
    headings = re.findall(r"^(GET|POST|DELETE)(/api/platform/\S+)$", text, re.MULTILINE)
    assert headings == ENDPOINTS


# -- account and catalog ---------------------------------------------------------------------


def test_credits(server: LiveServer, client: httpx.Client) -> None:
    funded = funded_account(server, credits=500)
    response = client.get(f"{API}/credits", headers=funded.bearer)
    assert response.status_code == 200, response.text
    credits = Credits.model_validate_json(response.content)
    assert credits.model_dump(by_alias=True) == {
        "balance": 500,
        "lifetimePurchased": 500,
        "lifetimeUsed": 0,
        "unlimited": False,
    }


def test_credits_of_an_unlimited_account(server: LiveServer, client: httpx.Client) -> None:
    unlimited = funded_account(server, credits=0, unlimited_credits=True)
    response = client.get(f"{API}/credits", headers=unlimited.bearer)
    assert response.status_code == 200, response.text
    assert Credits.model_validate_json(response.content).unlimited is True


def test_models(client: httpx.Client, account: Account) -> None:
    response = client.get(f"{API}/models", headers=account.bearer)
    assert response.status_code == 200, response.text
    models = Models.model_validate_json(response.content)
    assert models.models
    assert models.aspect_ratios
    assert "1:1" in {ratio.id for ratio in models.aspect_ratios}


def test_video_models(client: httpx.Client, account: Account) -> None:
    response = client.get(f"{API}/video-models", headers=account.bearer)
    assert response.status_code == 200, response.text
    models = VideoModels.model_validate_json(response.content).models
    kling = next(model for model in models if model.id == VIDEO.body["modelId"])
    assert VIDEO.body["durationSeconds"] in kling.durations
    assert set(kling.credits) == {str(int(seconds)) for seconds in kling.durations}


def test_styles(client: httpx.Client, account: Account) -> None:
    response = client.get(f"{API}/styles", headers=account.bearer)
    assert response.status_code == 200, response.text
    styles = Styles.model_validate_json(response.content).styles
    assert GENERATE.body["stylePreset"] in {style.id for style in styles}


# -- upload ----------------------------------------------------------------------------------


def test_the_upload_example(client: httpx.Client, account: Account) -> None:
    response = UPLOAD.request(client, account)
    assert response.status_code == 201, response.text
    uploaded = Uploaded.model_validate_json(response.content)
    download = client.get(uploaded.public_url)
    assert download.status_code == 200, download.text
    assert Image.open(io.BytesIO(download.content)).format == "JPEG"


def test_a_raw_binary_upload(client: httpx.Client, account: Account) -> None:
    headers = {**account.bearer, "Content-Type": "image/jpeg"}
    response = client.post(f"{API}/upload", headers=headers, content=jpeg())
    assert response.status_code == 201, response.text
    Uploaded.model_validate_json(response.content)


def test_an_upload_that_is_not_an_image_is_400(client: httpx.Client, account: Account) -> None:
    files = {"file": ("notes.txt", b"not an image", "text/plain")}
    response = client.post(f"{API}/upload", headers=account.bearer, files=files)
    assert response.status_code == 400, response.text


def test_an_upload_is_an_input_image(client: httpx.Client, account: Account) -> None:
    """ "pass as inputImagePath to /generate"."""
    uploaded = Uploaded.model_validate_json(UPLOAD.request(client, account).content)
    body = {
        "prompt": "The product on a beach at noon",
        "modelId": "creatix-pro",
        "inputImagePath": uploaded.path,
    }
    started = accepted(client.post(f"{API}/generate", headers=account.bearer, json=body))
    _completed_generation(client, account, str(started.id))


# -- generations -----------------------------------------------------------------------------


def test_the_generate_and_poll_examples(
    client: httpx.Client, account: Account, generation: Generation
) -> None:
    assert generation.prompt == GENERATE.body["prompt"]
    assert generation.model_id == GENERATE.body["modelId"]
    assert generation.image_url is not None
    download = client.get(generation.image_url)
    assert download.status_code == 200, download.text
    assert Image.open(io.BytesIO(download.content)).size == (1024, 1024)


def test_every_documented_generate_field(client: httpx.Client, account: Account) -> None:
    body = {
        "prompt": "Minimalist sneaker advertisement",
        "modelId": "creatix-flash",
        "aspectRatio": "16:9",
        "stylePreset": "studio-product",
        "negativePrompt": "blur",
        "batchCount": 2,
    }
    started = accepted(client.post(f"{API}/generate", headers=account.bearer, json=body))
    _completed_generation(client, account, str(started.id))


def test_list_generations(client: httpx.Client, account: Account, generation: Generation) -> None:
    response = client.get(f"{API}/generations", headers=account.bearer)
    assert response.status_code == 200, response.text
    listed = GENERATIONS.validate_json(response.content)
    assert generation.id in {item.id for item in listed}

    paged = client.get(f"{API}/generations?limit=1&offset=0", headers=account.bearer)
    assert paged.status_code == 200, paged.text
    assert len(GENERATIONS.validate_json(paged.content)) == 1


def test_delete_generation(client: httpx.Client, account: Account) -> None:
    body = {"prompt": "A cup of coffee", "modelId": "creatix-flash"}
    started = accepted(client.post(f"{API}/generate", headers=account.bearer, json=body))
    generation = _completed_generation(client, account, str(started.id))
    path = f"{API}/generations/{generation.id}"

    response = client.delete(path, headers=account.bearer)
    assert response.status_code == 200, response.text
    assert Deleted.model_validate_json(response.content).deleted is True
    assert client.get(path, headers=account.bearer).status_code == 404
    assert client.delete(path, headers=account.bearer).status_code == 404


# -- videos ----------------------------------------------------------------------------------


def test_the_video_examples(client: httpx.Client, account: Account, generation: Generation) -> None:
    body = {**VIDEO.body, "sourceGenerationId": str(generation.id)}
    started = accepted(VIDEO.request(client, account, body=body))
    path = POLL_VIDEO.path.replace("VIDEO_ID", str(started.id))

    def finished(response: httpx.Response) -> Video | None:
        assert response.status_code == 200, response.text
        video = VideoEnvelope.model_validate_json(response.content).video
        if video.status == "processing":
            assert video.video_url is None
            return None
        return video

    video = poll(lambda: POLL_VIDEO.request(client, account, path=path), finished, timeout=240)
    assert video.status == "completed", video
    assert video.id == started.id
    assert (video.model_id, video.duration_seconds) == ("kling-v3-pro", 5)
    assert video.video_url is not None
    download = client.get(video.video_url)
    assert download.status_code == 200
    assert download.headers["content-type"] == "video/mp4"


# -- errors ----------------------------------------------------------------------------------


INVALID_GENERATIONS = {
    "a two-character prompt": {"prompt": "ab", "modelId": "creatix-flash"},
    "a prompt over 1000 characters": {"prompt": "a" * 1001, "modelId": "creatix-flash"},
    "no prompt": {"modelId": "creatix-flash"},
    "no model": {"prompt": "A cup of coffee"},
    "a model not in /models": {"prompt": "A cup of coffee", "modelId": "no-such-model"},
    "a ratio not in /models": {"prompt": "A cup", "modelId": "creatix-flash", "aspectRatio": "2:1"},
    "a style not in /styles": {"prompt": "A cup", "modelId": "creatix-flash", "stylePreset": "x"},
    "a negative prompt over 500": {
        "prompt": "A cup of coffee",
        "modelId": "creatix-flash",
        "negativePrompt": "a" * 501,
    },
    "five images": {"prompt": "A cup of coffee", "modelId": "creatix-flash", "batchCount": 5},
    "an input that is no upload": {
        "prompt": "A cup of coffee",
        "modelId": "creatix-pro",
        "inputImagePath": "nobody/nothing.jpg",
    },
}


@pytest.mark.parametrize("problem", list(INVALID_GENERATIONS))
def test_generate_validation_errors_are_400(
    client: httpx.Client, account: Account, problem: str
) -> None:
    body = INVALID_GENERATIONS[problem]
    response = client.post(f"{API}/generate", headers=account.bearer, json=body)
    assert response.status_code == 400, response.text


INVALID_VIDEOS = {
    "no source": {"sourceGenerationId": None},
    "an unknown source": {"sourceGenerationId": "a1b2c3d4-e5f6-7890-abcd-ef1234567890"},
    "a two-character prompt": {"prompt": "ab"},
    "a model not in /video-models": {"modelId": "no-such-model"},
    "one second": {"durationSeconds": 1},
    "sixteen seconds": {"durationSeconds": 16},
    "a negative prompt over 2500": {"negativePrompt": "a" * 2501},
    "a cfg scale over 1": {"cfgScale": 1.5},
    "an undocumented amplitude": {"movementAmplitude": "huge"},
    "an undocumented resolution": {"resolution": "4k"},
}


@pytest.mark.parametrize("problem", list(INVALID_VIDEOS))
def test_video_validation_errors_are_400(
    client: httpx.Client, account: Account, generation: Generation, problem: str
) -> None:
    body = {**VIDEO.body, "sourceGenerationId": str(generation.id), **INVALID_VIDEOS[problem]}
    body = {name: value for name, value in body.items() if value is not None}
    response = client.post(f"{API}/videos", headers=account.bearer, json=body)
    assert response.status_code == 400, response.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"{API}/generations/a1b2c3d4-e5f6-7890-abcd-ef1234567890"),
        ("DELETE", f"{API}/generations/a1b2c3d4-e5f6-7890-abcd-ef1234567890"),
        ("GET", f"{API}/videos/a1b2c3d4-e5f6-7890-abcd-ef1234567890"),
    ],
)
def test_an_unknown_id_is_404(
    client: httpx.Client, account: Account, method: str, path: str
) -> None:
    assert client.request(method, path, headers=account.bearer).status_code == 404


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("authorization", [None, "Bearer sk_live_not-a-key"])
def test_every_endpoint_needs_a_valid_key(
    client: httpx.Client, method: str, path: str, authorization: str | None
) -> None:
    """ "Requests without a valid key receive a 401 response": each sent as its example is
    (a JSON body, the upload's file), but for the key."""
    headers = {} if authorization is None else {"Authorization": authorization}
    path = path.replace(":id", "a1b2c3d4-e5f6-7890-abcd-ef1234567890")
    if path.endswith("/upload"):
        files = {"file": ("product.jpg", jpeg(), "image/jpeg")}
        response = client.request(method, path, headers=headers, files=files)
    elif method == "POST":
        response = client.request(method, path, headers=headers, json={})
    else:
        response = client.request(method, path, headers=headers)
    assert response.status_code == 401, response.text


@pytest.mark.parametrize("path", ["/api/platform/generate", "/api/platform/videos"])
def test_the_key_is_checked_before_the_body(client: httpx.Client, path: str) -> None:
    """A request without a key is a 401 whatever it carries: the key comes first, so a
    client learns what is wrong with its credentials before anything about its body."""
    response = client.post(path, content=b"prompt=x", headers={"Content-Type": "text/plain"})
    assert response.status_code == 401, response.text
