"""The console's browser tests: a real server, Debian's Chromium driven by Playwright.

Without Chromium (or Playwright) they skip, saying how to enable them; with
``CREATIX_REQUIRE_BROWSER=1`` (CI sets it) a missing browser is a failure instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser_support import ENABLE, PASSWORD, Person, Watched, chromium_path, unavailable

from creatix.accounts import service as accounts
from creatix.billing import service as billing
from support import LiveServer, make_settings


# Module-scoped: Playwright's sync API runs its own event loop in this thread while it
# lives, which would stop every later asyncio test from running its own.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable(ENABLE)
    executable = chromium_path()
    if executable is None:
        unavailable(ENABLE)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = make_settings(tmp_path_factory.mktemp("console"), signin_attempts_per_address=10_000)
    live = LiveServer(settings).start()
    yield live
    live.stop()


@pytest.fixture
def person(console_server: LiveServer) -> Callable[..., Person]:
    """A person who can sign in: a member or owner of a fresh, funded account, or an
    operator."""
    runtime = console_server.runtime
    assert runtime is not None

    def make(*, role: str | None = "owner", operator: bool = False, credits: int = 5000) -> Person:
        email = f"p-{uuid.uuid4().hex[:10]}@example.com"
        account_id = name = None
        if role is not None:
            name = f"acct-{uuid.uuid4().hex[:8]}"
            account = console_server.call(accounts.ensure_account(runtime.db, name, "paid", "free"))
            account_id = account.id
            if credits:
                console_server.call(billing.grant(runtime.db, name, credits, None))
        console_server.call(
            runtime.people.create(
                email, password=PASSWORD, operator=operator, account_id=account_id, role=role
            )
        )
        return Person(email, account_id, name)

    return make


@pytest.fixture
def console(browser: Any, console_server: LiveServer) -> Iterator[Watched]:
    """A fresh browser context on the console; the test fails if any page logged an error
    or reached for another origin."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    watched = Watched(page, console_server.url)
    origin = urlsplit(console_server.url).netloc

    def on_console(message: Any) -> None:
        if message.type in ("error", "warning"):
            watched.errors.append(f"{message.type}: {message.text} at {page.url}")

    def on_request(request: Any) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.netloc != origin:
            watched.foreign.append(request.url)

    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.errors.append(f"pageerror: {error}"))
    page.on("request", on_request)
    page.on("dialog", lambda dialog: dialog.accept())
    yield watched
    context.close()
    assert watched.foreign == [], f"requests to other origins: {watched.foreign}"
    assert watched.unexpected_errors() == [], f"console errors: {watched.errors}"
