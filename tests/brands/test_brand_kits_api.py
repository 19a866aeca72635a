"""Brand kits through the real app: the platform dialect and the account API, files checked
by the layout package (in worker processes with a budget: a logo that takes too long to draw
is refused while the server goes on answering), another account's kit a 404, bad input a 400
naming the field."""

from __future__ import annotations

import io
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import Any

import httpx
import pytest
from PIL import Image

from creatix.accounts import service as accounts_service
from creatix.brands import file_checks
from creatix.kit.processes import ProcessRunner
from support import LiveServer

KITS = "/api/platform/brand-kits"
KIT = {
    "name": "Northwind",
    "colors": {
        "primary": "#0A4D8C",
        "secondary": "#f2cc60",
        "background": "#ffffff",
        "text": "#111111",
    },
    "toneOfVoice": "warm, plain-spoken",
    "bannedWords": ["cheap", "guaranteed"],
    "defaultCta": "Shop now",
    "legalLine": "Terms apply.",
}
SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40">'
    b'<rect width="120" height="40" fill="#0a4d8c"/></svg>'
)
SCRIPTED_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(1)</script></svg>"
)


def png_logo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (200, 80), (10, 77, 140, 255)).save(buffer, "PNG")
    return buffer.getvalue()


def bundled_font_file() -> bytes:
    """A real TrueType file (one of the layout package's own) to upload."""
    return (resources.files("creatix.layout") / "fonts" / "LiberationSerif-Bold.ttf").read_bytes()


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def _created(client: httpx.Client, **changes: Any) -> dict[str, Any]:
    response = client.post(KITS, json={**KIT, **changes})
    assert response.status_code == 201, response.text
    kit: dict[str, Any] = response.json()
    return kit


