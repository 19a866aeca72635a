"""Hostile request bodies against every dialect's create endpoints, over real HTTP.

No body is read before its key is checked, none is read past its route's limit (a 413 in
the dialect's envelope, whether the length was declared or the body came chunked), and
malformed JSON or text that is not storable Unicode (a lone surrogate, a NUL) is a 400 in
the dialect's envelope naming the field: nothing stored, nothing charged, and the
account's listings keep working.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from PIL import Image
from pydantic import BaseModel
from sqlalchemy import func, select

from creatix.accounts import service as accounts
from creatix.api import platform
from creatix.api.limits import BodyLimit, RequestLimitsMiddleware
from creatix.api.routing import dialect_route
from creatix.jobs.models import JobRow
from creatix.jobs.specs import ImageSpec
from creatix.uploads.models import UploadRow
from creatix.uploads.service import MAX_UPLOAD_BYTES
from support import LiveServer, ServerProcess, creatix_command, make_settings

MB = 1024 * 1024
HUGE = 50 * MB
CHUNK = 64 * 1024


# -- the endpoints and their envelopes -------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """What an error response says, whatever the dialect's envelope."""

    status: int
    code: str
    message: str
    field: str | None


def _openai(response: httpx.Response) -> Refusal:
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert error["type"] == "invalid_request_error" or response.status_code == 401, error
    return Refusal(response.status_code, error["code"], error["message"], error["param"])


def _artnex(response: httpx.Response) -> Refusal:
    body = response.json()
    assert set(body) == {"success", "error"}, body
    assert body["success"] is False
    assert set(body["error"]) == {"code", "message"}, body
    return Refusal(response.status_code, body["error"]["code"], body["error"]["message"], None)


def _platform(response: httpx.Response) -> Refusal:
    error = response.json()["error"]
    assert set(error) <= {"code", "message", "param"}, error
    return Refusal(response.status_code, error["code"], error["message"], error.get("param"))


def _creatify(response: httpx.Response) -> Refusal:
    body = response.json()
    assert set(body) <= {"error", "detail", "field", "fields"}, body
    if "field" in body and response.status_code == 400:
        assert body["field"] in body["fields"], body
    return Refusal(response.status_code, body["error"], body["detail"], body.get("field"))


@dataclass(frozen=True)
class Create:
    """One create endpoint: where it is, how it authenticates, a body it would take, and
    where in that body a string goes (``text_at``, as the 400 names it)."""

    name: str
    path: str
    api_id: bool
    body: dict[str, Any]
    text_at: str
    envelope: Callable[[httpx.Response], Refusal]
    invalid_json: str = "invalid_json"

    def with_text(self, text: str) -> bytes:
        """The body with ``text`` at ``text_at``, as JSON with \\u escapes (how a client
        sends a lone surrogate: it has no UTF-8 form)."""
        body = json.loads(json.dumps(self.body))
        *parents, last = self.text_at.split(".")
        target = body
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        target[int(last) if isinstance(target, list) else last] = text
        return json.dumps(body, ensure_ascii=True).encode()


JSON_CREATES = [
    Create(
        "creatix-v1",
        "/v1/images/generations",
        False,
        {"prompt": "a red kite", "size": "512x512"},
        "prompt",
        _openai,
    ),
    Create(
        "artnex",
        "/v1/generate",
        False,
        {"prompt": "a red kite", "model": "z-image-turbo", "width": 256, "height": 256},
        "prompt",
        _artnex,
        invalid_json="invalid_parameter",
    ),
    Create(
        "platform-generate",
        "/api/platform/generate",
        False,
        {"prompt": "a red kite", "modelId": "creatix-flash"},
        "negativePrompt",
        _platform,
    ),
    Create(
        "platform-videos",
        "/api/platform/videos",
        False,
        {"sourceGenerationId": "gen_x", "modelId": "kling-v2.5-turbo", "prompt": "a slow zoom"},
        "prompt",
        _platform,
    ),
    Create(
        "asset-generator",
        "/api/asset_generator/",
        True,
        {"model_name": "creatix-flash", "input_params": {"prompt": "a red kite"}},
        "input_params.prompt",
        _creatify,
    ),
    Create(
        "text-generator",
        "/api/text_generator/",
        True,
        {"model_name": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]},
        "messages.0.content",
        _creatify,
    ),
]
UPLOAD = Create("platform-upload", "/api/platform/upload", False, {}, "", _platform)
ALL_CREATES = [*JSON_CREATES, UPLOAD]


