"""An ad set's quote and the console's product image, through the real app on SQLite.

A quote (``POST …/ad-sets/quote``, on the platform dialect and the account API) is what
creating the same body then reserves, refused as creating it is, and writes nothing. The
account API's upload (``POST /api/account/{id}/uploads``) takes a signed-in person's image
with the CSRF token, within the upload's own body limit, and its path makes a set.
"""

from __future__ import annotations

import io
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from PIL import Image

from creatix.accounts import service as accounts
from creatix.billing import service as billing
from support import LiveServer, make_settings

AD_SETS = "/api/platform/ad-sets"
QUOTE = f"{AD_SETS}/quote"
KITS = "/api/platform/brand-kits"
PASSWORD = "correct horse battery staple 42"
BRIEF = {"product": "cold brew coffee", "audience": "busy commuters", "offer": "two for one"}
IMAGE_MODEL = "z-image-turbo"  # 100 credits a key visual
CREDITS = 10_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(make_settings(tmp_path_factory.mktemp("ad-set-quote"))).start()
    yield live
    live.stop()


def _body(kit_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "brandKitId": kit_id,
        "brief": BRIEF,
        "placements": ["square_feed", "display_300x250"],
        "variants": 1,
        "imageModel": IMAGE_MODEL,
        "copyModel": "gemini-2.5-flash",
        **changes,
    }


def _kit(client: httpx.Client, path: str = KITS, headers: dict[str, str] | None = None) -> str:
    created = client.post(path, json={"name": "Northwind"}, headers=headers)
    assert created.status_code == 201, created.text
    kit_id: str = created.json()["id"]
    return kit_id


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def _set_count(client: httpx.Client, path: str = AD_SETS) -> int:
    listed = client.get(path)
    assert listed.status_code == 200, listed.text
    return int(listed.headers["X-Total-Count"])


def _png(size: tuple[int, int], *, noise: bool = False) -> bytes:
    image = (
        Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
        if noise
        else Image.new("RGB", size, (30, 120, 200))
    )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


# -- the platform dialect ------------------------------------------------------------------


@pytest.mark.parametrize("variants", [1, 3])
def test_a_quote_is_what_creating_the_set_then_reserves(server: LiveServer, variants: int) -> None:
    name, secret = server.funded_account(credits=CREDITS)
    with server.client(secret) as client:
        body = _body(_kit(client), variants=variants)
        quoted = client.post(QUOTE, json=body)
        assert quoted.status_code == 200, quoted.text
        assert set(quoted.json()) == {"credits"}
        credits = quoted.json()["credits"]
        assert credits > 100 * variants, "every key visual at 100 credits, and the copy's most"
        assert server.balance(name) == CREDITS, "a quote reserves nothing"
        assert _set_count(client) == 0, "a quote makes no set"
        made = client.post(AD_SETS, json=body)
        assert made.status_code == 202, made.text
        shown = client.get(f"{AD_SETS}/{made.json()['id']}").json()["adSet"]
    assert shown["creditsReserved"] == credits
    assert sum(part["creditsReserved"] for part in shown["parts"]) == credits
    assert server.balance(name) == CREDITS - credits


def test_more_variants_quote_more(server: LiveServer) -> None:
    _, secret = server.funded_account(credits=CREDITS)
    with server.client(secret) as client:
        kit_id = _kit(client)
        one, three = (
            client.post(QUOTE, json=_body(kit_id, variants=n)).json()["credits"] for n in (1, 3)
        )
    assert three - one >= 200, "two more key visuals at 100 credits"


@pytest.mark.parametrize(
    ("changes", "param"),
    [
        ({"placements": ["billboard"]}, "placements[0]"),
        ({"placements": ["story", {"width": 20, "height": 3000}]}, "placements[1]"),
        ({"imageModel": "no-such-model"}, "imageModel"),
        ({"imageModel": "gemini-2.5-flash"}, "imageModel"),
        ({"copyModel": "no-such-model"}, "copyModel"),
        ({"copyModel": IMAGE_MODEL}, "copyModel"),
        ({"variants": 9}, "variants"),
        ({"brief": {**BRIEF, "cta": "Order yours today"}}, "placements[1]"),
    ],
)
def test_a_refused_quote_names_the_field_as_creating_does_and_writes_nothing(
    server: LiveServer, changes: dict[str, Any], param: str
) -> None:
    name, secret = server.funded_account(credits=CREDITS)
    with server.client(secret) as client:
        body = _body(_kit(client), **changes)
        refused = _error(client.post(QUOTE, json=body), 400)
        created = _error(client.post(AD_SETS, json=body), 400)
        assert _set_count(client) == 0
    assert refused["param"] == param
    assert (refused["code"], refused["message"]) == (created["code"], created["message"])
    assert server.balance(name) == CREDITS


