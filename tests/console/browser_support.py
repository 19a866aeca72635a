"""What the console's tests share: who signs in, and a watched browser page."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

PASSWORD = "correct horse battery staple 42"
ENABLE = (
    "the console's browser tests need Chromium and Playwright: `apt-get install chromium` "
    "(Debian/Ubuntu) or CREATIX_CHROMIUM=/path/to/chrome, and `pip install playwright`"
)
SCREENSHOTS = os.environ.get("CREATIX_CONSOLE_SCREENSHOTS")
"""A folder to save each page's screenshot in (scripts/console-screenshots sets it)."""


def chromium_path() -> str | None:
    return (
        os.environ.get("CREATIX_CHROMIUM")
        or shutil.which("chromium")
        or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    )


def unavailable(reason: str) -> None:
    if os.environ.get("CREATIX_REQUIRE_BROWSER") == "1":
        pytest.fail(f"CREATIX_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@dataclass
class Person:
    email: str
    account_id: str | None
    account_name: str | None


@dataclass
class Watched:
    """A browser page whose console errors and requests to other origins are collected."""

    page: Any
    origin: str
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)

    def expect_error(self, text: str) -> None:
        """A console error containing ``text`` is what the test provokes (a refused call)."""
        self.expected.append(text)

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(text in e for text in self.expected)]

    def goto(self, path: str) -> None:
        self.page.goto(self.origin + path)
        self.page.wait_for_load_state("networkidle")

    def sign_in(self, who: Person, path: str = "/console/") -> None:
        self.page.goto(f"{self.origin}{path}")
        self.page.fill("#email", who.email)
        self.page.fill("#password", PASSWORD)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(f"{self.origin}{path}")
        self.page.wait_for_load_state("networkidle")

    def screenshot(self, name: str) -> None:
        """With CREATIX_CONSOLE_SCREENSHOTS set, the page as a JPEG in that folder."""
        if SCREENSHOTS:
            Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
            target = Path(SCREENSHOTS) / f"{name}.jpg"
            self.page.screenshot(path=str(target), type="jpeg", quality=80, full_page=True)
