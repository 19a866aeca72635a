"""``uploads.service.import_url`` against a loopback HTTP server run by the test."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, unquote

import pytest
from sqlalchemy import select

from creatix.accounts import service as accounts
from creatix.kit.errors import InvalidRequest
from creatix.uploads import fetch
from creatix.uploads import service as uploads
from creatix.uploads.models import UploadRow
from creatix.uploads.schemas import Upload
from creatix.uploads.service import MAX_UPLOAD_BYTES
from creatix.webhooks import ssrf
from rebinding import NAME, STAND_IN_PUBLIC, RebindingName, on_one_port, treat_as_public
from support import LiveServer
from upload_samples import gif_bytes, image_bytes

PARAM = "input_params.image_url"
MAGENTA_PNG = image_bytes("png", size=(40, 30))


class Origin(BaseHTTPRequestHandler):
    """The remote site: an image, redirects, errors, a too-large and a slow body."""

    protocol_version = "HTTP/1.1"
    seen_hosts: list[str] = []

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _send(self, status: int, body: bytes, content_type: str = "image/png") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        Origin.seen_hosts.append(self.headers.get("Host", ""))
        path = self.path
        if path == "/magenta.png":
            self._send(200, MAGENTA_PNG)
        elif path == "/magenta-as-jpeg":
            self._send(200, MAGENTA_PNG, "image/jpeg")
        elif path == "/cat.gif":
            self._send(200, gif_bytes(), "image/gif")
        elif path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/magenta.png")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path.startswith("/moved?"):
            self.send_response(302)
            self.send_header("Location", unquote(path.split("?", 1)[1]))
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/big":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(MAX_UPLOAD_BYTES + 1024 * 1024))
            self.end_headers()
            self._stream(MAX_UPLOAD_BYTES + 1024 * 1024)
        elif path == "/big-chunked":
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self._stream(MAX_UPLOAD_BYTES + 1024 * 1024, chunked=True)
        elif path == "/slow":
            time.sleep(60)  # far past any deadline, however late its timer runs
            self._send(200, MAGENTA_PNG)
        else:
            self._send(404, b"not found", "text/plain")

    def _stream(self, total: int, *, chunked: bool = False) -> None:
        block = b"\0" * 65536
        try:
            for _ in range(0, total, len(block)):
                if chunked:
                    self.wfile.write(f"{len(block):x}\r\n".encode() + block + b"\r\n")
                else:
                    self.wfile.write(block)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading: what the cap is for


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # clients hanging up early (the cap, the deadline) are the point


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    httpd = QuietServer(("127.0.0.1", 0), Origin)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def account(server: LiveServer) -> str:
    assert server.runtime is not None
    return server.call(accounts.authenticate(server.runtime.db, server.key())).account_id


def _import(server: LiveServer, account_id: str, url: str, *, allow_private: bool) -> Upload:
    assert server.runtime is not None
    runtime = server.runtime
    return server.call(
        uploads.import_url(
            runtime.db, runtime.storage, account_id, url, allow_private=allow_private, param=PARAM
        )
    )


def _refused(
    server: LiveServer, account_id: str, url: str, *, allow_private: bool
) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as refused:
        _import(server, account_id, url, allow_private=allow_private)
    assert refused.value.status == 400
    assert refused.value.param == PARAM
    _assert_nothing_stored(server, account_id)
    return refused.value


def _assert_nothing_stored(server: LiveServer, account_id: str) -> None:
    assert server.runtime is not None
    query = select(UploadRow).where(UploadRow.account_id == account_id)
    assert server.call(server.runtime.db.read(lambda s: s.execute(query).first())) is None
    folder = server.settings.files_dir / "uploads" / account_id
    assert not folder.exists() or not any(p.is_file() for p in folder.rglob("*"))


def test_an_allowed_url_is_fetched_and_stored(
    server: LiveServer, account: str, origin: str
) -> None:
    upload = _import(server, account, f"{origin}/magenta-as-jpeg", allow_private=True)
    assert upload.path.startswith(f"uploads/{account}/")
    assert upload.path.endswith(".png")  # what it is, not what the remote said
    assert (upload.mime_type, upload.width, upload.height) == ("image/png", 40, 30)
    assert upload.size_bytes == len(MAGENTA_PNG)
    assert server.runtime is not None
    assert server.call(server.runtime.storage.get(upload.path)) == MAGENTA_PNG
    # The connection went to the checked address, with the URL's own Host header.
    assert Origin.seen_hosts[-1] == origin.removeprefix("http://")


def test_redirects_are_followed_when_allowed(server: LiveServer, account: str, origin: str) -> None:
    upload = _import(server, account, f"{origin}/redirect", allow_private=True)
    assert server.runtime is not None
    assert server.call(server.runtime.storage.get(upload.path)) == MAGENTA_PNG


@pytest.mark.parametrize(
    "url",
    [
        "{origin}/magenta.png",
        "http://localhost:{port}/magenta.png",
        "http://[::1]:{port}/magenta.png",
        "http://10.1.2.3/magenta.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://192.168.0.1/a.png",
        "http://[::ffff:127.0.0.1]/a.png",
        "http://0.0.0.0/a.png",
    ],
)
def test_private_loopback_and_link_local_urls_are_refused(
    server: LiveServer, account: str, origin: str, url: str
) -> None:
    port = origin.rsplit(":", 1)[1]
    before = len(Origin.seen_hosts)
    error = _refused(server, account, url.format(origin=origin, port=port), allow_private=False)
    assert error.code == "unsafe_url"
    assert len(Origin.seen_hosts) == before  # nothing was even requested


@pytest.mark.parametrize("url", ["ftp://example.com/a.png", "file:///etc/passwd", "not a url"])
def test_only_http_urls_are_fetched(server: LiveServer, account: str, url: str) -> None:
    assert _refused(server, account, url, allow_private=True).code == "unsafe_url"


BAD_URLS = [
    "http://127.0.0.1:99999/a.png",
    "http://127.0.0.1:abc/a.png",
    "http://127.0.0.1:-1/a.png",
    "http://127.0.0.1:0/a.png",
    "http://[::1/a.png",
    "http://::1]/a.png",
    "http://a@b@127.0.0.1/a.png",
    "http://xn--/a.png",
]


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize("allow_private", [False, True])
def test_a_url_that_does_not_parse_is_a_400(
    server: LiveServer, account: str, url: str, allow_private: bool
) -> None:
    error = _refused(server, account, url, allow_private=allow_private)
    assert error.code == "invalid_url"
    assert error.message.startswith(f"{PARAM} is not a valid URL")


@pytest.mark.parametrize("location", BAD_URLS)
def test_a_redirect_to_a_url_that_does_not_parse_is_a_400(
    server: LiveServer, account: str, origin: str, location: str
) -> None:
    before = len(Origin.seen_hosts)
    url = f"{origin}/moved?{quote(location, safe='')}"
    error = _refused(server, account, url, allow_private=True)
    assert error.code in ("invalid_url", "image_fetch_failed")
    assert "redirect" in error.message or "location header" in error.message, error.message
    assert len(Origin.seen_hosts) == before + 1  # the redirect, and nothing after it


class _Site:
    """A site on one loopback address: serves ``body`` at every path, counts requests."""

    def __init__(self, host: str, port: int, body: bytes) -> None:
        site = self
        self.hosts: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_GET(self) -> None:
                site.hosts.append(self.headers.get("Host", ""))
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._httpd = QuietServer((host, port), Handler)
        self.port: int = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def test_a_name_that_rebinds_after_the_check_is_fetched_from_the_checked_address(
    server: LiveServer, account: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name answers a public address to the guard, then loopback: the image comes from
    the address the guard approved, and the name is never looked up again."""
    elsewhere = image_bytes("png", size=(8, 8))
    pinned, rebound = on_one_port(
        lambda host, port: _Site(host, port, MAGENTA_PNG if host == STAND_IN_PUBLIC else elsewhere)
    )
    try:
        treat_as_public(monkeypatch)
        name = RebindingName().install(monkeypatch)
        upload = _import(server, account, f"http://{NAME}:{pinned.port}/a.png", allow_private=False)
    finally:
        pinned.stop()
        rebound.stop()
    assert rebound.hosts == []
    assert pinned.hosts == [f"{NAME}:{pinned.port}"]
    assert name.answers == [STAND_IN_PUBLIC]
    assert name.connected_to == [STAND_IN_PUBLIC]
    assert server.runtime is not None
    assert server.call(server.runtime.storage.get(upload.path)) == MAGENTA_PNG


