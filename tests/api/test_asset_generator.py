"""The asset generator (``/api/asset_generator/...``) through a real HTTP client against a real
server: the reference's three steps, the published schema as the validator, X-API-ID/X-API-KEY,
the webhook guard and body, and image_url input."""

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

import httpx
import pytest
from jsonschema import Draft202012Validator
from PIL import Image

from creatix.accounts import service as accounts
from creatix.api.asset_generator import task
from creatix.billing import service as billing_service
from creatix.catalog.loader import load_catalog
from creatix.jobs.specs import Asset, ImageSpec, Job, JobError, JobKind, JobStatus
from creatix.media.sizing import ASPECT_RATIOS
from creatix.webhooks import payloads
from support import LiveServer, make_settings

BASE = "/api/asset_generator"
SCHEMAS = f"{BASE}/schemas/"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
CATALOG = load_catalog(None)
IMAGE_MODELS = [m.id for m in CATALOG.models if m.kind == JobKind.IMAGE]
LISTED_MODELS = [m.id for m in CATALOG.models if m.kind in (JobKind.IMAGE, JobKind.VIDEO)]


# -- helpers ---------------------------------------------------------------------------------


def _credentials(server: LiveServer, account: str | None = None) -> dict[str, str]:
    """X-API-ID and X-API-KEY of a fresh key on a (fresh unless named) paid account."""
    assert server.runtime is not None
    name = account or f"ag-{uuid.uuid4().hex[:10]}"
    db = server.runtime.db
    server.call(accounts.ensure_account(db, name, "paid", "free"))
    key = server.call(accounts.create_key(db, name))
    return {"X-API-ID": key.key_id, "X-API-KEY": key.secret}


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=_credentials(server), timeout=60) as c:
        yield c


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
        time.sleep(0.1)
    pytest.fail(f"task {task_id} did not finish in {timeout} s")


def _schema(client: httpx.Client, model: str) -> dict[str, Any]:
    response = client.get(SCHEMAS, params={"model_name": model})
    assert response.status_code == 200, response.text
    [entry] = response.json()
    schema: dict[str, Any] = entry["input_params_schema"]
    return schema


def _create(client: httpx.Client, model: str, params: Any, **extra: Any) -> httpx.Response:
    return client.post(f"{BASE}/", json={"model_name": model, "input_params": params, **extra})


