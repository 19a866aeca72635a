"""The console in a real browser (Chromium via Playwright) against a real server.

Every test fails if a page logged a console error it did not provoke or requested anything
from another origin (``conftest.console``).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from browser_support import PASSWORD, Person, Watched

from creatix.console.pages import PAGES
from support import LiveServer

pytestmark = pytest.mark.slow  # a browser per test; the PostgreSQL pass leaves them out
PRICED_MODEL = "z-image-turbo"  # 100 credits an image, drawn by the preview engine


def _expect(page: Any) -> Any:
    from playwright.sync_api import expect

    return expect(page)


def test_sign_in_shows_a_wrong_password_inline_then_lands_on_the_page_asked_for(
    console: Watched, person: Callable[..., Person]
) -> None:
    who = person()
    console.expect_error("status of 401")
    console.goto("/console/usage")
    assert "/console/sign-in?next=%2Fconsole%2Fusage" in console.page.url
    console.page.fill("#email", who.email)
    console.page.fill("#password", "not the password at all")
    console.page.click("button[type=submit]")
    _expect(console.page.locator(".form-error")).to_contain_text("password")
    console.page.fill("#password", PASSWORD)
    console.page.click("button[type=submit]")
    console.page.wait_for_url(f"{console.origin}/console/usage")
    _expect(console.page.locator("h1")).to_have_text("Usage")
    console.page.click("#sign-out")
    console.page.wait_for_url(re.compile(r".*/console/sign-in"))


def test_a_lost_session_returns_to_sign_in_and_then_to_the_page(
    console: Watched, person: Callable[..., Person]
) -> None:
    who = person()
    console.sign_in(who, "/console/keys")
    console.page.context.clear_cookies()
    console.expect_error("status of 401")
    console.page.click("text=Create key")
    console.page.wait_for_url(re.compile(r".*/console/sign-in\?next=%2Fconsole%2Fkeys"))
    console.page.fill("#email", who.email)
    console.page.fill("#password", PASSWORD)
    console.page.click("button[type=submit]")
    console.page.wait_for_url(f"{console.origin}/console/keys")


def _run(snippet: str) -> subprocess.CompletedProcess[str]:
    """A snippet copied from the page, run as a person would paste it into a shell."""
    return subprocess.run(
        ["bash", "-c", snippet], check=False, capture_output=True, text=True, timeout=60
    )


def _create_key(console: Watched, name: str) -> tuple[str, str]:
    console.goto("/console/keys")
    console.page.fill("input[name=name]", name)
    console.page.click("text=Create key")
    secret = console.page.locator("#new-key-secret").inner_text()
    key_id = console.page.locator("#new-key-id").inner_text()
    assert secret.startswith("sk_live_")
    return secret, key_id


def test_a_key_made_in_the_console_generates_with_its_snippet_until_revoked(
    console: Watched, person: Callable[..., Person]
) -> None:
    console.sign_in(person())
    secret, key_id = _create_key(console, "website backend")
    snippet = console.page.locator(
        'pre[data-dialect^="Creatix v1"][data-language="curl"]'
    ).inner_text()
    assert secret in snippet
    assert console.origin in snippet
    made = _run(snippet)
    assert '"url"' in made.stdout or '"b64_json"' in made.stdout, made.stdout + made.stderr
    creatify = console.page.locator(
        'pre[data-dialect="Text generator"][data-language="curl"]'
    ).text_content()
    assert key_id in creatify
    console.screenshot("keys")

    console.goto("/console/keys")
    row = console.page.locator("tr", has_text=key_id)
    _expect(row.locator("td").nth(6)).not_to_have_text("—")  # last used: just now
    row.get_by_role("button", name=re.compile("Revoke")).click()
    _expect(console.page.locator("tr", has_text=key_id)).to_contain_text("revoked")
    refused = _run(snippet)
    assert "revoked" in refused.stdout, refused.stdout


def test_playground_image_lands_in_the_gallery_with_its_cost_in_usage(
    console: Watched, person: Callable[..., Person]
) -> None:
    console.sign_in(person())
    console.goto("/console/playground")
    page = console.page
    page.select_option("select[name=model]", PRICED_MODEL)
    page.fill("textarea[name=prompt]", "A red sneaker on a white table")
    page.select_option("select[name=aspect_ratio]", "16:9")
    page.fill("input[name=n]", "2")
    _expect(page.locator("#quote")).to_have_text("1344 × 768 px · 200 credits")
    page.click("button[type=submit]")
    _expect(page.locator("#results img")).to_have_count(2, timeout=30_000)
    _expect(page.locator("#progress")).to_contain_text("Done")
    console.screenshot("playground")

    console.goto("/console/gallery")
    tile = page.locator("a.tile", has_text="A red sneaker").first
    tile.click()
    _expect(page.locator("#detail")).to_contain_text("200 credits")
    _expect(page.locator("#detail")).to_contain_text("1344 × 768")
    _expect(page.locator("#detail img")).to_have_count(2)
    console.screenshot("gallery-detail")
    console.goto("/console/gallery")
    console.screenshot("gallery")

    console.goto("/console/usage")
    _expect(page.locator("table", has_text=PRICED_MODEL)).to_contain_text("200")
    console.screenshot("usage")
    console.goto("/console/")
    _expect(page.locator(".stats")).to_contain_text("4,800 credits")
    console.screenshot("overview")


def test_an_image_animates_to_a_video_that_plays(
    console: Watched, person: Callable[..., Person]
) -> None:
    console.sign_in(person())
    page = console.page
    console.goto("/console/playground")
    page.fill("textarea[name=prompt]", "A bottle of cold brew on ice")
    page.click("button[type=submit]")
    _expect(page.locator("#results img")).to_have_count(1, timeout=30_000)
    console.goto("/console/gallery")
    page.locator("a.tile", has_text="cold brew").first.click()
    page.click("text=Animate")
    page.wait_for_url(re.compile(r".*/console/playground\?tab=video"))
    _expect(page.locator("#quote")).to_contain_text("credits")
    page.click("button[type=submit]")
    video = page.locator("#results video")
    _expect(video).to_have_count(1, timeout=60_000)
    played = video.evaluate(
        """async (v) => {
            v.muted = true;
            await v.play();
            // Until the playhead moves (software decoding on a busy machine may take a while).
            const started = Date.now();
            while (v.currentTime === 0 && !v.error && Date.now() - started < 10000) {
                await new Promise((r) => setTimeout(r, 50));
            }
            return {time: v.currentTime, width: v.videoWidth, error: v.error && v.error.code};
        }"""
    )
    assert played["error"] is None
    assert played["width"] > 0
    assert played["time"] > 0


def test_a_gallery_image_becomes_the_input_of_a_new_one(
    console: Watched, person: Callable[..., Person]
) -> None:
    console.sign_in(person())
    page = console.page
    console.goto("/console/playground")
    page.fill("textarea[name=prompt]", "A teal backpack")
    page.click("button[type=submit]")
    _expect(page.locator("#results img")).to_have_count(1, timeout=30_000)
    console.goto("/console/gallery")
    page.locator("a.tile", has_text="teal backpack").first.click()
    page.click("text=Use as input image")
    page.wait_for_url(re.compile(r".*/console/playground\?input_image="))
    _expect(page.locator("input[name=input_image]")).not_to_have_value("")
    page.fill("textarea[name=prompt]", "The same backpack, in orange")
    page.click("button[type=submit]")
    _expect(page.locator("#results img")).to_have_count(1, timeout=30_000)
    console.goto("/console/gallery")
    page.locator("a.tile", has_text="in orange").first.click()
    _expect(page.locator("#detail")).to_contain_text("Input image")


def test_a_changed_password_is_the_one_that_signs_in(
    console: Watched, person: Callable[..., Person]
) -> None:
    who = person()
    console.sign_in(who, "/console/settings")
    page = console.page
    console.expect_error("status of 400")
    page.fill("input[name=current_password]", PASSWORD)
    page.fill("input[name=new_password]", "short")
    page.click("text=Change password >> nth=-1")
    _expect(page.locator("input[name=new_password]")).to_have_attribute("aria-invalid", "true")
    page.fill("input[name=current_password]", PASSWORD)
    page.fill("input[name=new_password]", "violet otters juggle copper lanterns")
    page.click("text=Change password >> nth=-1")
    _expect(page.locator("#password-done")).to_be_visible()
    page.click("#sign-out")
    page.wait_for_url(re.compile(r".*/console/sign-in"))
    page.fill("#email", who.email)
    page.fill("#password", "violet otters juggle copper lanterns")
    page.click("button[type=submit]")
    page.wait_for_url(f"{console.origin}/console/")


def test_ad_copy_with_a_schema_is_rendered_as_json(
    console: Watched, person: Callable[..., Person]
) -> None:
    console.sign_in(person())
    page = console.page
    console.goto("/console/playground?tab=text")
    page.fill("textarea[name=content]", "Three headlines for a cold brew subscription")
    page.fill(
        "textarea[name=response_schema]",
        '{"type": "object", "properties": {"headlines": {"type": "array", '
        '"items": {"type": "string"}}}, "required": ["headlines"]}',
    )
    page.click("button[type=submit]")
    _expect(page.locator("#results")).to_contain_text('"headlines"', timeout=30_000)


def test_bad_input_is_shown_beside_its_field(
    console: Watched, person: Callable[..., Person]
) -> None:
    console.sign_in(person())
    page = console.page
    console.expect_error("status of 400")
    console.goto("/console/playground")
    page.fill("textarea[name=prompt]", "")
    page.click("button[type=submit]")
    prompt = page.locator("textarea[name=prompt]")
    _expect(prompt).to_have_attribute("aria-invalid", "true")
    error_id = prompt.get_attribute("id")
    _expect(page.locator(f"#{error_id}-error")).to_be_visible()
    console.goto("/console/playground?tab=text")
    page.fill("textarea[name=content]", "hello")
    page.fill("textarea[name=response_schema]", "{not json")
    page.click("button[type=submit]")
    _expect(page.locator("textarea[name=response_schema]")).to_have_attribute(
        "aria-invalid", "true"
    )


def test_a_member_cannot_reach_operator_pages(
    console: Watched, person: Callable[..., Person]
) -> None:
    console.sign_in(person(role="member"))
    page = console.page
    _expect(page.locator("nav")).not_to_contain_text("Accounts")
    console.expect_error("status of 403")
    console.goto("/console/admin/accounts")
    _expect(page.locator("h1")).to_have_text("Operators only")
    status = page.evaluate("fetch('/api/admin/accounts').then((r) => r.status)")
    assert status == 403


def test_an_operator_sees_balances_and_the_catalogs_plans(
    console: Watched, person: Callable[..., Person]
) -> None:
    funded = person(credits=1234)
    console.sign_in(person(operator=True), "/console/admin/accounts")
    page = console.page
    row = page.locator("tr", has_text=funded.account_name or "")
    _expect(row).to_contain_text("1,234")
    offered = page.locator("#plans option").evaluate_all("(os) => os.map((o) => o.value)")
    assert offered == ["free", "paid", "unlimited"]
    row.get_by_role("button", name=f"Manage {funded.account_name}").click()
    page.get_by_label("Credits", exact=True).fill("766")
    page.get_by_role("button", name=f"Grant credits to {funded.account_name}").click()
    _expect(page.locator("#manage")).to_contain_text("Balance now 2,000 credits")


def test_a_state_change_without_the_csrf_token_is_refused(
    console: Watched, person: Callable[..., Person], console_server: LiveServer
) -> None:
    who = person()
    console.sign_in(who)
    console.expect_error("status of 403")
    answer = console.page.evaluate(
        """(account) => fetch(`/api/account/${account}/keys`, {
            method: 'POST', headers: {'Content-Type': 'application/json'},
            body: JSON.stringify({name: 'forged'}),
        }).then(async (r) => ({status: r.status, body: await r.json()}))""",
        who.account_id,
    )
    assert answer["status"] == 403
    assert answer["body"]["error"]["code"] == "csrf_failed"
    console.goto("/console/keys")
    _expect(console.page.locator("table")).not_to_contain_text("forged")


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_loads_cleanly_is_labelled_and_fits(
    console: Watched, person: Callable[..., Person], width: int
) -> None:
    console.page.set_viewport_size({"width": width, "height": 900})
    console.sign_in(person(operator=True))
    for page in PAGES:
        console.goto(f"/console/{page.path}")
        _expect(console.page.locator("#view")).not_to_contain_text("Loading…")
        assert console.page.locator(".notice.bad").count() == 0, page.path
        unlabelled = console.page.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea, button')]
                .filter((c) => c.type !== 'hidden' && !c.hidden)
                .filter((c) => !(c.labels && c.labels.length) && !c.getAttribute('aria-label')
                    && !(c.textContent || '').trim() && !c.closest('label'))
                .map((c) => c.outerHTML.slice(0, 80))"""
        )
        assert unlabelled == [], f"{page.path}: {unlabelled}"
        overflow = console.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{page.path} is {overflow}px too wide at {width}px"
        if width == 1280 and page.path.startswith("admin/"):
            console.screenshot(page.script)


def test_the_sign_in_page_answers_to_a_keyboard(
    console: Watched, person: Callable[..., Person]
) -> None:
    who = person()
    console.goto("/console/sign-in")
    console.screenshot("sign-in")
    page = console.page
    page.keyboard.press("Tab")
    _expect(page.locator(".skip")).to_be_focused()
    page.keyboard.press("Tab")
    _expect(page.locator("#email")).to_be_focused()
    page.keyboard.type(who.email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{console.origin}/console/")
