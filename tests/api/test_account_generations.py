"""The account API's generations (``/api/account/{id}/models|styles|generations``), what the
web console's playground and gallery call, through a real HTTP client against a real server:
a member signs in, quotes and generates images, videos and text (the preview engines finish
them), downloads the signed asset URLs, lists with filters and cursors, deletes; and every
refusal is a 4xx naming the field, another account's ids a 404."""

from __future__ import annotations

import io
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from PIL import Image
from sqlalchemy import select

from creatix.accounts import service as accounts_service
from creatix.billing import service as billing
from creatix.jobs.models import JobRow
from support import LiveServer, make_settings

STRONG = "correct horse battery staple 42"
PRICED = "z-image-turbo"  # 100 credits an image
FREE = "creatix-flash"
TEXT = "gemini-2.5-flash"
VIDEO = "kling-v2.5-turbo"  # 3 s for 120 credits


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = make_settings(
        Path(tmp_path_factory.mktemp("account-generations")), signin_attempts_per_address=10_000
    )
    live = LiveServer(settings).start()
    yield live
    live.stop()


def _account(server: LiveServer, credits: int = 100_000, plan: str = "paid") -> str:
    assert server.runtime is not None
    name = f"acct-{uuid.uuid4().hex[:8]}"
    info = server.call(accounts_service.ensure_account(server.runtime.db, name, plan, "free"))
    if credits:
        server.call(billing.grant(server.runtime.db, name, credits, None))
    return info.id


def _person(server: LiveServer, account_id: str, role: str = "member") -> str:
    assert server.runtime is not None
    email = f"p-{uuid.uuid4().hex[:10]}@example.com"
    server.call(
        server.runtime.people.create(email, password=STRONG, account_id=account_id, role=role)
    )
    return email


@contextmanager
def _signed_in(server: LiveServer, email: str) -> Iterator[httpx.Client]:
    with server.client() as client:
        response = client.post("/api/session", json={"email": email, "password": STRONG})
        assert response.status_code == 200, response.text
        client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        yield client


@pytest.fixture(scope="module")
def account_id(server: LiveServer) -> str:
    return _account(server)


@pytest.fixture(scope="module")
def member(server: LiveServer, account_id: str) -> Iterator[httpx.Client]:
    with _signed_in(server, _person(server, account_id)) as client:
        yield client