def _fields(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["field"] in body["fields"]
    fields: dict[str, str] = body["fields"]
    return fields


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as image:
        return image.size


# -- the three steps -------------------------------------------------------------------------


def test_the_three_steps_end_to_end(client: httpx.Client, server: LiveServer) -> None:
    # 1) Discover models and their input schemas, all and filtered.
    listed = client.get(SCHEMAS)
    assert listed.status_code == 200, listed.text
    assert "X-RateLimit-Limit" in listed.headers
    assert [entry["model_name"] for entry in listed.json()] == LISTED_MODELS
    for entry in listed.json():
        assert set(entry) == {"model_name", "input_params_schema"}
        schema = entry["input_params_schema"]
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == DIALECT
        assert schema["type"] == "object"
        assert schema["additionalProperties"] is False
        assert "prompt" in schema["required"]
        assert set(schema["required"]) <= set(schema["properties"])

    filtered = client.get(SCHEMAS, params={"model_name": "creatix-flash,gpt-image-2"})
    assert [e["model_name"] for e in filtered.json()] == ["creatix-flash", "gpt-image-2"]
    no_slash = client.get(f"{BASE}/schemas", params={"model_name": "creatix-flash"})
    assert no_slash.status_code == 200
    assert no_slash.json() == filtered.json()[:1]

    # 2) Create a task (the reference's example, with an image model of this server).
    created = _create(
        client,
        "creatix-flash",
        {
            "prompt": "A man working in the snow mountains with small image logo.",
            "aspect_ratio": "16:9",
            "negative_prompt": "blur, distort, and low quality",
            "num_images": 2,
            "seed": 7,
        },
        webhook_url=None,
    )
    assert created.status_code == 200, created.text
    first = created.json()
    assert set(first) == {"id", "status", "failed_reason", "assets"}
    assert first["status"] in ("pending", "running")
    assert first["failed_reason"] == ""
    assert created.headers["Location"] == f"{BASE}/{first['id']}/"

    # 3) Poll until it is done; the assets download as PNGs of the 16:9 shape.
    done = _poll(client, first["id"])
    assert done["status"] == "done", done
    assert done["failed_reason"] == ""
    assert len(done["assets"]) == 2
    for asset in done["assets"]:
        assert set(asset) == {"id", "type", "url", "thumbnail_url", "name"}
        assert asset["type"] == "image"
        assert asset["url"].startswith(server.url + "/files/")
        assert asset["thumbnail_url"] == asset["url"]
        assert asset["name"] == "Image-" + uuid.UUID(asset["id"]).hex[-8:]
        download = httpx.get(asset["url"], timeout=30)
        assert download.status_code == 200
        assert _png_size(download.content) == (1344, 768)
    again = client.get(f"{BASE}/{first['id']}")  # without the trailing slash too
    assert again.status_code == 200
    assert again.json()["assets"][0]["id"] == done["assets"][0]["id"]


def test_the_schema_is_generated_from_the_catalog(client: httpx.Client) -> None:
    styles = [s.id for s in CATALOG.styles]
    for entry in CATALOG.models:
        if entry.kind != JobKind.IMAGE:
            continue
        schema = _schema(client, entry.id)
        properties = schema["properties"]
        assert properties["prompt"]["maxLength"] == entry.limits.max_prompt_chars
        assert properties["prompt"]["minLength"] == 1
        assert properties["num_images"] == {
            "type": "integer",
            "minimum": 1,
            "maximum": entry.limits.max_n,
            "default": 1,
            "description": properties["num_images"]["description"],
        }
        assert properties["aspect_ratio"]["enum"] == list(ASPECT_RATIOS)
        assert properties["aspect_ratio"]["default"] == "1:1"
        assert properties["style"]["enum"] == styles
        assert properties["seed"]["minimum"] == 0
        assert properties["seed"]["maximum"] == 2**32 - 1
        assert ("image_url" in properties) is entry.supports_image_input
        if entry.supports_image_input:
            assert properties["image_url"]["format"] == "uri"
        table = entry.price_table
        if table is None:
            assert set(properties) <= {
                "prompt",
                "negative_prompt",
                "aspect_ratio",
                "num_images",
                "style",
                "seed",
                "image_url",
            }
        else:
            for name in table.by:
                assert properties[name]["default"] == table.defaults[name]
    gpt = _schema(client, "gpt-image-2")["properties"]
    assert gpt["resolution"]["enum"] == ["1k", "2k", "4k"]
    assert gpt["quality"]["enum"] == ["low", "medium", "high"]


def test_unknown_models_in_the_filter_are_a_400_naming_model_name(client: httpx.Client) -> None:
    response = client.get(SCHEMAS, params={"model_name": "creatix-flash,kling-video/v1.6"})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "model_not_found"
    assert body["field"] == "model_name"
    assert "kling-video/v1.6" in body["detail"]


# -- the schema is the validator -------------------------------------------------------------


def test_each_required_field_of_the_schema_is_enforced(client: httpx.Client) -> None:
    for model in IMAGE_MODELS:
        schema = _schema(client, model)
        valid = {
            name: schema["properties"][name].get("enum", ["a cat"])[0]
            for name in schema["required"]
        }
        for name in schema["required"]:
            params = {k: v for k, v in valid.items() if k != name}
            fields = _fields(_create(client, model, params))
            assert list(fields) == [f"input_params.{name}"], fields


def test_each_enum_of_the_schema_is_enforced(client: httpx.Client) -> None:
    for model in ("creatix-flash", "gpt-image-2"):
        schema = _schema(client, model)
        enums = [n for n, p in schema["properties"].items() if "enum" in p]
        assert {"aspect_ratio", "style"} <= set(enums)
        for name in enums:
            response = _create(client, model, {"prompt": "a cat", name: "not-a-choice"})
            assert response.json()["error"] == "invalid_input_params"
            fields = _fields(response)
            assert list(fields) == [f"input_params.{name}"]
            assert "not-a-choice" in fields[f"input_params.{name}"]


def test_extra_properties_are_refused(client: httpx.Client) -> None:
    fields = _fields(_create(client, "creatix-flash", {"prompt": "a cat", "cfg_scale": 0.5}))
    assert list(fields) == ["input_params.cfg_scale"]
    # image_url is only in the schema of models that take an input image
    fields = _fields(
        _create(client, "creatix-flash", {"prompt": "a cat", "image_url": "https://e.com/a.png"})
    )
    assert list(fields) == ["input_params.image_url"]
    fields = _fields(
        client.post(
            f"{BASE}/",
            json={"model_name": "creatix-flash", "input_params": {"prompt": "a"}, "x": 1},
        )
    )
    assert list(fields) == ["x"]


def test_every_failing_field_is_named(client: httpx.Client) -> None:
    response = _create(
        client,
        "creatix-flash",
        {
            "negative_prompt": 5,
            "aspect_ratio": "2:1",
            "num_images": 99,
            "style": "bogus",
            "seed": -1,
            "cfg_scale": 0.5,
        },
        webhook_url="http://127.0.0.1:9/hook",
    )
    assert response.json()["error"] == "invalid_input_params"
    fields = _fields(response)
    assert set(fields) == {
        "input_params.prompt",
        "input_params.negative_prompt",
        "input_params.aspect_ratio",
        "input_params.num_images",
        "input_params.style",
        "input_params.seed",
        "input_params.cfg_scale",
        "webhook_url",
    }
    assert "between 1 and 4" in fields["input_params.num_images"]
    assert "must be a string" in fields["input_params.negative_prompt"]
    for name in fields:
        assert name in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"input_params": {"prompt": "a cat"}}, "model_name"),
        ({"model_name": "no-such-model", "input_params": {"prompt": "a cat"}}, "model_name"),
        ({"model_name": 3, "input_params": {"prompt": "a cat"}}, "model_name"),
        ({"model_name": "creatix-flash"}, "input_params"),
        ({"model_name": "creatix-flash", "input_params": "a cat"}, "input_params"),
        ({"model_name": "creatix-flash", "input_params": {"prompt": "   "}}, "input_params.prompt"),
        (
            {"model_name": "creatix-flash", "input_params": {"prompt": "x" * 1001}},
            "input_params.prompt",
        ),
        (
            {"model_name": "creatix-flash", "input_params": {"prompt": "a", "num_images": True}},
            "input_params.num_images",
        ),
        (
            {"model_name": "creatix-flash", "input_params": {"prompt": "a", "seed": 2**32}},
            "input_params.seed",
        ),
    ],
)
def test_bad_bodies_name_the_field(client: httpx.Client, body: dict[str, Any], field: str) -> None:
    assert list(_fields(client.post(f"{BASE}/", json=body))) == [field]