def _ids(creates: list[Create]) -> list[str]:
    return [create.name for create in creates]


@dataclass
class Account:
    name: str
    account_id: str
    key_id: str
    secret: str

    def headers(self, create: Create) -> dict[str, str]:
        if create.api_id:
            return {"X-API-ID": self.key_id, "X-API-KEY": self.secret}
        return {"Authorization": f"Bearer {self.secret}"}


@pytest.fixture
def account(server: LiveServer) -> Account:
    """A fresh funded account on the paid plan, with one key."""
    assert server.runtime is not None
    name, _ = server.funded_account(credits=100_000)
    key = server.call(accounts.create_key(server.runtime.db, name))
    principal = server.call(accounts.authenticate(server.runtime.db, key.secret))
    return Account(name, principal.account_id, key.key_id, key.secret)


def _stored(server: LiveServer, account: Account) -> int:
    """Jobs of every kind and dialect, and uploads, the account has."""
    assert server.runtime is not None

    def count(row: Any) -> int:
        query = select(func.count()).select_from(row).where(row.account_id == account.account_id)
        return int(server.call(server.runtime.db.read(lambda s: s.execute(query))).scalar_one())

    jobs, uploads = count(JobRow), count(UploadRow)
    return jobs + int(uploads)


def _listings_work(client: httpx.Client, account: Account) -> None:
    bearer = {"Authorization": f"Bearer {account.secret}"}
    api_id = {"X-API-ID": account.key_id, "X-API-KEY": account.secret}
    for path, headers in (
        ("/api/platform/generations", bearer),
        ("/api/platform/videos", bearer),
        ("/api/text_generator/", api_id),
    ):
        response = client.get(path, headers=headers)
        assert response.status_code == 200, response.text