def _error(response: httpx.Response, status: int, param: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    if param is not None:
        assert error.get("param") == param, error
    return error


def _poll(client: httpx.Client, url: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(url)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["status"] not in ("queued", "running"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


def _generate(client: httpx.Client, account_id: str, body: dict[str, Any]) -> dict[str, Any]:
    base = f"/api/account/{account_id}/generations"
    created = client.post(base, json=body)
    assert created.status_code == 202, created.text
    done = _poll(client, f"{base}/{created.json()['id']}")
    assert done["status"] == "succeeded", done
    return done


def _image_body(**fields: Any) -> dict[str, Any]:
    return {"kind": "image", "model": PRICED, "prompt": "a red sneaker on a table", **fields}


# -- the playground's menus ------------------------------------------------------------------


def test_models_list_every_kind_with_price_limits_and_availability(
    member: httpx.Client, account_id: str
) -> None:
    response = member.get(f"/api/account/{account_id}/models")
    assert response.status_code == 200, response.text
    models = {m["id"]: m for m in response.json()["data"]}
    flash = models[FREE]
    assert flash["kind"] == "image"
    assert flash["engine"] == "preview"
    assert flash["available"] is True
    assert flash["unavailable_reason"] is None
    assert models[PRICED]["price"]["credits_per_image"] == 100
    assert models[PRICED]["limits"]["max_n"] == 4
    assert "1024x1024" in flash["limits"]["sizes"]
    assert "16:9" in flash["limits"]["aspect_ratios"]
    assert models["creatix-pro"]["limits"]["supports_image_input"] is True
    gpt = models["gpt-image-2"]
    assert gpt["price"]["prices"]["2k/high"] == 800
    assert gpt["price"]["price_by"] == [
        "resolution",
        "quality",
    ]
    assert gpt["limits"]["resolutions"] == {"1k": 1024, "2k": 2048, "4k": 4096}
    assert gpt["limits"]["qualities"] == ["high", "low", "medium"]
    video = models[VIDEO]
    assert video["kind"] == "video"
    assert video["price"]["credits_by_duration"]["3"] == 120
    assert video["limits"]["durations"] == [3, 5, 10]
    text = models[TEXT]
    assert text["price"]["credits_per_1k_output_tokens"] == 3
    assert text["limits"]["max_output_tokens"] == 8192
    styles = member.get(f"/api/account/{account_id}/styles").json()["data"]
    assert {"id": "minimal", "name": "Minimal"}.items() <= next(
        s for s in styles if s["id"] == "minimal"
    ).items()


# -- images ----------------------------------------------------------------------------------


def test_an_image_is_quoted_made_downloaded_and_charged_the_quote(
    server: LiveServer, member: httpx.Client, account_id: str
) -> None:
    body = _image_body(size="1024x1024", aspect_ratio="16:9", n=2, style="minimal", seed=7)
    quote = member.post(f"/api/account/{account_id}/generations/quote", json=body)
    assert quote.status_code == 200, quote.text
    assert quote.json() == {"credits": 200, "width": 1344, "height": 768, "n": 2, "duration": None}
    done = _generate(member, account_id, body)
    assert done["source"] == "console"
    assert done["kind"] == "image"
    assert done["engine"] == "preview"
    assert done["credits_reserved"] == done["credits_charged"] == quote.json()["credits"]
    assert done["progress"] == 1.0
    assert done["error"] is None
    assert done["text"] is None
    spec = done["spec"]
    assert spec["prompt"] == body["prompt"]
    assert spec["style"] == "minimal"
    assert (spec["width"], spec["height"], spec["n"], spec["seed"]) == (1344, 768, 2, 7)
    assert len(done["assets"]) == 2
    asset = done["assets"][0]
    assert asset["kind"] == "image"
    assert asset["mime_type"] == "image/png"
    assert (asset["width"], asset["height"]) == (1344, 768)
    downloaded = httpx.get(asset["url"])
    assert downloaded.status_code == 200
    assert downloaded.content.startswith(b"\x89PNG")
    assert Image.open(io.BytesIO(downloaded.content)).size == (1344, 768)
    # The job records no key (a person's principal), and usage by key shows it as none.
    assert server.runtime is not None
    row = server.call(
        server.runtime.db.read(lambda s: s.scalar(select(JobRow).where(JobRow.id == done["id"])))
    )
    assert row is not None
    assert row.key_id is None


def test_quotes_equal_reservations_for_every_kind(
    member: httpx.Client, account_id: str, source_asset: str
) -> None:
    bodies = [
        _image_body(n=3, size="512x512", aspect_ratio="9:16"),
        _image_body(model="gpt-image-2", resolution="2k", quality="high", aspect_ratio="4:3"),
        {"kind": "video", "model": VIDEO, "source_asset": source_asset, "duration": 5},
        {"kind": "text", "model": TEXT, "messages": [{"role": "user", "content": "Hi " * 50}]},
    ]
    for body in bodies:
        quote = member.post(f"/api/account/{account_id}/generations/quote", json=body)
        assert quote.status_code == 200, quote.text
        created = member.post(f"/api/account/{account_id}/generations", json=body)
        assert created.status_code == 202, created.text
        assert created.json()["credits_reserved"] == quote.json()["credits"] > 0, body
        if body["kind"] == "image":
            spec = created.json()["spec"]
            assert (spec["width"], spec["height"]) == (
                quote.json()["width"],
                quote.json()["height"],
            )
    gpt = member.post(f"/api/account/{account_id}/generations/quote", json=bodies[1]).json()
    assert gpt == {"credits": 800, "width": 2048, "height": 1536, "n": 1, "duration": None}


def test_an_idempotency_key_returns_the_same_generation(
    member: httpx.Client, account_id: str
) -> None:
    url = f"/api/account/{account_id}/generations"
    headers = {"Idempotency-Key": f"k-{uuid.uuid4().hex}"}
    first = member.post(url, json=_image_body(model=FREE), headers=headers)
    again = member.post(url, json=_image_body(model=FREE), headers=headers)
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    other = member.post(url, json=_image_body(model=FREE, n=2), headers=headers)
    _error(other, 409)


# -- the gallery -----------------------------------------------------------------------------


def test_the_list_filters_and_pages_with_cursors(server: LiveServer) -> None:
    account_id = _account(server)
    with _signed_in(server, _person(server, account_id)) as client:
        before = datetime.now(UTC) - timedelta(seconds=1)
        made = [_generate(client, account_id, _image_body(model=FREE))["id"] for _ in range(5)]
        text = _generate(
            client,
            account_id,
            {"kind": "text", "model": TEXT, "messages": [{"role": "user", "content": "Tagline"}]},
        )
        assert text["text"]
        assert text["assets"] == []
        url = f"/api/account/{account_id}/generations"
        everything = client.get(url).json()
        assert [g["id"] for g in everything["data"]] == [text["id"], *reversed(made)]
        assert everything["next_cursor"] is None
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2, "kind": "image"}
            if cursor:
                params["cursor"] = cursor
            page = client.get(url, params=params).json()
            assert len(page["data"]) <= 2
            seen += [g["id"] for g in page["data"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == list(reversed(made))
        by_model = client.get(url, params={"model": TEXT}).json()["data"]
        assert [g["id"] for g in by_model] == [text["id"]]
        assert client.get(url, params={"status": "failed"}).json()["data"] == []
        assert len(client.get(url, params={"status": "succeeded"}).json()["data"]) == 6
        since = client.get(url, params={"since": before.isoformat()}).json()["data"]
        assert len(since) == 6
        later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
        assert client.get(url, params={"since": later}).json()["data"] == []
        assert len(client.get(url, params={"until": later}).json()["data"]) == 6
        # A person's generations record no key: usage by key shows them under none.
        usage = client.get(f"/api/account/{account_id}/usage", params={"group_by": "key"})
        assert [(r["key_id"], r["jobs"]) for r in usage.json()["rows"]] == [(None, 6)]

        # Deleting removes it from the list, its detail and its file.
        victim = client.get(f"{url}/{made[0]}").json()
        file_url = victim["assets"][0]["url"]
        assert httpx.get(file_url).status_code == 200
        assert client.delete(f"{url}/{made[0]}").status_code == 204
        _error(client.get(f"{url}/{made[0]}"), 404, "job_id")
        _error(client.delete(f"{url}/{made[0]}"), 404, "job_id")
        assert made[0] not in [g["id"] for g in client.get(url).json()["data"]]
        assert httpx.get(file_url).status_code == 404


def test_the_list_stays_fast_with_ten_thousand_jobs(server: LiveServer) -> None:
    """10,000 jobs on one account: the first page, a filter that matches none of them and a
    page deep in the cursor chain each take one indexed query."""
    assert server.runtime is not None
    account_id = _account(server, credits=0)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        {
            "id": str(uuid.UUID(int=index + (account_id.__hash__() % 1000) * 10**6)),
            "account_id": account_id,
            "kind": "image",
            "model": FREE,
            "engine": "preview",
            "batch_key": "x",
            "spec": {"prompt": "p", "width": 64, "height": 64, "n": 1, "seed": 1},
            "status": "succeeded",
            "attempts": 1,
            "max_attempts": 1,
            "source": "platform",
            "created_at": start + timedelta(seconds=index // 2),  # ties, broken by id
        }
        for index in range(10_000)
    ]
    server.call(server.runtime.db.write(lambda s: s.execute(JobRow.__table__.insert(), rows)))
    with _signed_in(server, _person(server, account_id)) as client:
        url = f"/api/account/{account_id}/generations"
        began = time.monotonic()
        page = client.get(url, params={"limit": 100}).json()
        assert len(page["data"]) == 100
        for _ in range(20):
            page = client.get(url, params={"limit": 100, "cursor": page["next_cursor"]}).json()
        assert page["data"][0]["spec"]["prompt"] == "p"
        assert client.get(url, params={"status": "failed"}).json()["data"] == []
        assert time.monotonic() - began < 30  # a second or two here; room for a loaded machine
        # Every id once, in order, across the whole chain.
        ids: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = client.get(url, params=params).json()
            ids += [g["id"] for g in page["data"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(ids) == len(set(ids)) == 10_000


# -- videos and text -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def source_asset(member: httpx.Client, account_id: str) -> str:
    done = _generate(member, account_id, _image_body(model=FREE, aspect_ratio="16:9"))
    return str(done["assets"][0]["id"])


def test_a_video_from_an_image_asset_succeeds(
    member: httpx.Client, account_id: str, source_asset: str
) -> None:
    body = {"kind": "video", "model": VIDEO, "source_asset": source_asset, "prompt": "orbit"}
    quote = member.post(f"/api/account/{account_id}/generations/quote", json=body).json()
    assert quote == {"credits": 120, "width": 1260, "height": 720, "n": None, "duration": 3}
    done = _generate(member, account_id, body)
    assert done["credits_charged"] == 120
    assert done["spec"]["source_asset"] == source_asset
    assert done["spec"]["duration"] == 3
    assert done["spec"]["resolution"] == "720p"
    (video,) = done["assets"]
    assert video["kind"] == "video"
    assert video["mime_type"] == "video/mp4"
    assert video["thumbnail_url"] is not None
    assert httpx.get(video["url"]).status_code == 200


def test_an_image_to_image_takes_an_asset_of_the_account(
    member: httpx.Client, account_id: str, source_asset: str
) -> None:
    body = _image_body(model="creatix-pro", input_image=source_asset)
    done = _generate(member, account_id, body)
    assert done["spec"]["input_image"] == source_asset


def test_text_with_a_response_schema_answers_valid_json(
    member: httpx.Client, account_id: str
) -> None:
    schema = {
        "type": "object",
        "properties": {"headline": {"type": "string"}, "slogans": {"type": "array"}},
        "required": ["headline", "slogans"],
    }
    body = {
        "kind": "text",
        "model": TEXT,
        "system_instruction": "You write ad copy.",
        "messages": [{"role": "user", "content": "Copy for running shoes"}],
        "response_schema": schema,
        "max_output_tokens": 500,
    }
    quote = member.post(f"/api/account/{account_id}/generations/quote", json=body).json()
    done = _generate(member, account_id, body)
    assert done["credits_reserved"] == quote["credits"]
    assert done["credits_charged"] is not None
    assert done["credits_charged"] <= quote["credits"]
    jsonschema.validate(json.loads(done["text"]), schema)
    assert done["spec"]["response_schema"] == schema
    assert done["spec"]["messages"] == [{"role": "user", "content": "Copy for running shoes"}]


# -- who may call, and refusals --------------------------------------------------------------


def test_another_accounts_generation_is_a_404(
    server: LiveServer, member: httpx.Client, account_id: str, source_asset: str
) -> None:
    other = _account(server)
    with _signed_in(server, _person(server, other)) as stranger:
        mine = _generate(stranger, other, _image_body(model=FREE))
        _error(member.get(f"/api/account/{account_id}/generations/{mine['id']}"), 404)
        _error(member.delete(f"/api/account/{account_id}/generations/{mine['id']}"), 404)
        _error(member.get(f"/api/account/{other}/generations/{mine['id']}"), 404)
        _error(member.get(f"/api/account/{other}/generations"), 404)
        _error(member.post(f"/api/account/{other}/generations", json=_image_body()), 404)
        # Nor may anyone use another account's image as an input.
        url = f"/api/account/{other}/generations"
        body = _image_body(model="creatix-pro", input_image=source_asset)
        _error(stranger.post(url, json=body), 400, "input_image")
        video = {"kind": "video", "model": VIDEO, "source_asset": source_asset}
        _error(stranger.post(url, json=video), 400, "source_asset")


def test_a_post_without_the_csrf_token_is_refused(
    server: LiveServer, member: httpx.Client, account_id: str
) -> None:
    url = f"/api/account/{account_id}/generations"
    for path in (url, f"{url}/quote"):
        response = member.post(path, json=_image_body(), headers={"X-CSRF-Token": ""})
        assert _error(response, 403)["code"] == "csrf_failed"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "no-such-model"}, "model"),
        ({"model": TEXT}, "model"),
        ({"n": 0}, "n"),
        ({"n": 9}, "n"),
        ({"prompt": ""}, "prompt"),
        ({"style": "no-such-style"}, "style"),
        ({"size": "999x999"}, "size"),
        ({"aspect_ratio": "2:1"}, "aspect_ratio"),
        ({"seed": -1}, "seed"),
        ({"quality": "high"}, "quality"),
        ({"model": "gpt-image-2", "size": "1024x1024"}, "size"),
        ({"model": "gpt-image-2", "resolution": "8k"}, "resolution"),
        ({"input_image": "no-such-asset"}, "input_image"),
        ({"surprise": 1}, "surprise"),
        ({"kind": "sculpture"}, "kind"),
        ({"prompt": 5}, "prompt"),
    ],
)
def test_bad_image_inputs_are_400s_naming_the_field(
    member: httpx.Client, account_id: str, body: dict[str, Any], param: str
) -> None:
    for path in ("generations", "generations/quote"):
        url = f"/api/account/{account_id}/{path}"
        _error(member.post(url, json=_image_body(**body)), 400, param)


def test_bad_video_and_text_inputs_are_400s_naming_the_field(
    member: httpx.Client, account_id: str, source_asset: str
) -> None:
    url = f"/api/account/{account_id}/generations"
    video = {"kind": "video", "model": VIDEO, "source_asset": source_asset}
    for extra, param in [
        ({"duration": 7}, "duration"),
        ({"resolution": "4k"}, "resolution"),
        ({"audio": True}, "audio"),
        ({"movement": "huge"}, "movement"),
        ({"source_asset": "nope"}, "source_asset"),
        ({"model": FREE}, "model"),
    ]:
        _error(member.post(url, json={**video, **extra}), 400, param)
    text = {"kind": "text", "model": TEXT, "messages": [{"role": "user", "content": "Hi"}]}
    for extra, param in [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "user", "content": ""}]}, "messages[0].content"),
        ({"messages": [{"role": "system", "content": "x"}]}, "messages[0].role"),
        ({"max_output_tokens": 100_000}, "max_output_tokens"),
        ({"response_schema": {"type": "nonsense"}}, "response_schema"),
        ({"response_schema": {"type": "string", "pattern": "(a)\\1"}}, "response_schema.pattern"),
    ]:
        _error(member.post(url, json={**text, **extra}), 400, param)
    broken = member.post(url, content=b"{", headers={"Content-Type": "application/json"})
    assert broken.status_code == 400