def test_a_body_that_is_not_a_json_object_is_a_400(client: httpx.Client) -> None:
    for content, content_type in [
        (b"{", "application/json"),
        (b"[]", "application/json"),
        (b"", "application/json"),
        (b"model_name=x", "application/x-www-form-urlencoded"),
    ]:
        response = client.post(f"{BASE}/", content=content, headers={"Content-Type": content_type})
        assert response.status_code == 400, content
        assert set(response.json()) >= {"error", "detail"}


def test_a_valid_request_with_every_property_is_accepted(client: httpx.Client) -> None:
    params = {
        "prompt": "a lighthouse",
        "negative_prompt": "fog",
        "aspect_ratio": "1:4",
        "num_images": 1,
        "style": "watercolor",
        "seed": 2**32 - 1,
    }
    created = _create(client, "creatix-flash", params, webhook_url="")
    assert created.status_code == 200, created.text
    done = _poll(client, created.json()["id"])
    assert done["status"] == "done"
    download = httpx.get(done["assets"][0]["url"], timeout=30)
    assert _png_size(download.content) == (512, 2048)


def test_price_table_parameters(server: LiveServer) -> None:
    name = f"ag-{uuid.uuid4().hex[:10]}"
    headers = _credentials(server, name)
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
        params = {"prompt": "a watch", "resolution": "2k", "quality": "low", "aspect_ratio": "16:9"}
        assert _create(client, "gpt-image-2", params).status_code == 402  # no credits yet
        assert server.runtime is not None
        server.call(billing_service.grant(server.runtime.db, name, 100, note=None))
        created = _create(client, "gpt-image-2", params)
        assert created.status_code == 200, created.text
        done = _poll(client, created.json()["id"])
        assert done["status"] == "done"
        statement = server.call(billing_service.statement(server.runtime.db, name))
        assert statement.balance == 0  # 2k/low is 100 credits
        # What is priced is what is made: 2k is a 2048-pixel long side, shaped 16:9.
        download = httpx.get(done["assets"][0]["url"], timeout=30)
        assert _png_size(download.content) == (2048, 1152)


def test_idempotency_key_returns_the_same_task(client: httpx.Client) -> None:
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"model_name": "creatix-flash", "input_params": {"prompt": "a mug"}}
    first = client.post(f"{BASE}/", json=body, headers=key)
    second = client.post(f"{BASE}/", json=body, headers=key)
    assert first.status_code == second.status_code == 200
    assert first.json()["id"] == second.json()["id"]
    other = {**body, "input_params": {"prompt": "a cup"}}
    reused = client.post(f"{BASE}/", json=other, headers=key)
    assert reused.status_code == 409
    assert reused.json()["error"] == "idempotency_key_reused"


