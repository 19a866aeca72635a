"""The copy job's rules: the JSON Schema an ad set's copy job is held to refuses the kit's
banned words (as whole words, any case, phrases too), and a copy model that cannot write
without them fails the copy part (refunded) and with it the set's variants."""

from __future__ import annotations

import json
import time

import pytest

from creatix.adsets.plan import CopyBudget, copy_schema, parse_copy
from creatix.jobs.structured import schema_problem
from support import LiveServer

BANNED = ["free", "no risk", "c++", "über"]
SCHEMA = copy_schema(1, CopyBudget(headline=40, body=90, cta=20), None, BANNED)


def _copy(headline: str) -> dict[str, object]:
    return {"variants": [{"headline": headline, "body": "Fresh every day.", "cta": "Shop now"}]}


@pytest.mark.parametrize(
    "headline", ["Free coffee", "It is FREE!", "No risk at all", "learn c++ now", "Über good"]
)
def test_a_banned_word_fails_the_schema(headline: str) -> None:
    problem = schema_problem(_copy(headline), SCHEMA)
    assert problem is not None
    assert "headline" in problem
    answer = json.dumps(_copy(headline))
    with pytest.raises(ValueError, match="banned"):
        parse_copy(answer, 1, BANNED)


@pytest.mark.parametrize("headline", ["Freedom tastes good", "Risky? No.", "Ubers apart"])
def test_words_that_only_contain_a_banned_one_pass(headline: str) -> None:
    assert schema_problem(_copy(headline), SCHEMA) is None


def test_budgets_and_variants_are_enforced() -> None:
    assert schema_problem(_copy("x" * 41), SCHEMA) is not None
    one = {"headline": "One", "body": "Fresh every day.", "cta": "Shop now"}
    two = {"variants": [one, one]}
    assert schema_problem(two, SCHEMA) is not None


def test_copy_that_cannot_avoid_a_banned_word_fails_and_is_refunded(server: LiveServer) -> None:
    name, secret = server.funded_account(credits=10_000)
    with server.client(secret) as client:
        kit = client.post(
            "/api/platform/brand-kits",
            json={"name": "Northwind", "bannedWords": ["coffee", "brew"], "defaultCta": "Shop"},
        ).json()
        body = {
            "brandKitId": kit["id"],
            "brief": {"product": "coffee", "audience": "coffee lovers", "offer": "coffee"},
            "placements": ["square_feed"],
            "variants": 1,
            "imageModel": "creatix-flash",
            "copyModel": "gemini-2.5-flash",
        }
        started = client.post("/api/platform/ad-sets", json=body)
        assert started.status_code == 202, started.text
        deadline = time.monotonic() + 120
        while True:
            ad_set = client.get(f"/api/platform/ad-sets/{started.json()['id']}").json()["adSet"]
            if ad_set["status"] != "processing" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    copy_part = ad_set["parts"][0]
    assert copy_part["status"] == "failed"
    assert copy_part["creditsCharged"] == 0
    assert ad_set["status"] == "failed"
    assert ad_set["variants"][0]["creatives"] == []
    assert "copy job failed" in ad_set["variants"][0]["error"]
    assert server.balance(name) == 10_000 - ad_set["creditsCharged"]


def test_fixed_copy_the_kits_font_cannot_draw_is_400_naming_the_characters(
    server: LiveServer,
) -> None:
    name, secret = server.funded_account(credits=10_000)
    with server.client(secret) as client:
        kit = client.post("/api/platform/brand-kits", json={"name": "Northwind"}).json()
        body = {
            "brandKitId": kit["id"],
            "brief": {"product": "tea", "audience": "everyone", "offer": "new", "cta": "立即购买"},
            "placements": ["square_feed"],
            "variants": 1,
            "imageModel": "creatix-flash",
            "copyModel": "gemini-2.5-flash",
        }
        refused = client.post("/api/platform/ad-sets", json=body)
        assert refused.status_code == 400, refused.text
        error = refused.json()["error"]
        legal = client.patch(
            f"/api/platform/brand-kits/{kit['id']}", json={"legalLine": "以条款为准"}
        )
        assert legal.status_code == 200, legal.text
        body["brief"] = {"product": "tea", "audience": "everyone", "offer": "new"}
        kit_refused = client.post("/api/platform/ad-sets", json=body)
    assert error["param"] == "brief.cta"
    assert error["code"] == "font_missing_glyphs"
    assert "立即购买" in error["message"]
    assert "open-sans-bold" in error["message"]
    assert kit_refused.status_code == 400, kit_refused.text
    assert kit_refused.json()["error"]["param"] == "brandKitId"
    assert server.balance(name) == 10_000