def test_create_list_get_update_delete(server: LiveServer) -> None:
    with server.client(server.key()) as client:
        kit = _created(client)
        assert kit["colors"]["primary"] == "#0a4d8c", "colours are stored lower case"
        assert kit["font"] == {"name": "open-sans-bold", "source": "bundled"}
        assert kit["logo"] is None
        assert kit["bannedWords"] == ["cheap", "guaranteed"]
        listed = client.get(KITS).json()["brandKits"]
        assert [k["id"] for k in listed] == [kit["id"]]
        changed = client.patch(
            f"{KITS}/{kit['id']}", json={"name": "Northwind Trading", "legalLine": None}
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["name"] == "Northwind Trading"
        assert changed.json()["legalLine"] is None
        assert changed.json()["defaultCta"] == "Shop now", "fields not sent stay"
        assert client.get(f"{KITS}/{kit['id']}").json()["name"] == "Northwind Trading"
        assert client.delete(f"{KITS}/{kit['id']}").json() == {"deleted": True}
        _error(client.get(f"{KITS}/{kit['id']}"), 404)


def test_logo_png_and_svg_are_stored_and_served(server: LiveServer) -> None:
    with server.client(server.key()) as client:
        kit = _created(client)
        png = client.put(
            f"{KITS}/{kit['id']}/logo",
            content=png_logo(),
            headers={"Content-Type": "image/png"},
        )
        assert png.status_code == 200, png.text
        logo = png.json()["logo"]
        assert logo["mimeType"] == "image/png"
        served = httpx.get(logo["url"])
        assert served.status_code == 200
        assert served.content == png_logo()
        svg = client.put(f"{KITS}/{kit['id']}/logo", files={"file": ("logo.svg", SVG)})
        assert svg.status_code == 200, svg.text
        assert svg.json()["logo"]["mimeType"] == "image/svg+xml"
        assert httpx.get(logo["url"]).status_code == 404, "the replaced logo is deleted"


def test_uploaded_font_replaces_the_bundled_one(server: LiveServer) -> None:
    with server.client(server.key()) as client:
        kit = _created(client)
        response = client.put(
            f"{KITS}/{kit['id']}/font",
            content=bundled_font_file(),
            headers={"Content-Type": "font/ttf"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["font"]["source"] == "uploaded"
        back = client.patch(f"{KITS}/{kit['id']}", json={"font": "open-sans-bold"}).json()
        assert back["font"] == {"name": "open-sans-bold", "source": "bundled"}


def test_bad_input_is_400_naming_the_field(server: LiveServer) -> None:
    with server.client(server.key()) as client:
        bad_color = client.post(KITS, json={**KIT, "colors": {"primary": "blue"}})
        assert _error(bad_color, 400)["param"] == "colors.primary"
        assert _error(client.post(KITS, json={"colors": KIT["colors"]}), 400)["param"] == "name"
        unknown_font = client.post(KITS, json={**KIT, "font": "comic-sans"})
        assert _error(unknown_font, 400)["param"] == "font"
        assert "open-sans-bold" in _error(unknown_font, 400)["message"]
        blank_word = client.post(KITS, json={**KIT, "bannedWords": ["ok", " "]})
        assert _error(blank_word, 400)["param"] == "bannedWords[1]"
        kit = _created(client)
        not_font = client.put(
            f"{KITS}/{kit['id']}/font",
            content=b"this is not a font at all" * 10,
            headers={"Content-Type": "font/ttf"},
        )
        assert _error(not_font, 400)["param"] == "font"
        not_image = client.put(
            f"{KITS}/{kit['id']}/logo",
            content=b"GIF89a not really",
            headers={"Content-Type": "image/png"},
        )
        assert _error(not_image, 400)["param"] == "logo"
        scripted = client.put(
            f"{KITS}/{kit['id']}/logo",
            content=SCRIPTED_SVG,
            headers={"Content-Type": "image/svg+xml"},
        )
        assert _error(scripted, 400)["param"] == "logo"
        huge = client.put(
            f"{KITS}/{kit['id']}/logo",
            content=b"\x89PNG\r\n\x1a\n" + b"0" * (600 * 1024),
            headers={"Content-Type": "image/png"},
        )
        assert _error(huge, 413)["param"] == "logo"
        assert client.get(f"{KITS}/{kit['id']}").json()["logo"] is None, "nothing was stored"


def test_another_accounts_kit_is_404_everywhere(server: LiveServer) -> None:
    with server.client(server.key()) as owner:
        kit = _created(owner)
    with server.client(server.key()) as other:
        path = f"{KITS}/{kit['id']}"
        _error(other.get(path), 404)
        _error(other.patch(path, json={"name": "mine"}), 404)
        _error(
            other.put(f"{path}/logo", content=SVG, headers={"Content-Type": "image/svg+xml"}), 404
        )
        _error(other.delete(path), 404)
        assert other.get(KITS).json()["brandKits"] == []
    with server.client(server.key()) as owner_again:
        _error(owner_again.get(path), 404)


def test_account_api_manages_the_accounts_kits(server: LiveServer) -> None:
    assert server.runtime is not None
    db = server.runtime.db
    name = f"acct-{uuid.uuid4().hex[:8]}"
    account = server.call(accounts_service.ensure_account(db, name, "paid", "free"))
    manage = server.call(accounts_service.create_account_key(db, account.id, scopes=("manage",)))
    other = server.call(accounts_service.ensure_account(db, name + "x", "paid", "free"))
    base = f"/api/account/{account.id}/brand-kits"
    with server.client(manage.secret) as client:
        created = client.post(base, json=KIT)
        assert created.status_code == 201, created.text
        kit = created.json()
        assert [k["id"] for k in client.get(base).json()["brandKits"]] == [kit["id"]]
        logo = client.put(
            f"{base}/{kit['id']}/logo", content=SVG, headers={"Content-Type": "image/svg+xml"}
        )
        assert logo.status_code == 200, logo.text
        _error(client.get(f"/api/account/{other.id}/brand-kits"), 404)
        assert client.delete(f"{base}/{kit['id']}").status_code == 200


def slow_svg(shapes: int) -> bytes:
    """A small, valid SVG that takes resvg long to draw: blurred shapes over the whole
    canvas (400 of them, 32 KB, took 47 s here, holding the GIL throughout)."""
    circles = "".join(
        f'<circle cx="{i * 37 % 1024}" cy="{i * 91 % 1024}" r="300" fill="#336699" '
        'opacity="0.5" filter="url(#b)"/>'
        for i in range(shapes)
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="1024" height="1024">'
        '<defs><filter id="b"><feGaussianBlur stdDeviation="40"/></filter></defs>'
        f"{circles}</svg>"
    ).encode()


def test_a_logo_that_takes_too_long_to_draw_is_refused_without_stalling_the_server(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    budget = 1.0
    runner = ProcessRunner(workers=1, budget_seconds=budget, preload=[file_checks.__name__])
    monkeypatch.setattr(file_checks, "runner", runner)
    latencies: list[float] = []
    with server.client(server.key()) as client, ThreadPoolExecutor(1) as pool:
        kit = _created(client)
        started = time.monotonic()
        upload = pool.submit(
            client.put, f"{KITS}/{kit['id']}/logo", files={"file": ("logo.svg", slow_svg(400))}
        )
        while not upload.done():
            asked = time.monotonic()
            assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
            latencies.append(time.monotonic() - asked)
            time.sleep(0.05)
        refused = upload.result()
        took = time.monotonic() - started
        error = _error(refused, 400)
        assert error["param"] == "logo"
        assert f"took longer than {budget:g} s" in error["message"]
        assert client.get(f"{KITS}/{kit['id']}").json()["logo"] is None
    server.call(runner.close())
    assert took < budget + 5, "the drawing was stopped at the budget"
    assert latencies, "the check was still running when the server was asked"
    assert max(latencies) < 0.5, "other requests were answered meanwhile"