# -- auth and ownership ----------------------------------------------------------------------


def test_credentials_must_be_one_live_key(server: LiveServer) -> None:
    mine = _credentials(server)
    other = _credentials(server)
    same_account_name = f"ag-{uuid.uuid4().hex[:10]}"
    first_of_account = _credentials(server, same_account_name)
    second_of_account = _credentials(server, same_account_name)
    refused = [
        {},
        {"X-API-ID": mine["X-API-ID"]},
        {"X-API-KEY": mine["X-API-KEY"]},
        {"X-API-ID": mine["X-API-ID"], "X-API-KEY": mine["X-API-KEY"] + "x"},
        {"X-API-ID": mine["X-API-ID"], "X-API-KEY": other["X-API-KEY"]},
        {"X-API-ID": "key_nosuchkey", "X-API-KEY": mine["X-API-KEY"]},
        {"X-API-ID": first_of_account["X-API-ID"], "X-API-KEY": second_of_account["X-API-KEY"]},
        {"Authorization": f"Bearer {mine['X-API-KEY']}"},
    ]
    with httpx.Client(base_url=server.url, timeout=30) as anonymous:
        for headers in refused:
            for method, path in [("GET", SCHEMAS), ("POST", f"{BASE}/"), ("GET", f"{BASE}/x/")]:
                response = anonymous.request(
                    method, path, headers=headers, json={"model_name": "creatix-flash"}
                )
                assert response.status_code == 401, (headers, path)
                body = response.json()
                assert body["error"] == "invalid_api_key"
                assert body["detail"]
        assert anonymous.get(SCHEMAS, headers=mine).status_code == 200


def test_a_revoked_key_is_refused(server: LiveServer) -> None:
    headers = _credentials(server)
    assert server.runtime is not None
    server.call(accounts.revoke_key(server.runtime.db, headers["X-API-ID"]))
    response = httpx.get(server.url + SCHEMAS, headers=headers, timeout=30)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_another_accounts_task_is_a_404(client: httpx.Client, server: LiveServer) -> None:
    created = _create(client, "creatix-flash", {"prompt": "a private picture"})
    task_id = created.json()["id"]
    with httpx.Client(base_url=server.url, headers=_credentials(server), timeout=30) as other:
        response = other.get(f"{BASE}/{task_id}/")
        assert response.status_code == 404
        assert response.json() == {
            "error": "not_found",
            "detail": f"No task found with id '{task_id}'.",
            "field": "id",
        }
        assert other.get(f"{BASE}/job_doesnotexist/").status_code == 404
    assert client.get(f"{BASE}/{task_id}/").status_code == 200


# -- webhooks --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/hook", "http://localhost/hook", "ftp://example.com/hook", 5]
)
def test_unsafe_webhook_urls_are_a_400_naming_webhook_url(client: httpx.Client, url: Any) -> None:
    response = _create(client, "creatix-flash", {"prompt": "a cat"}, webhook_url=url)
    assert response.json()["error"] == "invalid_request"
    assert list(_fields(response)) == ["webhook_url"]


def test_the_webhook_body_is_the_task_as_get_shows_it(
    client: httpx.Client, server: LiveServer
) -> None:
    created = _create(client, "creatix-flash", {"prompt": "a kite", "num_images": 2})
    shown = _poll(client, created.json()["id"])
    assert server.runtime is not None
    job = server.call(server.runtime.jobs.get(shown["id"]))
    assert job.source == "asset_generator"
    body = payloads.render(job, lambda asset: f"https://cdn.example/{asset.id}.png")
    assert body == {
        **shown,
        "assets": [
            {
                **a,
                "url": f"https://cdn.example/{a['id']}.png",
                "thumbnail_url": f"https://cdn.example/{a['id']}.png",
            }
            for a in shown["assets"]
        ],
    }


def _job(status: JobStatus, error: JobError | None = None, assets: int = 0) -> Job:
    spec = ImageSpec(prompt="p", width=64, height=64, seed=1)
    return Job(
        id="job_x",
        account_id="acct_x",
        source="asset_generator",
        kind=JobKind.IMAGE,
        model="creatix-flash",
        engine="preview",
        spec=spec,
        status=status,
        attempts=1,
        created_at=datetime.now(UTC),
        error=error,
        assets=[
            Asset(
                id=f"0193a5f2-8d02-7c55-b1e0-5fa3abcdef0{i}",
                job_id="job_x",
                index=i,
                kind="image",
                storage_key=f"k{i}",
                mime_type="image/png",
                size_bytes=1,
                checksum="c",
            )
            for i in range(assets)
        ],
    )


