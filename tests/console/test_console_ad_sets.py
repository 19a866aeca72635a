"""Brand kits and ad sets in the console, in a real browser against a real server: an owner
makes a kit (colours, font, logo), then a one-variant set over two placements on the preview
engines with a product image (uploaded on choosing it), sees its cost before submitting and
both creatives on the board; a refused set (and its quote) shows its error beside the field
the API names. The account API's ad set routes are also checked over plain HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_support import PASSWORD, Person, Watched
from PIL import Image

import creatix.layout
from support import LiveServer

pytestmark = pytest.mark.slow  # a browser per test; the PostgreSQL pass leaves them out
FONT = Path(creatix.layout.__file__).parent / "fonts" / "Roboto-Bold.ttf"


def _expect(page: Any) -> Any:
    from playwright.sync_api import expect

    return expect(page)


def _logo(tmp_path: Path) -> Path:
    target = tmp_path / "logo.png"
    Image.new("RGBA", (120, 60), (200, 30, 30, 255)).save(target)
    return target


def _product(tmp_path: Path) -> Path:
    target = tmp_path / "product.png"
    Image.new("RGB", (320, 240), (40, 110, 60)).save(target)
    return target


def _credits(text: str) -> int:
    found = re.search(r"([\d,]+) credits", text)
    assert found is not None, text
    return int(found.group(1).replace(",", ""))


def _make_kit(console: Watched, tmp_path: Path, name: str) -> None:
    page = console.page
    console.goto("/console/brand-kits")
    form = page.locator("form[aria-label='New brand kit']")
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=primary]").fill("#0a4d8c")
    form.locator("input[name=background]").fill("#fafafa")
    form.locator("select[name=font]").select_option("open-sans-bold")
    form.locator("input[name=logo]").set_input_files(str(_logo(tmp_path)))
    form.locator("input[name=toneOfVoice]").fill("warm, plain-spoken")
    form.locator("input[name=bannedWords]").fill("cheap, guaranteed")
    form.locator("input[name=defaultCta]").fill("Shop now")
    form.locator("input[name=legalLine]").fill("Terms apply.")
    form.locator("button[type=submit]").click()
    row = page.locator("tr", has_text=name)
    _expect(row).to_contain_text("open-sans-bold (bundled)")
    _expect(row.locator("img")).to_have_count(1)


def test_an_owner_makes_a_kit_then_a_set_and_sees_every_creative_on_the_board(
    console: Watched, person: Callable[..., Person], tmp_path: Path
) -> None:
    console.sign_in(person())
    _make_kit(console, tmp_path, "Northwind")
    page = console.page
    page.get_by_role("link", name="Make an ad set").click()
    page.wait_for_load_state("networkidle")
    form = page.locator("form[aria-label='New ad set']")
    _expect(form.locator("select[name=brandKitId] option:checked")).to_have_text("Northwind")
    form.locator("input[name=product]").fill("cold brew coffee")
    form.locator("input[name=audience]").fill("busy commuters")
    form.locator("input[name=offer]").fill("20% off the first box")
    for box in form.locator("input[name=placement]").all():
        box.uncheck()
    form.locator("input[value=square_feed]").check()
    form.locator("input[value=display_300x250]").check()
    form.locator("input[name=variants]").fill("1")
    form.locator("select[name=imageModel]").select_option("creatix-pro")  # takes an image
    form.locator("select[name=copyModel]").select_option("gemini-2.5-flash")
    # The product image is uploaded when chosen; the cost is quoted before submitting.
    form.locator("input[name=inputImagePath]").set_input_files(str(_product(tmp_path)))
    _expect(form.locator("#product-image-status")).to_contain_text("Uploaded product.png")
    cost = form.locator("#quote")
    _expect(cost).to_have_text(re.compile(r"^This set will reserve [\d,]+ credits\.$"))
    quoted = _credits(cost.inner_text())
    assert quoted > 0, "the copy job's most"
    form.locator("button[type=submit]").click()

    board = page.locator("#board")
    _expect(board).to_contain_text("completed", timeout=60_000)
    reserved = re.search(r"\(([\d,]+) reserved\)", board.locator("[role=status]").inner_text())
    assert reserved is not None
    assert int(reserved.group(1).replace(",", "")) == quoted, "the quote is what was reserved"
    creatives = board.locator("figure.creative")
    _expect(creatives).to_have_count(2)
    square = board.locator("figure[data-placement=square_feed] img")
    _expect(square).to_have_attribute("width", "1080")
    _expect(board.locator("figure[data-placement=display_300x250] img")).to_have_attribute(
        "height", "250"
    )
    _expect(board.locator(".variant dl")).to_contain_text("Headline")
    # Every creative has loaded as an image of its placement's size, and downloads.
    page.wait_for_function(
        "() => [...document.querySelectorAll('#board figure.creative img')]"
        ".every((img) => img.complete && img.naturalWidth > 0)"
    )
    sizes = page.evaluate(
        """() => [...document.querySelectorAll('#board figure.creative img')]
            .map((img) => [img.naturalWidth, img.naturalHeight])"""
    )
    assert sorted(sizes) == [[300, 250], [1080, 1080]]
    link = board.locator("figure[data-placement=display_300x250] a[download]")
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "creative.png"
    download.value.save_as(saved)
    with Image.open(saved) as image:
        assert image.size == (300, 250)
    console.screenshot("ad-set-board")

    # The set is listed and reopens on its board after a reload.
    set_id = page.evaluate("location.hash.slice(1)")
    console.goto(f"/console/ad-sets#{set_id}")
    _expect(page.locator("#board figure.creative")).to_have_count(2)
    _expect(page.get_by_role("link", name=re.compile("2 placements, 1 variants"))).to_have_count(1)

    # With a kit and a board, both pages still fit a phone and label every control.
    page.set_viewport_size({"width": 390, "height": 900})
    for path in (f"/console/ad-sets#{set_id}", "/console/brand-kits"):
        console.goto(path)
        _expect(page.locator("form")).not_to_have_count(0)
        _assert_fits_and_labelled(page, path)


def _assert_fits_and_labelled(page: Any, path: str) -> None:
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea, button')]
            .filter((c) => c.type !== 'hidden' && !c.hidden)
            .filter((c) => !(c.labels && c.labels.length) && !c.getAttribute('aria-label')
                && !(c.textContent || '').trim() && !c.closest('label'))
            .map((c) => c.outerHTML.slice(0, 80))"""
    )
    assert unlabelled == [], f"{path}: {unlabelled}"
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{path} is {overflow}px too wide at 390px"