def test_bad_list_parameters_are_400s_naming_them(member: httpx.Client, account_id: str) -> None:
    url = f"/api/account/{account_id}/generations"
    for params, param in [
        ({"status": "done"}, "status"),
        ({"kind": "sound"}, "kind"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01"}, "until"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "WyJ4Il0"}, "cursor"),  # ["x"]
    ]:
        _error(member.get(url, params=params), 400, param)


def test_a_manage_key_works_and_a_generate_key_is_refused(
    server: LiveServer, account_id: str
) -> None:
    assert server.runtime is not None
    db = server.runtime.db
    manage = server.call(accounts_service.create_account_key(db, account_id, scopes=["manage"]))
    generate = server.call(accounts_service.create_account_key(db, account_id))
    url = f"/api/account/{account_id}/generations"
    with server.client(manage.secret) as client:
        assert client.get(f"/api/account/{account_id}/models").status_code == 200
        done = _generate(client, account_id, _image_body(model=FREE))
        assert client.get(url).status_code == 200
    # A key's generation records the key.
    row = server.call(db.read(lambda s: s.scalar(select(JobRow).where(JobRow.id == done["id"]))))
    assert row is not None
    assert row.key_id == manage.key_id
    with server.client(generate.secret) as client:
        assert _error(client.get(url), 403)["code"] == "insufficient_scope"
        assert _error(client.post(url, json=_image_body()), 403)["code"] == "insufficient_scope"


def test_a_suspended_account_may_look_but_not_generate(server: LiveServer) -> None:
    assert server.runtime is not None
    account_id = _account(server)
    with _signed_in(server, _person(server, account_id, role="owner")) as client:
        server.call(
            accounts_service.update_account(server.runtime.db, account_id, status="suspended")
        )
        url = f"/api/account/{account_id}/generations"
        assert client.get(url).status_code == 200
        assert _error(client.post(url, json=_image_body()), 403)["code"] == "account_suspended"


def test_credits_are_needed(server: LiveServer) -> None:
    account_id = _account(server, credits=50)
    with _signed_in(server, _person(server, account_id)) as client:
        url = f"/api/account/{account_id}/generations"
        quote = client.post(f"{url}/quote", json=_image_body())
        assert quote.json()["credits"] == 100  # a quote does not look at the balance
        assert _error(client.post(url, json=_image_body()), 402)["code"] == "insufficient_credits"