def test_statuses_map_to_the_references() -> None:
    def url(asset: Asset) -> str:
        return "u"

    retrying = JobError(code="engine_error", message="busy")
    cases = [
        (_job(JobStatus.QUEUED), "pending", ""),
        (_job(JobStatus.QUEUED, retrying), "pending", ""),  # requeued: not failed (yet)
        (_job(JobStatus.RUNNING), "running", ""),
        (_job(JobStatus.SUCCEEDED, assets=1), "done", ""),
        (_job(JobStatus.FAILED, JobError(code="engine_error", message="boom")), "failed", "boom"),
        (_job(JobStatus.CANCELED), "failed", "The task was canceled."),
    ]
    for job, status, reason in cases:
        shown = task(job, url)
        assert (shown.status, shown.failed_reason) == (status, reason)
    [asset] = task(_job(JobStatus.SUCCEEDED, assets=1), url).assets
    assert asset.name == "Image-abcdef00"


# -- image_url input -------------------------------------------------------------------------


def _png(size: tuple[int, int] = (96, 64)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


class _PngHandler(BaseHTTPRequestHandler):
    body = _png()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def png_url() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _PngHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/logo.png"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def private_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir: Path = tmp_path_factory.mktemp("creatix-private")
    live = LiveServer(make_settings(data_dir, allow_private_urls=True)).start()
    yield live
    live.stop()


def test_an_image_url_input_completes(private_server: LiveServer, png_url: str) -> None:
    headers = _credentials(private_server)
    with httpx.Client(base_url=private_server.url, headers=headers, timeout=60) as client:
        created = _create(
            client,
            "creatix-pro",
            {
                "prompt": "a man in the snow mountains with a small logo",
                "image_url": png_url,
                "aspect_ratio": "16:9",
            },
        )
        assert created.status_code == 200, created.text
        done = _poll(client, created.json()["id"])
        assert done["status"] == "done", done
        [asset] = done["assets"]
        assert _png_size(httpx.get(asset["url"], timeout=30).content) == (1344, 768)
        assert private_server.runtime is not None
        job = private_server.call(private_server.runtime.jobs.get(done["id"]))
        assert job.spec.input_image is not None


def test_an_image_url_on_a_private_host_is_refused_by_default(
    client: httpx.Client, png_url: str
) -> None:
    response = _create(client, "creatix-pro", {"prompt": "a logo", "image_url": png_url})
    assert list(_fields(response)) == ["input_params.image_url"]
    response = _create(client, "creatix-pro", {"prompt": "a logo", "image_url": "not a url"})
    assert list(_fields(response)) == ["input_params.image_url"]
    # named along with the other failing fields, before anything is fetched
    response = _create(client, "creatix-pro", {"prompt": "", "image_url": png_url})
    fields = _fields(response)
    assert list(fields) == ["input_params.prompt", "input_params.image_url"]
    assert fields["input_params.image_url"].startswith("resolves to 127.0.0.1")


class _Receiver(BaseHTTPRequestHandler):
    received: queue.Queue[dict[str, Any]]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.received.put(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_a_finished_task_posts_its_webhook(private_server: LiveServer) -> None:
    received: queue.Queue[dict[str, Any]] = queue.Queue()
    handler = type("Receiver", (_Receiver,), {"received": received})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        hook = f"http://127.0.0.1:{httpd.server_address[1]}/hook"
        headers = _credentials(private_server)
        with httpx.Client(base_url=private_server.url, headers=headers, timeout=60) as client:
            created = _create(client, "creatix-flash", {"prompt": "a kite"}, webhook_url=hook)
            assert created.status_code == 200, created.text
            shown = _poll(client, created.json()["id"])
            body = received.get(timeout=30)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
    assert body["id"] == shown["id"]
    assert body["status"] == "done"
    assert body["failed_reason"] == ""
    [asset] = body["assets"]
    assert {k: v for k, v in asset.items() if not k.endswith("url")} == {
        k: v for k, v in shown["assets"][0].items() if not k.endswith("url")
    }
    # Links made outside a request start with the configured base URL (settings.base_url),
    # which this test server on a random port does not set.
    assert private_server.settings.base_url
    assert asset["url"].startswith(private_server.settings.base_url + "/files/")
    assert asset["thumbnail_url"] == asset["url"]
