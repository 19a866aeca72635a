"""What the SDK's and ``creatix generate``'s tests share: a server that fetches its own file
URLs (a video from an uploaded image), and an account's key with its id."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from creatix.accounts import service as accounts
from support import LiveServer, make_settings


@pytest.fixture(scope="module")
def client_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The live server, allowed to fetch loopback URLs: the asset generator imports an
    uploaded image by its file URL on this server."""
    settings = make_settings(tmp_path_factory.mktemp("creatix"), allow_private_urls=True)
    live = LiveServer(settings).start()
    yield live
    live.stop()


def account_key(server: LiveServer, credits: int = 0) -> tuple[str, str, str]:
    """A fresh funded account: (account name, key secret, key id)."""
    name, secret = server.funded_account(credits)
    assert server.runtime is not None
    keys = server.call(accounts.list_keys(server.runtime.db, name))
    return name, secret, keys[0].key_id


def png_bytes(width: int = 64, height: int = 64) -> bytes:
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(out, format="PNG")
    return out.getvalue()


def write_png(path: Path) -> Path:
    path.write_bytes(png_bytes())
    return path