def test_a_refused_set_shows_its_error_beside_the_field(
    console: Watched, person: Callable[..., Person], tmp_path: Path
) -> None:
    console.sign_in(person())
    _make_kit(console, tmp_path, "Refusals")
    page = console.page
    console.goto("/console/ad-sets")
    form = page.locator("form[aria-label='New ad set']")
    form.locator("button[type=submit]").click()  # nothing filled in: the first is named
    _expect(page.locator("#board")).to_have_count(0)
    product_error = page.locator("input[name=product] ~ .field-error")
    _expect(product_error).to_be_visible()
    form.locator("input[name=product]").fill("tea")
    form.locator("input[name=audience]").fill("students")
    form.locator("input[name=offer]").fill("two for one")
    console.expect_error("400")  # the quote's refusal, then the set's
    form.locator("input[name=customWidth]").fill("5000")
    form.locator("input[name=customHeight]").fill("100")
    # Quoted as it changes: the refusal is beside the placements before anything is sent.
    _expect(form.locator("#quote")).to_contain_text("Cannot quote")
    _expect(page.locator("#placements-error")).to_contain_text("64")
    form.locator("input[name=customWidth]").fill("600")
    form.locator("input[name=customHeight]").fill("500")
    _expect(form.locator("#quote")).to_contain_text("This set will reserve")
    _expect(page.locator("#placements-error")).to_be_hidden()
    form.locator("input[name=customWidth]").fill("5000")
    form.locator("button[type=submit]").click()
    error = page.locator("#placements-error")
    _expect(error).to_be_visible()
    _expect(product_error).to_be_hidden()
    _expect(error).to_contain_text("64")
    _expect(page.locator("#board")).to_have_count(0)