def test_a_quote_of_another_accounts_kit_is_a_404(server: LiveServer) -> None:
    with server.client(server.key()) as owner:
        kit_id = _kit(owner)
    with server.client(server.key()) as other:
        assert _error(other.post(QUOTE, json=_body(kit_id)), 404)["param"] == "brandKitId"
        # ``quote`` is no set's id: a GET of it is an unknown set, not the quote route.
        assert _error(other.get(QUOTE), 404)["param"] == "id"


# -- the account API, as the console calls it ----------------------------------------------


@dataclass
class Member:
    client: httpx.Client
    account_id: str
    account_name: str
    csrf: dict[str, str]

    def path(self, suffix: str) -> str:
        return f"/api/account/{self.account_id}{suffix}"


@contextmanager
def _signed_in(server: LiveServer, credits: int = CREDITS) -> Iterator[Member]:
    """A fresh account's owner, signed in: the session cookie, and the CSRF header."""
    runtime = server.runtime
    assert runtime is not None
    name = f"acct-{uuid.uuid4().hex[:8]}"
    account = server.call(accounts.ensure_account(runtime.db, name, "paid", "free"))
    server.call(billing.grant(runtime.db, name, credits, None))
    email = f"p-{uuid.uuid4().hex[:10]}@example.com"
    server.call(
        runtime.people.create(email, password=PASSWORD, account_id=account.id, role="owner")
    )
    with httpx.Client(base_url=server.url, timeout=60) as client:
        answer = client.post("/api/session", json={"email": email, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        csrf = {"X-CSRF-Token": client.get("/api/session").json()["csrf_token"]}
        yield Member(client, account.id, name, csrf)


def test_the_account_quote_is_what_the_console_then_reserves_and_is_not_counted(
    server: LiveServer,
) -> None:
    with _signed_in(server) as member:
        client, csrf = member.client, member.csrf
        body = _body(_kit(client, member.path("/brand-kits"), csrf), variants=2)
        without_token = client.post(member.path("/ad-sets/quote"), json=body)
        assert _error(without_token, 403)["code"] == "csrf_failed"
        quoted = client.post(member.path("/ad-sets/quote"), json=body, headers=csrf)
        assert quoted.status_code == 200, quoted.text
        assert "X-RateLimit-Remaining" not in quoted.headers, "a quote is not a submission"
        credits = quoted.json()["credits"]
        assert server.balance(member.account_name) == CREDITS
        refused = client.post(
            member.path("/ad-sets/quote"),
            json={**body, "placements": ["billboard"], "imageModel": "nope"},
            headers=csrf,
        )
        assert _error(refused, 400)["param"] == "placements[0]"
        refused = client.post(
            member.path("/ad-sets/quote"), json={**body, "copyModel": "nope"}, headers=csrf
        )
        assert _error(refused, 400)["param"] == "copyModel"
        assert _set_count(client, member.path("/ad-sets")) == 0
        made = client.post(member.path("/ad-sets"), json=body, headers=csrf)
        assert made.status_code == 202, made.text
        assert "X-RateLimit-Remaining" in made.headers
        shown = client.get(member.path(f"/ad-sets/{made.json()['id']}")).json()["adSet"]
    assert shown["creditsReserved"] == credits
    assert server.balance(member.account_name) == CREDITS - credits


def test_another_accounts_quote_and_upload_are_404(server: LiveServer) -> None:
    with _signed_in(server) as member, _signed_in(server) as other:
        kit_id = _kit(member.client, member.path("/brand-kits"), member.csrf)
        elsewhere = f"/api/account/{member.account_id}"
        quoted = other.client.post(
            f"{elsewhere}/ad-sets/quote", json=_body(kit_id), headers=other.csrf
        )
        assert _error(quoted, 404)["param"] == "account_id"
        uploaded = other.client.post(
            f"{elsewhere}/uploads",
            files={"file": ("p.png", _png((64, 64)), "image/png")},
            headers=other.csrf,
        )
        assert _error(uploaded, 404)["param"] == "account_id"
        # Their own kit is not this account's either.
        quoted = other.client.post(
            other.path("/ad-sets/quote"), json=_body(kit_id), headers=other.csrf
        )
        assert _error(quoted, 404)["param"] == "brandKitId"


def test_the_account_upload_takes_a_session_with_its_csrf_token(server: LiveServer) -> None:
    with _signed_in(server) as member:
        client = member.client
        image = _png((900, 700), noise=True)
        assert len(image) > server.settings.max_json_body_bytes, "past the JSON body limit"
        without_token = client.post(
            member.path("/uploads"), files={"file": ("p.png", image, "image/png")}
        )
        assert _error(without_token, 403)["code"] == "csrf_failed"
        uploaded = client.post(
            member.path("/uploads"),
            files={"file": ("p.png", image, "image/png")},
            headers=member.csrf,
        )
        assert uploaded.status_code == 201, uploaded.text
        answer = uploaded.json()
        assert set(answer) == {"path", "publicUrl"}
        assert answer["path"].startswith(f"uploads/{member.account_id}/")
        served = httpx.get(answer["publicUrl"])
        assert served.status_code == 200
        assert served.content == image
        not_an_image = client.post(
            member.path("/uploads"),
            files={"file": ("p.png", b"not an image" * 10, "image/png")},
            headers=member.csrf,
        )
        assert _error(not_an_image, 400)["param"] == "file"


def test_an_oversized_account_upload_is_a_413_before_it_is_read(server: LiveServer) -> None:
    limit = server.settings.max_upload_body_bytes
    with _signed_in(server) as member:
        too_large = member.client.post(
            member.path("/uploads"),
            content=b"\0" * (limit + 1),
            headers={**member.csrf, "Content-Type": "image/png"},
        )
        error = _error(too_large, 413)
    assert (error["code"], error["param"]) == ("file_too_large", "file")
    assert too_large.headers["Connection"] == "close", "the body was left unread"


def _finished(client: httpx.Client, path: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ad_set: dict[str, Any] = client.get(path).json()["adSet"]
        if ad_set["status"] != "processing":
            return ad_set
        time.sleep(0.2)
    raise AssertionError(f"the ad set did not finish: {ad_set}")


def test_a_set_is_made_with_the_uploaded_product_image(server: LiveServer) -> None:
    with _signed_in(server) as member:
        client, csrf = member.client, member.csrf
        uploaded = client.post(
            member.path("/uploads"),
            files={"file": ("product.png", _png((256, 256)), "image/png")},
            headers=csrf,
        )
        assert uploaded.status_code == 201, uploaded.text
        brief = {**BRIEF, "inputImagePath": uploaded.json()["path"]}
        body = _body(_kit(client, member.path("/brand-kits"), csrf), brief=brief)
        body["imageModel"] = "flux-2-pro"  # takes an input image
        quoted = client.post(member.path("/ad-sets/quote"), json=body, headers=csrf)
        assert quoted.status_code == 200, quoted.text
        made = client.post(member.path("/ad-sets"), json=body, headers=csrf)
        assert made.status_code == 202, made.text
        ad_set = _finished(client, member.path(f"/ad-sets/{made.json()['id']}"))
        # A model that takes no input image is refused naming the image, nothing made.
        refused = client.post(
            member.path("/ad-sets"), json={**body, "imageModel": IMAGE_MODEL}, headers=csrf
        )
        assert _error(refused, 400)["param"] == "brief.inputImagePath"
    assert ad_set["status"] == "completed", ad_set
    assert ad_set["creditsReserved"] == quoted.json()["credits"]
    assert [len(v["creatives"]) for v in ad_set["variants"]] == [2]
    runtime = server.runtime
    assert runtime is not None
    jobs = [part["jobId"] for part in ad_set["parts"] if part["role"] == "visual"]
    visual = server.call(runtime.jobs.get(jobs[0], member.account_id))
    assert visual.image_spec.input_image == brief["inputImagePath"], "drawn on the image"
