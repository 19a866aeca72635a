"""The asset generator's video models through a real HTTP client against a real server: their
schemas made from the catalog, the reference's image-to-video example (its image served from
loopback), polling and the webhook with the MP4 and its thumbnail, the MP4 probed with PyAV,
credits charged at the duration's price, and refusals that charge nothing."""

from __future__ import annotations

import io
import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from jsonschema import Draft202012Validator
from PIL import Image

from creatix.accounts import service as accounts
from creatix.api.asset_generator import task
from creatix.api.asset_schemas import video_dimensions
from creatix.billing import service as billing
from creatix.catalog.loader import load_catalog
from creatix.jobs.specs import Asset, Job, JobKind, JobStatus, VideoSpec
from creatix.webhooks import payloads
from support import LiveServer, make_settings

BASE = "/api/asset_generator"
SCHEMAS = f"{BASE}/schemas/"
CATALOG = load_catalog(None)
VIDEO_MODELS = [m for m in CATALOG.models if m.kind == JobKind.VIDEO]
SERVED = [m.id for m in CATALOG.models if m.kind in (JobKind.IMAGE, JobKind.VIDEO)]

KLING = "kling-video/v1.6/pro/image-to-video"  # 5 s for 350 credits
FAST = "kling-v2.5-turbo"  # 3 s for 120 credits
AUDIO = "kling-v3-pro"  # 5 s for 500 credits, with audio
IMAGE_PATH = "/media_file/18165/d91443bdd92c82ed5d5992e38f3ff9d3.jpg"

# The reference's example, verbatim but for the image it fetches and the webhook it posts
# to: neither host is reachable from a test machine, so both are swapped for loopback ones.
EXAMPLE: dict[str, Any] = {
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
}


# -- loopback sites: the image origin and the webhook receiver --------------------------------


def _jpeg(size: tuple[int, int] = (400, 300)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (40, 90, 160)).save(buffer, format="JPEG")
    return buffer.getvalue()


class _Site(BaseHTTPRequestHandler):
    """Serves the JPEG at the reference's path (anything else is a 404) and queues every
    POSTed JSON body."""

    image = _jpeg()
    received: queue.Queue[dict[str, Any]] = queue.Queue()

    def do_GET(self) -> None:
        found = self.path == IMAGE_PATH
        body = self.image if found else b"not found"
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "image/jpeg" if found else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.received.put(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    """The loopback site's base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def private_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server that may fetch from (and post to) loopback, as the tests' sites are there."""
    data_dir: Path = tmp_path_factory.mktemp("creatix-video")
    live = LiveServer(make_settings(data_dir, allow_private_urls=True)).start()
    yield live
    live.stop()


# -- helpers ---------------------------------------------------------------------------------


def _account(server: LiveServer, credits: int = 5000) -> tuple[str, dict[str, str]]:
    """A fresh funded account and its X-API-ID / X-API-KEY headers."""
    assert server.runtime is not None
    name = f"agv-{uuid.uuid4().hex[:10]}"
    db = server.runtime.db
    server.call(accounts.ensure_account(db, name, "paid", "free"))
    key = server.call(accounts.create_key(db, name))
    if credits:
        server.call(billing.grant(db, name, credits, None))
    return name, {"X-API-ID": key.key_id, "X-API-KEY": key.secret}


@pytest.fixture
def funded(private_server: LiveServer) -> Iterator[tuple[str, httpx.Client]]:
    name, headers = _account(private_server)
    with httpx.Client(base_url=private_server.url, headers=headers, timeout=60) as client:
        yield name, client


def _create(client: httpx.Client, model: str, params: Any, **extra: Any) -> httpx.Response:
    return client.post(f"{BASE}/", json={"model_name": model, "input_params": params, **extra})


def _poll(client: httpx.Client, task_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"{BASE}/{task_id}/")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] in ("done", "failed"):
            return body
        assert body["status"] in ("pending", "running")
        assert body["assets"] == []
        time.sleep(0.1)
    pytest.fail(f"task {task_id} did not finish in {timeout} s")


