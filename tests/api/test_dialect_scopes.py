"""Each dialect sees only its own jobs, and its list endpoints page within 64 bits.

One account makes a job through every dialect (a platform generation and video, an asset
generator task, a text generator task, an Artnex and a Creatix v1 generation); then every
GET and DELETE of every dialect is tried with the ids of the others: each is a 404 in that
dialect's envelope, and the job it named is left as it was. The list endpoints take any
offset (or page) up to 2**63 - 1 and answer an empty page past the end; beyond that, or
negative, or not a number, the parameter is a 400 in the dialect's envelope naming it. The
module runs on PostgreSQL too with ``CREATIX_TEST_BACKEND=postgresql``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from creatix.accounts import service as accounts
from creatix.billing import service as billing
from creatix.jobs.models import JobRow
from support import LiveServer

PLATFORM = "/api/platform"
ASSETS = "/api/asset_generator"
TEXTS = "/api/text_generator"
TOO_BIG = [str(2**63), str(2**64), "9" * 40, "9" * 5000]
"""Offsets and pages no 64-bit integer holds."""
LARGEST = 2**63 - 1


@dataclass(frozen=True)
class Account:
    name: str
    id: str
    bearer: httpx.Client
    api_id: httpx.Client
    """The same key as X-API-ID and X-API-KEY, for the asset and text generators."""


@dataclass(frozen=True)
class Made:
    """The id of one job of each dialect (and kind), all of one account."""

    generation: str
    video: str
    asset_task: str
    text_task: str
    artnex: str
    creatix_v1: str


@pytest.fixture(scope="module")
def account(server: LiveServer) -> Iterator[Account]:
    assert server.runtime is not None
    db = server.runtime.db
    name = f"scopes-{uuid.uuid4().hex[:10]}"
    account_id = server.call(accounts.ensure_account(db, name, "paid", "free")).id
    server.call(billing.grant(db, name, 100_000, None))
    key = server.call(accounts.create_key(db, name))
    headers = {"X-API-ID": key.key_id, "X-API-KEY": key.secret}
    with (
        server.client(key.secret) as bearer,
        httpx.Client(base_url=server.url, headers=headers, timeout=60) as api_id,
    ):
        yield Account(name, account_id, bearer, api_id)


def _created(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def _completed_generation(client: httpx.Client) -> str:
    body = {"prompt": "a red sneaker", "modelId": "creatix-flash", "aspectRatio": "16:9"}
    generation_id = str(_created(client.post(f"{PLATFORM}/generate", json=body), 202)["id"])
    deadline = time.monotonic() + 60
    while True:
        shown = client.get(f"{PLATFORM}/generations/{generation_id}").json()["generation"]
        if shown["status"] != "processing":
            assert shown["status"] == "completed", shown
            return generation_id
        assert time.monotonic() < deadline, "the generation did not complete"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def made(server: LiveServer, account: Account) -> Made:
    bearer, api_id = account.bearer, account.api_id
    generation = _completed_generation(bearer)
    video = _created(
        bearer.post(
            f"{PLATFORM}/videos",
            json={
                "sourceGenerationId": generation,
                "prompt": "a slow orbit",
                "modelId": "kling-v2.5-turbo",
                "durationSeconds": 3,
            },
        ),
        202,
    )["id"]
    asset_task = _created(
        api_id.post(
            f"{ASSETS}/", json={"model_name": "creatix-flash", "input_params": {"prompt": "a cup"}}
        )
    )["id"]
    text_task = _created(
        api_id.post(
            f"{TEXTS}/",
            json={
                "model_name": "gemini-2.5-flash",
                "messages": [{"role": "user", "content": "A tagline for a cafe."}],
            },
        ),
        201,
    )["id"]
    artnex_body = {"prompt": "a lighthouse", "model": "creatix-flash"}
    artnex = _created(bearer.post("/v1/generate", json=artnex_body))["request_id"]
    creatix_v1 = bearer.post("/v1/images/generations", json={"prompt": "a teapot"})
    assert creatix_v1.status_code == 200, creatix_v1.text
    # Settled, so that the account's credits hold still while the tests compare them.
    _wait_until_all_ended(server, account.id)
    return Made(
        generation=generation,
        video=str(video),
        asset_task=str(asset_task),
        text_task=str(text_task),
        artnex=str(artnex),
        creatix_v1=creatix_v1.headers["X-Creatix-Job-Id"],
    )


def _wait_until_all_ended(server: LiveServer, account_id: str) -> None:
    assert server.runtime is not None
    unfinished = (
        select(func.count())
        .select_from(JobRow)
        .where(JobRow.account_id == account_id, JobRow.status.in_(["queued", "running"]))
    )
    deadline = time.monotonic() + 60
    while server.call(server.runtime.db.read(lambda s: s.execute(unfinished).scalar_one())):
        assert time.monotonic() < deadline, "the account's jobs did not end"
        time.sleep(0.05)


def _platform_404(response: httpx.Response, noun: str, job_id: str) -> None:
    assert response.status_code == 404, response.text
    assert response.json() == {
        "error": {"code": "not_found", "message": f"No {noun} found with id '{job_id}'."}
    }


def _creatify_404(response: httpx.Response, job_id: str) -> None:
    assert response.status_code == 404, response.text
    assert response.json() == {
        "error": "not_found",
        "detail": f"No task found with id '{job_id}'.",
        "field": "id",
    }


FOREIGN_TO = {
    "generation": ["video", "asset_task", "text_task", "artnex", "creatix_v1"],
    "video": ["generation", "asset_task", "text_task", "artnex", "creatix_v1"],
    "asset_task": ["generation", "video", "text_task", "artnex", "creatix_v1"],
    "text_task": ["generation", "video", "asset_task", "artnex", "creatix_v1"],
}


def _owned(account: Account, made: Made) -> None:
    """Every job is still there, as its own dialect shows it."""
    bearer, api_id = account.bearer, account.api_id
    assert bearer.get(f"{PLATFORM}/generations/{made.generation}").status_code == 200
    assert bearer.get(f"{PLATFORM}/videos/{made.video}").status_code == 200
    assert api_id.get(f"{ASSETS}/{made.asset_task}/").status_code == 200
    assert api_id.get(f"{TEXTS}/{made.text_task}/").status_code == 200


@pytest.mark.parametrize("other", FOREIGN_TO["generation"])
def test_a_platform_generation_is_only_a_platform_image_job(
    account: Account, made: Made, other: str
) -> None:
    job_id = getattr(made, other)
    path = f"{PLATFORM}/generations/{job_id}"
    _platform_404(account.bearer.get(path), "generation", job_id)
    _platform_404(account.bearer.delete(path), "generation", job_id)
    _owned(account, made)  # the DELETE touched nothing


@pytest.mark.parametrize("other", FOREIGN_TO["video"])
def test_a_platform_video_is_only_a_platform_video_job(
    account: Account, made: Made, other: str
) -> None:
    job_id = getattr(made, other)
    _platform_404(account.bearer.get(f"{PLATFORM}/videos/{job_id}"), "video", job_id)


@pytest.mark.parametrize("other", ["asset_task", "artnex", "creatix_v1"])
def test_a_video_animates_only_a_platform_generation(
    account: Account, made: Made, other: str
) -> None:
    """The source of a /videos request is looked up as a generation: another API's image
    job is not one, and nothing is queued or charged."""
    before = account.bearer.get(f"{PLATFORM}/credits").json()
    response = account.bearer.post(
        f"{PLATFORM}/videos",
        json={
            "sourceGenerationId": getattr(made, other),
            "prompt": "a slow orbit",
            "modelId": "kling-v2.5-turbo",
            "durationSeconds": 3,
        },
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("source_not_found", "sourceGenerationId")
    assert account.bearer.get(f"{PLATFORM}/credits").json() == before
    assert [v["id"] for v in account.bearer.get(f"{PLATFORM}/videos").json()] == [made.video]


@pytest.mark.parametrize("other", FOREIGN_TO["asset_task"])
def test_an_asset_generator_task_is_only_its_own_image_or_video_job(
    account: Account, made: Made, other: str
) -> None:
    job_id = getattr(made, other)
    _creatify_404(account.api_id.get(f"{ASSETS}/{job_id}/"), job_id)


@pytest.mark.parametrize("other", FOREIGN_TO["text_task"])
def test_a_text_generator_task_is_only_its_own_text_job(
    account: Account, made: Made, other: str
) -> None:
    job_id = getattr(made, other)
    _creatify_404(account.api_id.get(f"{TEXTS}/{job_id}/"), job_id)


def test_each_list_holds_only_its_own_dialects_jobs(account: Account, made: Made) -> None:
    generations = account.bearer.get(f"{PLATFORM}/generations").json()
    assert [g["id"] for g in generations] == [made.generation]
    videos = account.bearer.get(f"{PLATFORM}/videos").json()
    assert [v["id"] for v in videos] == [made.video]
    texts = account.api_id.get(f"{TEXTS}/").json()
    assert texts["count"] == 1
    assert [t["id"] for t in texts["results"]] == [made.text_task]


# -- paging ----------------------------------------------------------------------------------

PLATFORM_LISTS = [f"{PLATFORM}/generations", f"{PLATFORM}/videos"]


@pytest.mark.parametrize("path", PLATFORM_LISTS)
@pytest.mark.parametrize("offset", [*TOO_BIG, "-1", f"-{2**63}", "x", "1e3", "1.5", ""])
def test_a_platform_offset_out_of_range_is_a_400_naming_it(
    account: Account, made: Made, path: str, offset: str
) -> None:
    response = account.bearer.get(path, params={"offset": offset})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_value", "offset")


@pytest.mark.parametrize("path", PLATFORM_LISTS)
@pytest.mark.parametrize("offset", [1, 10**9, 2**62, LARGEST])
def test_a_platform_offset_past_the_end_is_an_empty_page(
    account: Account, made: Made, path: str, offset: int
) -> None:
    response = account.bearer.get(path, params={"offset": offset, "limit": 100})
    assert response.status_code == 200, response.text
    assert response.json() == []
    assert response.headers["X-Total-Count"] == "1"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        *[({"page": page}, "page") for page in TOO_BIG],
        ({"page": "-1"}, "page"),
        ({"page": "0"}, "page"),
        ({"page": "x"}, "page"),
        ({"page": "1e3"}, "page"),
        ({"limit": str(2**64)}, "limit"),
        ({"limit": "-1"}, "limit"),
    ],
)
def test_a_text_page_out_of_range_is_a_400_naming_it(
    account: Account, made: Made, params: dict[str, str], field: str
) -> None:
    response = account.api_id.get(f"{TEXTS}/", params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["error"], body["field"]) == ("invalid_value", field)
    assert list(body["fields"]) == [field]


@pytest.mark.parametrize("page", [2, 10**9, 2**62, LARGEST])
@pytest.mark.parametrize("limit", [1, 100])
def test_a_text_page_past_the_end_is_empty(
    account: Account, made: Made, page: int, limit: int
) -> None:
    """Pages whose offset ((page - 1) × limit) is past 2**63 - 1 are empty too."""
    response = account.api_id.get(f"{TEXTS}/", params={"page": page, "limit": limit})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["count"], body["results"], body["next"]) == (1, [], None)
    assert body["previous"].endswith(f"{TEXTS}/?limit={limit}&page=1")  # the last page