def _post(
    client: httpx.Client,
    create: Create,
    content: bytes | Iterator[bytes],
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    content_type = "image/png" if create is UPLOAD else "application/json"
    return client.post(
        create.path, content=content, headers={"Content-Type": content_type, **(headers or {})}
    )


class Meter:
    """A body of ``size`` bytes, streamed chunked; counts what the client got to send."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.sent = 0

    def chunks(self) -> Iterator[bytes]:
        chunk = b" " * CHUNK
        while self.sent < self.size:
            self.sent += CHUNK
            yield chunk


# -- the key before the body -----------------------------------------------------------------


@pytest.mark.parametrize("create", ALL_CREATES, ids=_ids(ALL_CREATES))
def test_a_huge_body_without_a_key_is_a_401_and_is_not_read(
    server: LiveServer, create: Create
) -> None:
    body = Meter(HUGE)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        response = _post(client, create, body.chunks())
    refusal = create.envelope(response)
    assert refusal.status == 401, response.text
    assert response.headers["connection"] == "close"
    # What the client got to send before the answer: what the sockets buffer, not the body.
    assert body.sent < HUGE / 4, f"{body.sent} of {HUGE} bytes were taken"


# -- bodies over their route's limit ---------------------------------------------------------


def _oversized(create: Create) -> int:
    return MAX_UPLOAD_BYTES + 2 * MB if create is UPLOAD else 2 * MB


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("create", ALL_CREATES, ids=_ids(ALL_CREATES))
def test_a_body_over_the_limit_is_a_413_in_the_dialects_envelope(
    server: LiveServer, account: Account, create: Create, streamed: bool
) -> None:
    size = _oversized(create)
    body = Meter(size)
    content = body.chunks() if streamed else b" " * size
    with httpx.Client(base_url=server.url, timeout=60) as client:
        response = _post(client, create, content, account.headers(create))
        refusal = create.envelope(response)
        assert refusal.status == 413, response.text
        expected = "file_too_large" if create is UPLOAD else "request_too_large"
        assert refusal.code == expected
        assert "send at most" in refusal.message
        assert response.headers["connection"] == "close"
        assert _stored(server, account) == 0
        _listings_work(client, account)


def test_the_json_limit_is_a_setting(tmp_path: Path) -> None:
    live = LiveServer(make_settings(tmp_path, max_json_body_bytes=1000)).start()
    try:
        with live.client(live.key()) as client:
            padded = {"prompt": "a red kite", "user": "x" * 1000}
            response = client.post("/v1/images/generations", json=padded)
            assert response.status_code == 413, response.text
            assert "1,000 bytes" in response.json()["error"]["message"]
    finally:
        live.stop()


def _noise_png(side: int) -> bytes:
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=0)
    return out.getvalue()


def test_a_9_mb_upload_is_taken_and_an_11_mb_one_is_a_413(
    server: LiveServer, account: Account
) -> None:
    nine = _noise_png(1730)
    assert 8.5 * MB < len(nine) < 9.5 * MB
    eleven = nine + b"\0" * (2 * MB)
    raw = {"Content-Type": "image/png"}
    with httpx.Client(base_url=server.url, headers=account.headers(UPLOAD), timeout=60) as c:
        for taken, refused in (
            (
                c.post(UPLOAD.path, content=nine, headers=raw),
                c.post(UPLOAD.path, content=eleven, headers=raw),
            ),
            (
                c.post(UPLOAD.path, files={"file": ("a.png", nine, "image/png")}),
                c.post(UPLOAD.path, files={"file": ("a.png", eleven, "image/png")}),
            ),
        ):
            assert taken.status_code == 201, taken.text
            refusal = _platform(refused)
            assert (refusal.status, refusal.code, refusal.field) == (413, "file_too_large", "file")
        # Within the body's limit (which leaves room for multipart framing), over the image's.
        just_over = nine + b"\0" * (MAX_UPLOAD_BYTES + 1 - len(nine))
        refusal = _platform(c.post(UPLOAD.path, content=just_over, headers=raw))
        assert (refusal.status, refusal.code, refusal.field) == (413, "file_too_large", "file")
        assert "10 MB" in refusal.message
    assert _stored(server, account) == 2


# -- malformed JSON --------------------------------------------------------------------------

MALFORMED = {
    "invalid UTF-8": b'{"prompt": "a \xff\xfe kite"}',
    "an encoded surrogate": b'{"prompt": "a \xed\xa0\x80 kite"}',
    "a 5000-digit integer": b'{"n": ' + b"7" * 5000 + b"}",
    "200,000 nested arrays": b"[" * 200_000,
    "65 nested objects": b'{"a": ' * 65 + b"1" + b"}" * 65,
    "a number past a float": b'{"n": 1e999}',
    "NaN": b'{"n": NaN}',
}


@pytest.mark.parametrize("case", list(MALFORMED))
@pytest.mark.parametrize("create", JSON_CREATES, ids=_ids(JSON_CREATES))
def test_malformed_json_is_a_400(
    server: LiveServer, account: Account, create: Create, case: str
) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        response = _post(client, create, MALFORMED[case], account.headers(create))
        refusal = create.envelope(response)
        assert refusal.status == 400, response.text
        assert refusal.code == create.invalid_json, response.text
        assert "not valid JSON" in refusal.message
        assert _stored(server, account) == 0


def test_nesting_within_the_bound_is_taken(server: LiveServer, account: Account) -> None:
    deep: Any = "leaf"
    for _ in range(60):
        deep = {"then": deep}
    artnex = JSON_CREATES[1]  # which ignores fields it does not document
    with httpx.Client(base_url=server.url, timeout=60) as client:
        body = {**artnex.body, "extra": deep}
        response = client.post(artnex.path, json=body, headers=account.headers(artnex))
    assert response.status_code == 200, response.text


# -- text that is not Unicode ----------------------------------------------------------------

BAD_TEXT = {"a lone surrogate": "\ud800 cat", "a low surrogate": "cat \udfff", "NUL": "a\x00b"}


@pytest.mark.parametrize("case", list(BAD_TEXT))
@pytest.mark.parametrize("create", JSON_CREATES, ids=_ids(JSON_CREATES))
def test_text_that_is_not_unicode_is_a_400_naming_the_field(
    server: LiveServer, account: Account, create: Create, case: str
) -> None:
    balance = server.balance(account.name)
    with httpx.Client(base_url=server.url, timeout=60) as client:
        response = _post(client, create, create.with_text(BAD_TEXT[case]), account.headers(create))
        refusal = create.envelope(response)
        assert refusal.status == 400, response.text
        assert create.text_at in refusal.message
        assert ("NUL" if case == "NUL" else "surrogate") in refusal.message
        if create.envelope is not _artnex:
            assert refusal.field == create.text_at
        assert _stored(server, account) == 0
        assert server.balance(account.name) == balance
        _listings_work(client, account)


def test_a_bad_key_or_an_unread_field_is_refused_too(server: LiveServer, account: Account) -> None:
    create = JSON_CREATES[4]  # the asset generator
    with httpx.Client(base_url=server.url, timeout=60, headers=account.headers(create)) as client:
        bad_key = b'{"model_name": "creatix-flash", "input_params": {"prompt": "x", "\\ud800": 1}}'
        refusal = create.envelope(_post(client, create, bad_key))
        assert (refusal.status, refusal.field) == (400, "input_params")
        assert "a key" in refusal.message
        ignored = b'{"prompt": "a kite", "model": "z-image-turbo", "extra": ["\\u0000"]}'
        refusal = _artnex(_post(client, JSON_CREATES[1], ignored, account.headers(JSON_CREATES[1])))
        assert refusal.status == 400
        assert "extra.0" in refusal.message
    assert _stored(server, account) == 0


# -- the URL and multipart fields ------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "param"),
    [("offset=0&tag=a%00b", "tag"), ("limit=5&tag=%ff", "tag"), ("tag=%ED%A0%80", "tag")],
)
def test_a_query_parameter_that_is_not_text_is_a_400(
    server: LiveServer, account: Account, query: str, param: str
) -> None:
    response = httpx.get(
        f"{server.url}/api/platform/generations?{query}",
        headers={"Authorization": f"Bearer {account.secret}"},
    )
    refusal = _platform(response)
    assert (refusal.status, refusal.field) == (400, param), response.text


def test_a_path_with_a_nul_is_a_400(server: LiveServer, account: Account) -> None:
    response = httpx.get(
        f"{server.url}/api/platform/generations/gen%00x",
        headers={"Authorization": f"Bearer {account.secret}"},
    )
    refusal = _platform(response)
    assert (refusal.status, refusal.code) == (400, "invalid_path"), response.text


def test_a_multipart_text_field_with_a_nul_is_a_400(server: LiveServer, account: Account) -> None:
    with httpx.Client(base_url=server.url, headers=account.headers(UPLOAD), timeout=60) as c:
        png = _noise_png(8)
        response = c.post(
            UPLOAD.path, data={"note": "a\x00b"}, files={"file": ("a.png", png, "image/png")}
        )
    refusal = _platform(response)
    assert (refusal.status, refusal.field) == (400, "note"), response.text
    assert _stored(server, account) == 0


# -- what an older server stored -------------------------------------------------------------


def test_a_stored_lone_surrogate_does_not_break_the_listing(
    server: LiveServer, account: Account
) -> None:
    assert server.runtime is not None
    principal = server.call(accounts.authenticate(server.runtime.db, account.secret))
    spec = ImageSpec(prompt="\ud800 cat", width=512, height=512, n=1, seed=1)
    server.call(
        server.runtime.jobs.intake.submit_image(
            principal, "creatix-flash", spec, source=platform.GENERATIONS.source
        )
    )
    response = httpx.get(
        f"{server.url}/api/platform/generations",
        headers={"Authorization": f"Bearer {account.secret}"},
    )
    assert response.status_code == 200, response.text
    [generation] = response.json()
    assert generation["prompt"] == "\ufffd cat"


# -- memory under a flood --------------------------------------------------------------------


def _rss_peak(pid: int) -> int:
    """The process's peak resident set (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_a_flood_of_huge_bodies_leaves_the_servers_memory_alone(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data").start()
    try:
        assert server.process is not None
        key = _cli_key(tmp_path / "data")
        creates = [c for c in JSON_CREATES if not c.api_id]
        with httpx.Client(base_url=server.url, timeout=60) as warm:
            for create in creates:  # every route's code is loaded before the baseline
                warm.post(create.path, json=create.body)
        before = _rss_peak(server.process.pid)
        meters = [Meter(HUGE) for _ in range(8)]
        statuses: list[int] = []

        def flood(index: int) -> None:
            create = creates[index % len(creates)]
            headers = {"Content-Type": "application/json"}
            if index % 2:
                headers["Authorization"] = f"Bearer {key}"
            with httpx.Client(base_url=server.url, timeout=120) as client:
                response = client.post(create.path, content=meters[index].chunks(), headers=headers)
            statuses.append(response.status_code)

        threads = [threading.Thread(target=flood, args=(i,)) for i in range(len(meters))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert sorted(statuses) == [401] * 4 + [413] * 4
        growth = _rss_peak(server.process.pid) - before
        sent = sum(meter.sent for meter in meters)
        print(f"flood: peak RSS grew {growth / MB:.1f} MB; clients sent {sent / MB:.1f} MB")
        assert growth < 64 * MB, f"the server grew by {growth / MB:.0f} MB"
        assert sent < len(meters) * HUGE / 4, f"{sent / MB:.0f} MB were taken"
        assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
    finally:
        server.stop()


def _cli_key(data_dir: Path) -> str:
    """A key on a paid account, made by ``creatix keys create`` beside the running server."""
    command = creatix_command(
        "keys",
        "create",
        "--account",
        "flood",
        "--plan",
        "paid",
        "--json",
        "--data-dir",
        str(data_dir),
    )
    env = {**os.environ, "CREATIX_SECRET_KEY": "test-secret"}
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    secret: str = json.loads(out)["secret"]
    return secret


# -- a route that lets FastAPI read its body -------------------------------------------------


class Note(BaseModel):
    text: str


async def test_a_declared_body_parameter_over_the_limit_is_a_413_too() -> None:
    """No create route declares its body (they authenticate first), but should one do so,
    FastAPI's wrapping of the limit's error in a 400 of its own still ends as the 413."""
    router = APIRouter(route_class=dialect_route(platform.render_error))

    @router.post("/api/platform/notes")
    async def take(note: Note) -> dict[str, str]:
        return {"text": note.text}

    app = FastAPI()
    app.include_router(router)
    app.add_middleware(
        RequestLimitsMiddleware,
        default=BodyLimit(2048),
        routes={},
        renderers=[("/api/platform/", platform.render_error)],
    )

    async def chunks() -> Any:
        yield b'{"text": "'
        for _ in range(10):
            yield b"x" * 1024
        yield b'"}'

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        small = await client.post("/api/platform/notes", json={"text": "hi"})
        assert small.json() == {"text": "hi"}
        response = await client.post(
            "/api/platform/notes",
            content=chunks(),
            headers={"Content-Type": "application/json"},
        )
    refusal = _platform(response)
    assert (refusal.status, refusal.code) == (413, "request_too_large")
