"""What the reference tests share: the reference documents and their curl examples, a server
with a key on a funded unlimited account, loopback stand-ins for the hosts the examples name,
and polling with a deadline.

The documents live outside the repository (``shared/reference/``, beside a checkout). Each
module keeps its examples verbatim, so it runs in a clean clone; where the document is found,
one test per module parses every example out of it and checks that the module sends exactly
those, so a changed document fails until the tests follow it.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from PIL import Image

from creatix.accounts import service as accounts
from creatix.billing import service as billing
from creatix.catalog.loader import load_catalog
from support import LiveServer, make_settings

T = TypeVar("T")

REPOSITORY = Path(__file__).resolve().parents[2]
CREDITS = 10_000_000
"""What the test account is granted: more than every example together costs."""


# -- the documents ---------------------------------------------------------------------------


def reference_folder() -> Path | None:
    """``$CREATIX_REFERENCE_DIR``, else the first ``shared/reference/`` beside the checkout or
    above it; None when there is none (a clean clone on its own)."""
    configured = os.environ.get("CREATIX_REFERENCE_DIR")
    if configured:
        return Path(configured)
    for folder in REPOSITORY.parents:
        candidate = folder / "shared" / "reference"
        if (candidate / "README.md").is_file():
            return candidate
    return None


def reference_text(name: str) -> str:
    """The document's text; skips the test where the documents are not beside the checkout."""
    folder = reference_folder()
    if folder is None:
        pytest.skip("no shared/reference/ beside this checkout (set CREATIX_REFERENCE_DIR)")
    return (folder / name).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Curl:
    """One curl command of a document: what it sends, its host left out."""

    method: str
    path: str
    headers: tuple[str, ...] = ()
    """Header names as written, in order."""
    body: Any = None
    """The ``--data``, parsed as JSON."""
    form: tuple[str, ...] = ()
    """``-F`` fields as written (``file=@product.jpg``)."""

    def request(
        self, client: httpx.Client, account: Account, path: str | None = None, body: Any = None
    ) -> httpx.Response:
        """Send it as written, with this account's key in the headers it names, on ``path``
        (a path with an earlier step's id) and ``body`` (a body with a loopback URL) where
        given. A header it does not name is not sent."""
        values = {
            "Authorization": account.bearer["Authorization"],
            "X-API-ID": account.key_id,
            "X-API-KEY": account.secret,
            "Content-Type": "application/json",
        }
        headers = {name: values[name] for name in self.headers}
        sent = self.body if body is None else body
        content = None if sent is None else json.dumps(sent).encode()
        files = None
        if self.form:
            [field_] = self.form
            name, _, value = field_.partition("=@")
            files = {name: (value, jpeg(), "image/jpeg")}
        return client.request(
            self.method, path or self.path, headers=headers, content=content, files=files
        )


_CURL = re.compile(r"curl\s+(-|https?://)")
"""A curl command, not a caption that starts with the word ("curl — multipart upload")."""
_FLAGS_WITH_VALUES = {"-X", "--request", "-H", "--header", "-d", "--data", "--url", "-F", "--form"}


def curl_examples(text: str) -> list[Curl]:
    """Every curl command of a document, in order. A command runs on while its lines end in a
    backslash, a quote is open, or the next line is another option (``-H ...``)."""
    lines = text.splitlines()
    commands: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        index += 1
        if not _CURL.match(line):
            continue
        command = line
        while index < len(lines):
            if command.endswith("\\"):
                command = command[:-1].rstrip()
            elif not _quote_open(command) and not lines[index].lstrip().startswith("-"):
                break
            command += "\n" + lines[index]
            index += 1
        commands.append(command)
    return [_parse_curl(command) for command in commands]


def _quote_open(command: str) -> bool:
    try:
        shlex.split(command)
    except ValueError:
        return True
    return False


