"""The content policy through a real server: refusals recorded and listed, the per-account
override, the moderation engine (a fake on loopback) on prompts, images and ad copy, outages
failing open and closed, and partial refunds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from creatix.accounts import service as accounts
from creatix.billing import service as billing
from creatix.jobs.specs import ImageSpec, Job, JobStatus
from fakes.moderation import KEY, FakeModeration
from fakes.server import Fault
from policy_admin import account_id, list_refusals, operator_key, put_policy, refusals
from support import LiveServer, make_settings

CATALOG = """\
extends: shipped
content_policy:
  default: standard
  policies:
    standard:
      blocklists: [shipped]
      moderation: {thresholds: {"*": 0.5}, on_outage: open}
    strict:
      blocklists: [shipped, ours.yaml]
      keep_prompt: true
      moderation: {thresholds: {"*": 0.5}, on_outage: closed, retry_after_seconds: 7}
    outputs-closed:
      moderation: {prompts: false, on_outage: closed}
    'off': {}
"""
TG = "/api/text_generator"


@pytest.fixture(scope="module")
def moderation() -> Iterator[FakeModeration]:
    with FakeModeration() as fake:
        yield fake


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, moderation: FakeModeration
) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("policy")
    (folder / "ours.yaml").write_text("terms:\n  competitor: [Acme Corp]\n", encoding="utf-8")
    (folder / "catalog.yaml").write_text(CATALOG, encoding="utf-8")
    settings = make_settings(
        folder / "data",
        catalog=folder / "catalog.yaml",
        moderation_base_url=f"{moderation.url}/v1",
        moderation_api_key=KEY,
    )
    live = LiveServer(settings).start()
    yield live
    live.stop()


@pytest.fixture(autouse=True)
def _fresh(moderation: FakeModeration) -> None:
    moderation.reset()


def _metric(server: LiveServer, name: str, **labels: str) -> float:
    text = httpx.get(f"{server.url}/metrics").text
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    assert wanted is not None
    return 0.0


def _set_policy(server: LiveServer, account: str, policy: str | None) -> None:
    answer = put_policy(server, account, policy)
    assert answer.status_code == 200, answer.text
    assert answer.json()["content_policy"] == policy


def test_a_blocked_prompt_is_recorded_listed_and_counted_without_its_text(
    server: LiveServer,
) -> None:
    name, secret = server.funded_account(credits=100)
    before = _metric(
        server, "creatix_policy_refusals_total", category="regulated_claim", stage="prompt"
    )
    with server.client(secret) as client:
        refused = client.post(
            "/v1/images/generations", json={"prompt": "a Miracle Cure in a bottle"}
        )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "content_policy_violation"
    assert server.balance(name) == 100
    [record] = refusals(server, name)
    assert record["account_name"] == name
    assert record["account_id"] == account_id(server, name)
    assert record["key_id"].startswith("key_")
    assert record["dialect"] == "creatix_v1"
    assert record["stage"] == "prompt"
    assert record["policy"] == "standard"
    assert record["category"] == "regulated_claim"
    assert record["source"] == "blocklist"
    assert record["matched"] == "miracle cure"
    assert record["field"] == "prompt"
    assert record["text"] is None
    assert moderation_calls_for(record) == 0
    after = _metric(
        server, "creatix_policy_refusals_total", category="regulated_claim", stage="prompt"
    )
    assert after == before + 1


def moderation_calls_for(record: dict[str, Any]) -> int:
    """A blocklist refusal is decided before the moderation engine is asked."""
    return 0 if record["source"] == "blocklist" else 1


def test_the_refusals_need_an_operator_and_page(server: LiveServer) -> None:
    name, secret = server.funded_account(credits=100)
    with server.client(secret) as client:
        for word in ("gore", "nudity", "beheading"):
            assert client.post("/v1/images/generations", json={"prompt": word}).status_code == 400
        # An account's own generation key is not an operator's.
        denied = client.get("/api/admin/policy/refusals")
        refused_change = client.put(
            f"/api/admin/accounts/{account_id(server, name)}/content-policy",
            json={"policy": "off"},
        )
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "insufficient_scope"
    assert refused_change.status_code == 403
    with server.client("wrong") as client:
        assert client.get("/api/admin/policy/refusals").status_code == 401
    named = account_id(server, name)
    page = list_refusals(server, account_id=named, limit=2, offset=0).json()
    assert page["total"] == 3
    assert [r["matched"] for r in page["data"]] == ["beheading", "nudity"]
    rest = list_refusals(server, account_id=named, limit=2, offset=2).json()
    assert [r["matched"] for r in rest["data"]] == ["gore"]
    bad = list_refusals(server, limit=0)
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "limit"
    everyone = list_refusals(server, limit=100).json()
    assert everyone["total"] >= 3


def test_an_account_override_applies_its_policy_and_keeps_the_prompt(server: LiveServer) -> None:
    name, secret = server.funded_account(credits=100)
    _other, other_secret = server.funded_account(credits=100)
    prompt = {"prompt": "a poster better than Acme Corp"}
    with server.client(secret) as client:
        assert client.post("/v1/images/generations", json=prompt).status_code == 200
        _set_policy(server, name, "strict")
        refused = client.post("/v1/images/generations", json=prompt)
    assert refused.status_code == 400
    assert "competitor" in refused.json()["error"]["message"]
    with server.client(other_secret) as client:
        assert client.post("/v1/images/generations", json=prompt).status_code == 200
    [record] = refusals(server, name)
    assert record["policy"] == "strict"
    assert record["text"] == "prompt: a poster better than Acme Corp"
    _set_policy(server, name, None)
    with server.client(secret) as client:
        assert client.post("/v1/images/generations", json=prompt).status_code == 200


def test_an_unknown_policy_is_refused_naming_the_policies(server: LiveServer) -> None:
    name, _ = server.funded_account()
    refused = put_policy(server, name, "lenient")
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["param"] == "policy"
    assert "strict" in error["message"]
    with server.client(operator_key(server)) as client:
        unknown = client.put("/api/admin/accounts/acct_none/content-policy", json={"policy": None})
        malformed = client.put(
            f"/api/admin/accounts/{account_id(server, name)}/content-policy",
            json={"policy": 3},
        )
    assert unknown.status_code == 404
    assert malformed.status_code == 400
    assert malformed.json()["error"]["param"] == "policy"


def test_the_moderation_engine_refuses_a_prompt_with_its_category_and_score(
    server: LiveServer, moderation: FakeModeration
) -> None:
    name, secret = server.funded_account(credits=100)
    with server.client(secret) as client:
        refused = client.post(
            "/v1/images/generations",
            json={"prompt": "a street scene", "negative_prompt": "FLAG:violence"},
        )
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["code"] == "content_policy_violation"
    assert error["param"] == "negative_prompt"
    assert server.balance(name) == 100
    [body] = moderation.bodies
    assert body["input"] == ["a street scene", "FLAG:violence"]
    assert moderation.calls("/v1/moderations")[0].headers["authorization"] == f"Bearer {KEY}"
    [record] = refusals(server, name)
    assert record["source"] == "moderation"
    assert record["category"] == "violence"
    assert record["score"] == pytest.approx(0.99)


def test_an_outage_fails_open_on_standard_and_counts_it(
    server: LiveServer, moderation: FakeModeration
) -> None:
    name, secret = server.funded_account(credits=100)
    before = _metric(
        server, "creatix_policy_moderation_outages_total", stage="prompt", on_outage="open"
    )
    moderation.fail("/v1/moderations", Fault(status=500), Fault(status=500), Fault(status=500))
    with server.client(secret) as client:
        made = client.post("/v1/images/generations", json={"prompt": "a calm lake"})
    assert made.status_code == 200, made.text
    after = _metric(
        server, "creatix_policy_moderation_outages_total", stage="prompt", on_outage="open"
    )
    assert after == before + 1
    assert refusals(server, name) == []


def test_an_outage_fails_closed_on_strict_with_retry_after_and_no_charge(
    server: LiveServer, moderation: FakeModeration
) -> None:
    name, secret = server.funded_account(credits=100)
    _set_policy(server, name, "strict")
    moderation.fail("/v1/moderations", *[Fault(status=503)] * 4)
    with server.client(secret) as client:
        refused = client.post("/v1/images/generations", json={"prompt": "a calm lake"})
    assert refused.status_code == 503, refused.text
    assert refused.headers["retry-after"] == "7"
    assert refused.json()["error"]["code"] == "moderation_unavailable"
    assert server.balance(name) == 100
    assert server.ledger_kinds(name) == ["grant"]


PRICED = "z-image-turbo"
"""A preview-drawn model priced per image (100 credits)."""


def _generate(server: LiveServer, secret: str, prompt: str, n: int) -> Job:
    """A job of the priced model through the job core, waited for until it ends."""
    assert server.runtime is not None
    runtime = server.runtime
    principal = server.call(accounts.authenticate(runtime.db, secret))
    spec = ImageSpec(prompt=prompt, width=512, height=512, n=n, seed=7)
    job = server.call(runtime.jobs.intake.submit_image(principal, PRICED, spec, source="platform"))
    return server.call(runtime.jobs.wait(job, 60))


def _quota_used(server: LiveServer, account: str) -> int:
    assert server.runtime is not None
    runtime = server.runtime
    overview = server.call(
        billing.overview(runtime.db, runtime.catalog, account_id(server, account))
    )
    assert overview.quota is not None
    return overview.quota.used


def _job_files(server: LiveServer, job_id: str) -> list[Path]:
    folder = server.settings.data_dir / "files" / "images"
    return [p for p in folder.rglob("*") if p.is_file() and job_id in str(p)]


def test_flagged_images_are_dropped_and_only_they_are_refunded(
    server: LiveServer, moderation: FakeModeration
) -> None:
    name, secret = server.funded_account(credits=1000)
    moderation.flag_next_images("sexual", None, "violence")
    job = _generate(server, secret, "a red car", 3)
    assert job.status is JobStatus.SUCCEEDED, job.error
    assert len(job.assets) == 1
    assert job.credits_reserved == 300
    assert job.credits_charged == 100
    assert server.balance(name) == 900
    assert _quota_used(server, name) == 1, "the dropped images' quota is given back"
    records = refusals(server, name)
    assert sorted(r["category"] for r in records) == ["sexual", "violence"]
    assert {r["stage"] for r in records} == {"output"}
    assert {r["job_id"] for r in records} == {job.id}
    assert {r["dialect"] for r in records} == {"platform"}
    assert sorted(r["field"] for r in records) == ["images[0]", "images[2]"]
    images = [b for b in moderation.bodies if isinstance(b["input"][0], dict)]
    assert len(images) == 3
    assert len(_job_files(server, job.id)) == 1


def test_every_image_flagged_fails_the_job_content_filtered_with_a_full_refund(
    server: LiveServer, moderation: FakeModeration
) -> None:
    name, secret = server.funded_account(credits=1000)
    moderation.flag_next_images("sexual", "sexual")
    job = _generate(server, secret, "a red car", 2)
    assert job.status is JobStatus.FAILED
    assert job.error is not None
    assert job.error.code == "content_filtered"
    assert job.assets == []
    assert server.balance(name) == 1000
    assert _quota_used(server, name) == 0
    assert server.ledger_kinds(name) == ["grant", "refund", "reserve"]
    assert _job_files(server, job.id) == []
    assert len(moderation.calls("/v1/moderations")) >= 2  # tried again on each attempt


def test_an_output_outage_on_a_closed_policy_retries_the_job_then_refunds(
    server: LiveServer, moderation: FakeModeration
) -> None:
    name, secret = server.funded_account(credits=1000)
    _set_policy(server, name, "outputs-closed")
    moderation.fail("/v1/moderations", *[Fault(status=500)] * 20)
    assert server.runtime is not None
    principal = server.call(accounts.authenticate(server.runtime.db, secret))
    spec = ImageSpec(prompt="a red car", width=512, height=512, n=1, seed=7)
    job = server.call(
        server.runtime.jobs.intake.submit_image(principal, PRICED, spec, source="platform")
    )
    done = server.call(server.runtime.jobs.wait(job, 60))
    assert done.status is JobStatus.FAILED
    assert done.error is not None
    assert done.error.code == "moderation_unavailable"
    assert server.balance(name) == 1000
    assert _job_files(server, job.id) == []
    assert len(moderation.calls("/v1/moderations")) >= 2  # tried again on each attempt


def _text_task(server: LiveServer, account: str, content: str) -> tuple[dict[str, str], str]:
    assert server.runtime is not None
    db = server.runtime.db
    server.call(accounts.ensure_account(db, account, "paid", "free"))
    server.call(billing.grant(db, account, 100_000, None))
    key = server.call(accounts.create_key(db, account))
    headers = {"X-API-ID": key.key_id, "X-API-KEY": key.secret}
    body = {"model_name": "gemini-2.5-flash", "messages": [{"role": "user", "content": content}]}
    created = httpx.post(f"{server.url}{TG}/", json=body, headers=headers, timeout=60)
    assert created.status_code == 201, created.text
    return headers, created.json()["id"]


def _finished_task(server: LiveServer, headers: dict[str, str], task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body: dict[str, Any] = httpx.get(
            f"{server.url}{TG}/{task_id}/", headers=headers, timeout=60
        ).json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError("the task did not finish")


def test_flagged_ad_copy_fails_the_task_with_a_refund(
    server: LiveServer, moderation: FakeModeration
) -> None:
    account = "tg-policy-flagged"
    moderation.flag_next_texts(None, "hate")  # the request passes; the answer does not
    headers, task_id = _text_task(server, account, "Write a tagline for a bakery.")
    done = _finished_task(server, headers, task_id)
    assert done["status"] == "failed", done
    assert "content" in (done["failed_reason"] or "")
    assert server.balance(account) == 100_000
    [record] = refusals(server, account)
    assert record["stage"] == "copy"
    assert record["category"] == "hate"
    assert record["dialect"] == "text_generator"
    assert len(moderation.bodies) == 2


def test_clean_ad_copy_is_answered_and_charged(
    server: LiveServer, moderation: FakeModeration
) -> None:
    account = "tg-policy-clean"
    headers, task_id = _text_task(server, account, "Write a tagline for a bakery.")
    done = _finished_task(server, headers, task_id)
    assert done["status"] == "done", done
    assert server.balance(account) < 100_000
    assert refusals(server, account) == []


def test_the_off_policy_checks_nothing(server: LiveServer, moderation: FakeModeration) -> None:
    name, secret = server.funded_account(credits=100)
    _set_policy(server, name, "off")
    with server.client(secret) as client:
        made = client.post("/v1/images/generations", json={"prompt": "gore FLAG:violence"})
    assert made.status_code == 200, made.text
    assert moderation.bodies == []
    assert refusals(server, name) == []


def test_the_routes_are_documented(server: LiveServer) -> None:
    document = httpx.get(f"{server.url}/openapi.json").json()
    listing = document["paths"]["/api/admin/policy/refusals"]["get"]
    change = document["paths"]["/api/admin/accounts/{account_id}/content-policy"]["put"]
    for operation in (listing, change):
        assert operation["security"] == [{"sessionCookie": []}, {"bearerAuth": []}]
        assert {"401", "403"} <= set(operation["responses"])
    assert "404" in change["responses"]
    assert change["requestBody"]["content"]["application/json"]["example"] == {"policy": "strict"}