def test_every_redirect_is_checked_again(
    server: LiveServer, account: str, origin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first hop passes as if public; its redirect to a loopback address must not."""
    checked: list[str] = []

    async def first_hop_public(url: str, *, param: str, allow_private: bool) -> ssrf.CheckedUrl:
        checked.append(url)
        return await ssrf.check_url(url, param=param, allow_private=len(checked) == 1)

    monkeypatch.setattr(fetch, "check_url", first_hop_public)
    error = _refused(server, account, f"{origin}/redirect", allow_private=False)
    assert error.code == "unsafe_url"
    assert checked == [f"{origin}/redirect", f"{origin}/magenta.png"]


def test_a_redirect_loop_ends(server: LiveServer, account: str, origin: str) -> None:
    error = _refused(server, account, f"{origin}/loop", allow_private=True)
    assert error.code == "image_fetch_failed"
    assert "redirects" in error.message


@pytest.mark.parametrize("path", ["/big", "/big-chunked"])
def test_a_remote_body_over_the_cap_is_refused(
    server: LiveServer, account: str, origin: str, path: str
) -> None:
    assert _refused(server, account, origin + path, allow_private=True).code == "file_too_large"


def test_a_slow_remote_runs_into_the_deadline(
    server: LiveServer, account: str, origin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fetch, "FETCH_TIMEOUT_SECONDS", 0.5)
    started = time.monotonic()
    error = _refused(server, account, f"{origin}/slow", allow_private=True)
    assert error.code == "image_fetch_failed"
    assert time.monotonic() - started < 20  # the remote answers only after 60 s


def test_remote_errors_and_non_images_are_refused(
    server: LiveServer, account: str, origin: str
) -> None:
    missing = _refused(server, account, f"{origin}/missing.png", allow_private=True)
    assert missing.code == "image_fetch_failed"
    assert "404" in missing.message
    gif = _refused(server, account, f"{origin}/cat.gif", allow_private=True)
    assert gif.code == "unsupported_image_type"
    closed = _refused(server, account, "http://127.0.0.1:1/a.png", allow_private=True)
    assert closed.code == "image_fetch_failed"