def _parse_curl(command: str) -> Curl:
    words = shlex.split(command)[1:]
    method: str | None = None
    url: str | None = None
    headers: list[str] = []
    data: Any = None
    form: list[str] = []
    position = 0
    while position < len(words):
        word = words[position]
        if word in _FLAGS_WITH_VALUES:
            value = words[position + 1]
            position += 2
            if word in ("-X", "--request"):
                method = value
            elif word in ("-H", "--header"):
                headers.append(value.partition(":")[0].strip())
            elif word in ("-d", "--data"):
                data = json.loads(value)
            elif word in ("-F", "--form"):
                form.append(value)
            else:
                url = value
            continue
        if word.startswith("http"):
            url = word
        position += 1
    assert url is not None, f"a curl command without a URL: {command}"
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if method is None:
        method = "POST" if data is not None or form else "GET"
    return Curl(method, path, tuple(headers), data, tuple(form))


def js_object(literal: str) -> Any:
    """A JavaScript object literal of plain keys and JSON values, as Python data."""
    return json.loads(re.sub(r"([{,]\s*)([A-Za-z_]\w*)\s*:", r'\1"\2":', literal))


# -- the server and the account --------------------------------------------------------------


@dataclass
class Account:
    """A funded account on the unlimited plan, and one key of it in both forms."""

    name: str
    key_id: str
    secret: str
    bearer: dict[str, str] = field(init=False)
    pair: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.bearer = {"Authorization": f"Bearer {self.secret}"}
        self.pair = {"X-API-ID": self.key_id, "X-API-KEY": self.secret}


TRICKLE = "trickle"
"""A plan of one request a minute, beside the shipped ones: what makes a documented 429."""


def reference_server(tmp_path_factory: pytest.TempPathFactory) -> LiveServer:
    """A server as a clean clone's ``creatix serve`` on loopback runs it: the shipped catalog
    (with one more plan, ``TRICKLE``), and it may fetch from (and post to) loopback, where the
    stand-ins for the examples' hosts listen."""
    data_dir = tmp_path_factory.mktemp("creatix-reference")
    plans = [plan.model_dump() for plan in load_catalog(None).plans]
    plans.append({"id": TRICKLE, "quota": None, "requests_per_minute": 1})
    catalog = data_dir / "catalog.yaml"
    catalog.write_text(yaml.safe_dump({"extends": "shipped", "plans": plans}))
    settings = make_settings(data_dir, allow_private_urls=True, catalog=catalog)
    live = LiveServer(settings).start()
    live.settings.public_url = live.url
    return live


def funded_account(
    server: LiveServer,
    credits: int = CREDITS,
    plan: str = "unlimited",
    *,
    unlimited_credits: bool = False,
) -> Account:
    """A fresh account on ``plan`` (by default the one without an image quota) granted
    ``credits``, and a key of it. ``unlimited_credits``: an account never charged."""
    assert server.runtime is not None
    db = server.runtime.db
    name = f"ref-{os.urandom(5).hex()}"
    server.call(accounts.create_account(db, name, plan, unlimited=unlimited_credits))
    if credits:
        server.call(billing.grant(db, name, credits, None))
    key = server.call(accounts.create_key(db, name))
    return Account(name, key.key_id, key.secret)


def swap_host(url: str, base_url: str) -> str:
    """The example's URL with its scheme and host replaced by ``base_url``'s."""
    parts = urlsplit(url)
    return base_url + parts.path + (f"?{parts.query}" if parts.query else "")


# -- loopback stand-ins ----------------------------------------------------------------------


def jpeg(size: tuple[int, int] = (640, 480)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (40, 90, 160)).save(buffer, format="JPEG")
    return buffer.getvalue()


class ImageOrigin:
    """An HTTP server on loopback that serves one JPEG at every path: the stand-in for the
    host of an image URL an example names."""

    def __init__(self) -> None:
        body = jpeg()
        self.paths: list[str] = []
        origin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                origin.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ImageOrigin:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


# -- polling ---------------------------------------------------------------------------------


def poll(
    fetch: Callable[[], httpx.Response],
    finished: Callable[[httpx.Response], T | None],
    timeout: float = 60,
) -> T:
    """Fetch until ``finished`` returns something for the response; fails past the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        response = fetch()
        result = finished(response)
        if result is not None:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"not finished after {timeout} s: {response.text}")
        time.sleep(0.05)
