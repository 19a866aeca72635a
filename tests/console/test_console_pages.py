"""The console's pages over plain HTTP: redirects, who may see what, security headers, assets."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import quote

import httpx
import pytest
from browser_support import PASSWORD, Person

from creatix.console.pages import PAGES
from support import LiveServer

HTML = {"Accept": "text/html"}


@contextmanager
def _signed_in(server: LiveServer, who: Person) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        answer = client.post("/api/session", json={"email": who.email, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        yield client


def test_the_root_sends_browsers_to_the_console_and_tells_clients_where_it_is(
    console_server: LiveServer,
) -> None:
    with httpx.Client(base_url=console_server.url) as client:
        browser = client.get("/", headers=HTML)
        assert browser.status_code == 307
        assert browser.headers["location"] == "/console/"
        assert client.get("/").json()["console"] == "/console/"


@pytest.mark.parametrize("page", [p.path for p in PAGES])
def test_every_page_without_a_session_goes_to_sign_in_and_back(
    console_server: LiveServer, page: str
) -> None:
    with httpx.Client(base_url=console_server.url) as client:
        answer = client.get(f"/console/{page}?x=1")
    assert answer.status_code == 303
    assert answer.headers["location"] == (
        f"/console/sign-in?next={quote(f'/console/{page}?x=1', safe='')}"
    )


def test_pages_carry_a_strict_content_security_policy(console_server: LiveServer) -> None:
    with httpx.Client(base_url=console_server.url) as client:
        answer = client.get("/console/sign-in")
    assert answer.status_code == 200
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert answer.headers["referrer-policy"] == "same-origin"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"


def test_a_member_gets_every_account_page_and_a_403_page_for_operator_pages(
    console_server: LiveServer, person: Callable[..., Person]
) -> None:
    member = person(role="member")
    with _signed_in(console_server, member) as client:
        for page in PAGES:
            answer = client.get(f"/console/{page.path}")
            assert answer.status_code == (403 if page.operator else 200), page.path
            assert "text/html" in answer.headers["content-type"]
            assert 'href="/console/admin/' not in answer.text, "operator menu shown"
        scripts = re.findall(r"<script([^>]*)>", client.get("/console/overview").text)
        assert scripts
        assert all("src=" in s or 'type="application/json"' in s for s in scripts)
        assert client.get("/console/no-such-page").status_code == 404


def test_an_operator_gets_the_operator_pages(
    console_server: LiveServer, person: Callable[..., Person]
) -> None:
    operator = person(role=None, operator=True)
    with _signed_in(console_server, operator) as client:
        for page in PAGES:
            assert client.get(f"/console/{page.path}").status_code == 200, page.path


@pytest.mark.parametrize(
    "target",
    ["//evil.example/console/", "https://evil.example/console/", "/console/\\evil", "/api/admin"],
)
def test_sign_in_goes_back_only_to_console_pages(
    console_server: LiveServer, person: Callable[..., Person], target: str
) -> None:
    with _signed_in(console_server, person()) as client:
        answer = client.get("/console/sign-in", params={"next": target})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/"


def test_every_script_a_page_loads_is_served_as_javascript(
    console_server: LiveServer, person: Callable[..., Person]
) -> None:
    with _signed_in(console_server, person(operator=True)) as client:
        seen: set[str] = set()
        pending = [
            src
            for page in PAGES
            for src in re.findall(r'src="([^"?]+)', client.get(f"/console/{page.path}").text)
        ]
        while pending:
            path = pending.pop()
            if path in seen:
                continue
            seen.add(path)
            answer = client.get(path)
            assert answer.status_code == 200, path
            assert "javascript" in answer.headers["content-type"], path
            assert answer.headers["x-content-type-options"] == "nosniff"
            base = path.rsplit("/", 1)[0]
            for imported in re.findall(r'from "(\.{1,2}/[^"]+)"', answer.text):
                pending.append(_resolve(base, imported))
    assert len(seen) >= len(PAGES) + 2


def _resolve(base: str, relative: str) -> str:
    parts = base.split("/")
    for piece in relative.split("/"):
        if piece == "..":
            parts.pop()
        elif piece != ".":
            parts.append(piece)
    return "/".join(parts)