@contextmanager
def _signed_in(server: LiveServer, who: Person) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        answer = client.post("/api/session", json={"email": who.email, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        yield client


def test_the_account_api_makes_lists_and_shows_ad_sets_for_a_session(
    console_server: LiveServer, person: Callable[..., Person]
) -> None:
    who = person()
    other = person()
    with _signed_in(console_server, who) as client:
        csrf = client.get("/api/session").json()["csrf_token"]
        base = f"/api/account/{who.account_id}"
        fonts = client.get(f"{base}/fonts").json()["fonts"]
        assert "open-sans-bold" in fonts
        kit = client.post(
            f"{base}/brand-kits", json={"name": "Kit"}, headers={"X-CSRF-Token": csrf}
        ).json()
        body = {
            "brandKitId": kit["id"],
            "brief": {"product": "tea", "audience": "students", "offer": "two for one"},
            "placements": ["display_300x250"],
            "variants": 1,
            "imageModel": "creatix-flash",
            "copyModel": "gemini-2.5-flash",
        }
        without_token = client.post(f"{base}/ad-sets", json=body)
        assert without_token.status_code == 403, without_token.text
        made = client.post(f"{base}/ad-sets", json=body, headers={"X-CSRF-Token": csrf})
        assert made.status_code == 202, made.text
        set_id = made.json()["id"]
        shown = client.get(f"{base}/ad-sets/{set_id}")
        assert shown.status_code == 200
        assert shown.json()["adSet"]["brandKitId"] == kit["id"]
        listed = client.get(f"{base}/ad-sets")
        assert [s["id"] for s in listed.json()] == [set_id]
        assert listed.headers["X-Total-Count"] == "1"
        unknown = client.post(
            f"{base}/ad-sets",
            json={**body, "placements": ["billboard"]},
            headers={"X-CSRF-Token": csrf},
        )
        assert unknown.status_code == 400
        assert unknown.json()["error"]["param"] == "placements[0]"
        # Another account's ids are a 404, its sets never shown.
        assert client.get(f"/api/account/{other.account_id}/ad-sets").status_code == 404
    with _signed_in(console_server, other) as client:
        assert client.get(f"/api/account/{other.account_id}/ad-sets/{set_id}").status_code == 404


def test_a_kit_is_edited_with_an_uploaded_font_then_deleted(
    console: Watched, person: Callable[..., Person], tmp_path: Path
) -> None:
    console.sign_in(person())
    _make_kit(console, tmp_path, "Before")
    page = console.page
    page.get_by_role("button", name="Edit Before").click()
    form = page.locator("form[aria-label='Edit Before']")
    _expect(form.locator("input[name=defaultCta]")).to_have_value("Shop now")
    form.locator("input[name=name]").fill("After")
    form.locator("input[name=primary]").fill("#123456")
    form.locator("input[name=fontFile]").set_input_files(str(FONT))
    form.locator("button[type=submit]").click()
    row = page.locator("tr", has_text="After")
    _expect(row).to_contain_text("(uploaded)")
    _expect(row.get_by_role("img", name=re.compile("Primary colour #123456"))).to_have_count(1)
    _expect(page.locator("tr", has_text="Before")).to_have_count(0)

    # A file that is not a font is refused beside the font field; the kit keeps its font.
    page.get_by_role("button", name="Edit After").click()
    form = page.locator("form[aria-label='Edit After']")
    bogus = tmp_path / "bogus.ttf"
    bogus.write_bytes(b"not a font at all" * 10)
    form.locator("input[name=fontFile]").set_input_files(str(bogus))
    console.expect_error("400")
    form.locator("button[type=submit]").click()
    _expect(form.locator("input[name=fontFile] ~ .field-error")).to_be_visible()

    console.goto("/console/brand-kits")
    page.get_by_role("button", name="Delete After").click()  # the dialog is accepted
    _expect(page.locator("tr", has_text="After")).to_have_count(0)
    _expect(page.locator("table")).to_contain_text("Nothing yet.")

    # A new kit whose font is refused is made once: trying again changes it.
    form = page.locator("form[aria-label='New brand kit']")
    form.locator("input[name=name]").fill("Once")
    form.locator("input[name=fontFile]").set_input_files(str(bogus))
    form.locator("button[type=submit]").click()
    _expect(form.locator("input[name=fontFile] ~ .field-error")).to_be_visible()
    form.locator("input[name=fontFile]").set_input_files(str(FONT))
    form.locator("button[type=submit]").click()
    _expect(page.locator("tr", has_text="Once")).to_contain_text("(uploaded)")
    _expect(page.locator("tbody tr")).to_have_count(1)