def _fields(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["field"] in body["fields"]
    fields: dict[str, str] = body["fields"]
    return fields


def _probe(url: str) -> dict[str, Any]:
    """The MP4 at ``url``, downloaded and probed with PyAV (every frame decoded)."""
    response = httpx.get(url, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(response.content), mode="r") as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None
        assert stream.duration is not None
        rate = stream.average_rate
        assert rate is not None
        return {
            "codec": stream.codec_context.name,
            "size": (stream.codec_context.width, stream.codec_context.height),
            "fps": float(rate),
            "duration": float(stream.duration * stream.time_base),
            "frames": sum(1 for _ in container.decode(video=0)),
            "audio_streams": len(container.streams.audio),
        }


def _assert_video(url: str, *, seconds: int, size: tuple[int, int], audio: bool) -> None:
    probe = _probe(url)
    assert probe["codec"] == "h264"
    assert probe["size"] == size
    assert abs(probe["duration"] - seconds) <= 1 / probe["fps"] + 1e-6, probe
    assert abs(probe["frames"] - seconds * probe["fps"]) <= 1, probe
    assert probe["audio_streams"] == (1 if audio else 0)


def _assert_jpeg(url: str, size: tuple[int, int]) -> None:
    response = httpx.get(url, timeout=30)
    assert response.status_code == 200
    with Image.open(io.BytesIO(response.content)) as image:
        assert image.format == "JPEG"
        assert image.size == size


def _uploads(server: LiveServer) -> int:
    """How many uploaded files the server's storage holds."""
    root = Path(server.settings.data_dir)
    return sum(1 for path in root.rglob("*") if path.is_file() and "uploads" in path.parts)


# -- step 1: the schemas ---------------------------------------------------------------------


def test_video_models_are_listed_with_schemas_from_the_catalog(
    funded: tuple[str, httpx.Client], site: str
) -> None:
    _, client = funded
    listed = client.get(SCHEMAS)
    assert listed.status_code == 200, listed.text
    assert [entry["model_name"] for entry in listed.json()] == SERVED
    for entry in VIDEO_MODELS:
        options = entry.video
        assert options is not None
        response = client.get(SCHEMAS, params={"model_name": entry.id})
        [shown] = response.json()
        assert shown["model_name"] == entry.id
        schema = shown["input_params_schema"]
        Draft202012Validator.check_schema(schema)
        assert schema["title"] == entry.display_name
        assert schema["required"] == ["prompt", "image_url"]
        assert schema["additionalProperties"] is False
        properties = schema["properties"]
        assert properties["image_url"]["format"] == "uri"
        durations = options.durations
        assert properties["duration"]["enum"] == [*(str(d) for d in durations), *durations]
        assert properties["duration"]["default"] == str(durations[0])
        assert properties["aspect_ratio"]["enum"] == ["16:9", "9:16", "1:1"]
        assert properties["aspect_ratio"]["default"] == "16:9"
        assert (properties["cfg_scale"]["minimum"], properties["cfg_scale"]["maximum"]) == (0, 1)
        assert properties["negative_prompt"]["maxLength"] == 2500
        assert ("generate_audio" in properties) is options.supports_audio
        assert set(properties) <= {
            "prompt",
            "image_url",
            "duration",
            "aspect_ratio",
            "negative_prompt",
            "cfg_scale",
            "generate_audio",
            "seed",
        }
    # The reference's example input_params satisfy the published schema.
    [kling] = client.get(SCHEMAS, params={"model_name": KLING}).json()
    assert not list(
        Draft202012Validator(kling["input_params_schema"]).iter_errors(EXAMPLE["input_params"])
    )


def test_video_dimensions_have_a_720_short_side() -> None:
    assert video_dimensions("16:9") == (1280, 720)
    assert video_dimensions("9:16") == (720, 1280)
    assert video_dimensions("1:1") == (720, 720)
    assert video_dimensions("16:9", 1080) == (1920, 1080)


# -- steps 2 and 3: the reference's example --------------------------------------------------


def test_the_reference_example_end_to_end(private_server: LiveServer, site: str) -> None:
    name, headers = _account(private_server, credits=1000)
    body = json.loads(json.dumps(EXAMPLE))
    body["input_params"]["image_url"] = site + IMAGE_PATH
    body["webhook_url"] = site + "/hook"
    with httpx.Client(base_url=private_server.url, headers=headers, timeout=60) as client:
        created = client.post(f"{BASE}/", json=body)
        assert created.status_code == 200, created.text
        first = created.json()
        assert set(first) == {"id", "status", "failed_reason", "assets"}
        assert first["status"] in ("pending", "running")
        assert private_server.balance(name) == 1000 - 350  # reserved at once

        done = _poll(client, first["id"])
    assert done["status"] == "done", done
    assert done["failed_reason"] == ""
    [asset] = done["assets"]  # the thumbnail is the asset's thumbnail_url, not an asset
    assert set(asset) == {"id", "type", "url", "thumbnail_url", "name"}
    assert asset["type"] == "video"
    assert asset["name"] == "Video-" + uuid.UUID(asset["id"]).hex[-8:]
    assert asset["url"].startswith(private_server.url + "/files/")
    assert asset["thumbnail_url"].startswith(private_server.url + "/files/")
    assert asset["thumbnail_url"] != asset["url"]
    _assert_video(asset["url"], seconds=5, size=(1280, 720), audio=False)
    _assert_jpeg(asset["thumbnail_url"], (1280, 720))
    assert private_server.balance(name) == 1000 - 350  # settled at the 5 s price

    assert private_server.runtime is not None
    job = private_server.call(private_server.runtime.jobs.get(done["id"]))
    spec = job.video_spec
    assert job.source == "asset_generator"
    assert spec.source_image.startswith("uploads/")
    assert (spec.duration_seconds, spec.cfg_scale) == (5, 0.5)
    assert spec.negative_prompt == "blur, distort, and low quality"

    # The webhook: the same task, its links signed at delivery against the base URL.
    hook = _Site.received.get(timeout=30)
    assert hook["id"] == done["id"]
    assert hook["status"] == "done"
    [sent] = hook["assets"]
    assert {k: v for k, v in sent.items() if not k.endswith("url")} == {
        k: v for k, v in asset.items() if not k.endswith("url")
    }
    base = private_server.settings.base_url
    assert sent["url"].startswith(base + "/files/")
    assert sent["url"].split("?")[0].endswith(".mp4")
    assert sent["thumbnail_url"].split("?")[0].endswith(".jpg")
    _assert_jpeg(sent["thumbnail_url"], (1280, 720))


def test_integer_durations_shapes_and_audio(
    private_server: LiveServer, funded: tuple[str, httpx.Client], site: str
) -> None:
    name, client = funded
    image_url = site + IMAGE_PATH
    cases = [
        (FAST, {"duration": 3, "aspect_ratio": "9:16"}, 3, (720, 1280), False, 120),
        (
            AUDIO,
            {"duration": "5", "aspect_ratio": "1:1", "generate_audio": True},
            5,
            (720, 720),
            True,
            500,
        ),
    ]
    before = private_server.balance(name)
    tasks = []
    for model, params, *expected in cases:
        created = _create(client, model, {"prompt": "a slow pan", "image_url": image_url, **params})
        assert created.status_code == 200, created.text
        tasks.append((created.json()["id"], *expected))
    for task_id, seconds, size, audio, _price in tasks:
        done = _poll(client, task_id)
        assert done["status"] == "done", done
        [asset] = done["assets"]
        _assert_video(asset["url"], seconds=seconds, size=size, audio=audio)
    assert private_server.balance(name) == before - sum(case[-1] for case in cases)


# -- refusals: nothing fetched, nothing charged ----------------------------------------------


@pytest.mark.parametrize(
    ("model", "change", "field"),
    [
        (KLING, {"duration": "7"}, "input_params.duration"),
        (KLING, {"duration": 3}, "input_params.duration"),  # turbo has 3 s, this one not
        (KLING, {"duration": 5.5}, "input_params.duration"),
        (KLING, {"duration": True}, "input_params.duration"),
        (KLING, {"cfg_scale": 2}, "input_params.cfg_scale"),
        (KLING, {"cfg_scale": "0.5"}, "input_params.cfg_scale"),
        (KLING, {"aspect_ratio": "4:3"}, "input_params.aspect_ratio"),
        (KLING, {"generate_audio": True}, "input_params.generate_audio"),  # no audio
        (KLING, {"num_images": 2}, "input_params.num_images"),
        (KLING, {"image_url": None}, "input_params.image_url"),
        (KLING, {"image_url": "not a url"}, "input_params.image_url"),
        (KLING, {"prompt": " "}, "input_params.prompt"),
        (KLING, {"negative_prompt": "n" * 2501}, "input_params.negative_prompt"),
        (AUDIO, {"generate_audio": "yes"}, "input_params.generate_audio"),
        ("kling-v9", {}, "model_name"),
    ],
)
def test_bad_input_params_name_the_field_and_charge_nothing(
    private_server: LiveServer,
    funded: tuple[str, httpx.Client],
    site: str,
    *,
    model: str,
    change: dict[str, Any],
    field: str,
) -> None:
    name, client = funded
    params = {"prompt": "a slow pan", "image_url": site + IMAGE_PATH, "duration": "5", **change}
    params = {k: v for k, v in params.items() if v is not None}
    uploads = _uploads(private_server)
    fields = _fields(_create(client, model, params))
    assert field in fields, fields
    assert private_server.balance(name) == 5000
    assert _uploads(private_server) == uploads  # nothing fetched


def test_an_image_url_that_cannot_be_fetched_is_a_400(
    private_server: LiveServer, funded: tuple[str, httpx.Client], site: str
) -> None:
    name, client = funded
    response = _create(client, FAST, {"prompt": "a pan", "image_url": site + "/gone.jpg"})
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "input_params.image_url"
    assert private_server.balance(name) == 5000


def test_a_loopback_image_url_is_refused_by_default(server: LiveServer, site: str) -> None:
    name, headers = _account(server)
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
        fields = _fields(
            _create(client, KLING, {"prompt": "a pan", "image_url": site + IMAGE_PATH})
        )
    assert list(fields) == ["input_params.image_url"]
    assert server.balance(name) == 5000


def test_a_video_costs_what_its_duration_costs(private_server: LiveServer, site: str) -> None:
    name, headers = _account(private_server, credits=349)
    with httpx.Client(base_url=private_server.url, headers=headers, timeout=60) as client:
        params = {"prompt": "a pan", "image_url": site + IMAGE_PATH, "duration": 5}
        response = _create(client, KLING, params)
    assert response.status_code == 402, response.text
    assert response.json()["error"] == "insufficient_credits"
    assert private_server.balance(name) == 349


# -- the task's shape ------------------------------------------------------------------------


def _asset(index: int, kind: str, key: str) -> Asset:
    return Asset.model_validate(
        {
            "id": f"0193a5f2-8d02-7c55-b1e0-{index:06d}{len(kind):06d}",
            "job_id": "job_x",
            "index": index,
            "kind": kind,
            "storage_key": key,
            "mime_type": "video/mp4" if kind == "video" else "image/jpeg",
            "size_bytes": 1,
            "checksum": "c",
        }
    )


def test_a_video_task_pairs_the_video_with_its_thumbnail() -> None:
    spec = VideoSpec(
        prompt="p", source_image="uploads/a.png", duration_seconds=5, width=64, height=64, seed=1
    )
    job = Job(
        id="job_x",
        account_id="acct_x",
        source="asset_generator",
        kind=JobKind.VIDEO,
        model=KLING,
        engine="preview_video",
        spec=spec,
        status=JobStatus.SUCCEEDED,
        attempts=1,
        created_at=datetime.now(UTC),
        assets=[_asset(0, "video", "videos/j/v.mp4"), _asset(1, "thumbnail", "videos/j/v.jpg")],
    )

    def url(asset: Asset) -> str:
        return f"https://cdn.example/{asset.storage_key}"

    shown = task(job, url)
    [asset] = shown.assets
    assert (asset.type, asset.url) == ("video", "https://cdn.example/videos/j/v.mp4")
    assert asset.thumbnail_url == "https://cdn.example/videos/j/v.jpg"
    assert asset.name == "Video-00000005"
    assert payloads.render(job, url) == shown.model_dump(mode="json")
