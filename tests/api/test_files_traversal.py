"""``/files/...`` never serves a file outside the storage root, however the path is spelled.

An HTTP client normalises ``..`` away before sending, so these requests go out through h11
over a plain socket with the exact request line written here: dot segments, encoded dots
and slashes, backslashes, double encoding, absolute paths. Secret files lie next to the
files directory and above the data directory; their contents must never come back.

Two guards stand in the way and each is tried on its own: a request with a forged signature
is refused by the signature check (403), and one whose key the test signs with the server's
own secret, as if a link had been made for it, is refused by the storage's check that a key
stays under its root (404).
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlencode, urlsplit

import h11
import pytest

from creatix.storage.local import LocalStorage
from support import LiveServer, make_settings

SECRET = f"top-secret-{uuid.uuid4().hex}".encode()
OUTSIDE = f"outside-{uuid.uuid4().hex}".encode()
INSIDE = b"an ordinary stored output"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


@dataclass(frozen=True)
class Layout:
    """The server and the secrets around its storage root (DATA_DIR/files)."""

    server: LiveServer
    secret: Path  # DATA_DIR/secret.txt: one level above the root
    outside: Path  # next to DATA_DIR: two levels above


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Layout]:
    base = tmp_path_factory.mktemp("traversal")
    data_dir = base / "data"
    live = LiveServer(make_settings(data_dir)).start()
    assert live.runtime is not None
    storage = live.runtime.storage
    assert isinstance(storage, LocalStorage)
    assert storage.root == live.settings.files_dir.resolve()
    secret = data_dir / "secret.txt"
    secret.write_bytes(SECRET)
    outside = base / "outside.txt"
    outside.write_bytes(OUTSIDE)
    live.call(storage.put("images/a/inside.png", INSIDE, "image/png"))
    yield Layout(live, secret, outside)
    live.stop()


def raw_get(server: LiveServer, target: str) -> Answer:
    """GET with exactly ``target`` as the request line's target, nothing normalised."""
    address = urlsplit(server.url)
    assert address.hostname is not None
    assert address.port is not None
    connection = h11.Connection(our_role=h11.CLIENT)
    request = h11.Request(
        method="GET", target=target, headers=[("Host", address.netloc), ("Connection", "close")]
    )
    status, body = 0, b""
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(connection.send(request) + connection.send(h11.EndOfMessage()))
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(sock.recv(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                return Answer(status, body)


def _paths(layout: Layout) -> list[str]:
    """Spellings of paths outside the root, as they go on the wire after ``/files/``."""
    absolute = str(layout.secret)
    return [
        "../secret.txt",
        "../../outside.txt",
        "./../secret.txt",
        "images/../../secret.txt",
        "images/a/../../../secret.txt",
        "%2e%2e/secret.txt",
        "%2E%2E/secret.txt",
        ".%2e/secret.txt",
        "%2e./secret.txt",
        "..%2fsecret.txt",
        "..%2Fsecret.txt",
        "%2e%2e%2fsecret.txt",
        "%2e%2e%2f%2e%2e%2foutside.txt",
        "images%2f..%2f..%2fsecret.txt",
        "images/%2e%2e/%2e%2e/secret.txt",
        "..\\secret.txt",
        "..%5csecret.txt",
        "images\\..\\..\\secret.txt",
        "%252e%252e/secret.txt",
        "..%252fsecret.txt",
        "%252e%252e%252fsecret.txt",
        "%c0%ae%c0%ae/secret.txt",
        "..%00/secret.txt",
        "../secret.txt%00.png",
        "/" + absolute.lstrip("/"),  # /files//abs/path
        "%2f" + absolute.lstrip("/"),
        absolute.lstrip("/").replace("/", "%2f").join(["%2f", ""]),
        "../creatix.db",
        "..",
        ".",
        "",
        "%2e%2e",
    ]


def _assert_nothing_leaked(answer: Answer, target: str) -> None:
    assert 400 <= answer.status < 500, (target, answer.status, answer.body[:200])
    for secret in (SECRET, OUTSIDE, b"SQLite format 3"):
        assert secret not in answer.body, target


def test_forged_links_to_paths_outside_the_root_are_refused(layout: Layout) -> None:
    expires = int(time.time()) + 3600
    forged = urlencode({"expires": expires, "signature": "x" * 43})
    for path in _paths(layout):
        target = f"/files/{path}?{forged}"
        answer = raw_get(layout.server, target)
        _assert_nothing_leaked(answer, target)


def test_signed_links_to_paths_outside_the_root_are_404(layout: Layout) -> None:
    """As if a link had been signed for each key: the storage root alone must hold."""
    server = layout.server
    assert server.runtime is not None
    for path in _paths(layout):
        key = unquote(path)  # what the server's router hands the route as ``key``
        expires, signature = server.runtime.signer.sign(key, 3600)
        target = f"/files/{path}?{urlencode({'expires': expires, 'signature': signature})}"
        answer = raw_get(server, target)
        _assert_nothing_leaked(answer, target)
        assert b"invalid_signature" not in answer.body, f"{target}: the guard under test is unmet"


def test_the_raw_client_does_fetch_what_is_inside_the_root(layout: Layout) -> None:
    """The same requests reach inside files: the refusals above are about the paths."""
    server = layout.server
    assert server.runtime is not None
    for path in ("images/a/inside.png", "images/./a/inside.png", "images/b/../a/inside.png"):
        key = unquote(path)
        expires, signature = server.runtime.signer.sign(key, 3600)
        target = f"/files/{path}?{urlencode({'expires': expires, 'signature': signature})}"
        answer = raw_get(server, target)
        assert (answer.status, answer.body) == (200, INSIDE), target
