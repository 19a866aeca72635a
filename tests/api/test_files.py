"""``/files/...`` through a real HTTP client: streamed downloads, byte ranges, HEAD, links."""

from __future__ import annotations

import os
import time
import tracemalloc
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from creatix.storage.base import CHUNK_SIZE
from creatix.storage.local import LocalStorage
from support import LiveServer

MB = 1024 * 1024
SIZE = 5_000_000


class Stored:
    """A file stored through ``put_file`` and a signed link to it."""

    def __init__(self, server: LiveServer, source: Path, extension: str = ".mp4") -> None:
        assert server.runtime is not None
        self.server = server
        self.data = source.read_bytes() if source.stat().st_size <= SIZE else b""
        self.key = f"videos/{uuid.uuid4().hex}/clip{extension}"
        self.size = server.call(server.runtime.storage.put_file(self.key, source, "video/mp4"))
        self.url = server.url + server.runtime.storage.url(self.key, 600)

    def get(self, **headers: str) -> httpx.Response:
        return httpx.get(self.url, headers=headers)


def random_file(path: Path, size: int) -> Path:
    with path.open("wb") as handle:
        left = size
        while left:
            step = min(MB, left)
            handle.write(os.urandom(step))
            left -= step
    return path


@pytest.fixture(scope="module")
def video_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return random_file(tmp_path_factory.mktemp("videos") / "clip.mp4", SIZE)


@pytest.fixture
def video(server: LiveServer, video_source: Path, monkeypatch: pytest.MonkeyPatch) -> Stored:
    stored = Stored(server, video_source)

    # From here on, nothing may read or write a file whole: the server shares this process.
    def whole(*args: object, **kwargs: object) -> None:
        raise AssertionError("a whole-file read or write while streaming")

    monkeypatch.setattr(LocalStorage, "get", whole)
    monkeypatch.setattr(LocalStorage, "put", whole)
    monkeypatch.setattr(Path, "read_bytes", whole)
    return stored


def max_age(response: httpx.Response) -> int:
    directive, seconds = response.headers["cache-control"].rsplit("=", 1)
    assert directive == "private, max-age"
    return int(seconds)


def test_a_full_get_streams_the_exact_bytes_as_video_mp4(video: Stored) -> None:
    assert video.size == SIZE
    response = video.get()
    assert response.status_code == 200
    assert response.content == video.data
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["content-length"] == str(SIZE)
    assert response.headers["accept-ranges"] == "bytes"
    assert 500 <= max_age(response) <= 600
    assert "content-range" not in response.headers


def test_the_body_arrives_in_chunks_as_it_is_read(video: Stored) -> None:
    sizes = []
    with httpx.stream("GET", video.url) as response:
        assert response.status_code == 200
        received = b""
        for chunk in response.iter_raw():
            sizes.append(len(chunk))
            received += chunk
    assert received == video.data
    assert len(sizes) > 1
    assert max(sizes) <= CHUNK_SIZE


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=100-199", 100, 199),
        ("bytes=0-0", 0, 0),
        ("bytes=0-", 0, SIZE - 1),
        ("bytes=4999990-", 4_999_990, SIZE - 1),
        ("bytes=4999990-6000000", 4_999_990, SIZE - 1),
        ("bytes=4999999-4999999", SIZE - 1, SIZE - 1),
        ("bytes=-500", SIZE - 500, SIZE - 1),
        ("bytes=-99999999", 0, SIZE - 1),
        ("bytes=1000000-3000000", 1_000_000, 3_000_000),
        ("BYTES=100-199", 100, 199),
        ("bytes=100-99999999999999999999999999", 100, SIZE - 1),
    ],
)
def test_a_single_range_is_a_206_with_exactly_those_bytes(
    video: Stored, header: str, start: int, end: int
) -> None:
    response = video.get(Range=header)
    assert response.status_code == 206, response.text
    assert response.content == video.data[start : end + 1]
    assert response.headers["content-range"] == f"bytes {start}-{end}/{SIZE}"
    assert response.headers["content-length"] == str(end - start + 1)
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["accept-ranges"] == "bytes"


@pytest.mark.parametrize(
    "header", ["bytes=10-5", "bytes=5000000-", "bytes=6000000-7000000", "bytes=-0"]
)
def test_an_unsatisfiable_range_is_a_416_naming_the_size(video: Stored, header: str) -> None:
    response = video.get(Range=header)
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{SIZE}"
    assert response.json()["error"]["code"] == "range_not_satisfiable"


@pytest.mark.parametrize(
    "header",
    [
        "bytes=abc",
        "bytes=-",
        "bytes=1-2-3",
        "bytes 100-199",
        "items=0-10",
        "bytes=0-10,20-30",
        "bytes=0-10, 20-30",
        "",
    ],
)
def test_a_malformed_or_multiple_range_is_ignored(video: Stored, header: str) -> None:
    response = video.get(Range=header)
    assert response.status_code == 200
    assert response.content == video.data
    assert response.headers["content-length"] == str(SIZE)
    assert "content-range" not in response.headers


def test_if_range_without_a_validator_of_ours_sends_the_whole_file(video: Stored) -> None:
    response = video.get(Range="bytes=100-199", **{"If-Range": '"some-etag"'})
    assert response.status_code == 200
    assert response.content == video.data


def test_head_answers_the_headers_without_a_body(video: Stored) -> None:
    get = video.get()
    head = httpx.head(video.url)
    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-type", "content-length", "accept-ranges"):
        assert head.headers[name] == get.headers[name], name
    # max-age counts down to the URL's expiry, so a second may pass between the two.
    assert 0 <= max_age(get) - max_age(head) <= 2
    # Range handling is defined only for GET (RFC 9110 §14.2).
    ranged = httpx.head(video.url, headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 200
    assert ranged.headers["content-length"] == str(SIZE)


def test_a_seeking_player_reassembles_the_file_from_ranges(video: Stored) -> None:
    step = 1_300_000
    parts = [video.get(Range=f"bytes={s}-{s + step - 1}") for s in range(0, SIZE, step)]
    assert {part.status_code for part in parts} == {206}
    assert b"".join(part.content for part in parts) == video.data


@pytest.mark.parametrize(
    ("extension", "media_type"),
    [
        (".mp4", "video/mp4"),
        (".MP4", "video/mp4"),
        (".webm", "video/webm"),
        (".jpg", "image/jpeg"),
        (".jpeg", "image/jpeg"),
        (".png", "image/png"),
        (".webp", "image/webp"),
        (".bin", "application/octet-stream"),
    ],
)
def test_the_content_type_follows_the_extension(
    server: LiveServer, tmp_path: Path, extension: str, media_type: str
) -> None:
    stored = Stored(server, random_file(tmp_path / "f", 1000), extension)
    response = stored.get()
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.content == stored.data


def test_an_empty_file_is_an_empty_200_and_unsatisfiable_for_ranges(
    server: LiveServer, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    stored = Stored(server, empty)
    response = stored.get()
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == "0"
    assert stored.get(Range="bytes=0-").status_code == 416
    assert stored.get(Range="bytes=-10").status_code == 200


def test_bad_signatures_expired_links_and_unknown_keys(video: Stored, server: LiveServer) -> None:
    assert server.runtime is not None
    url = urlsplit(video.url)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    base = f"{server.url}{url.path}"

    tampered = {**query, "signature": query["signature"][:-2] + "xx"}
    for method in ("GET", "HEAD"):
        response = httpx.request(
            method, f"{base}?{urlencode(tampered)}", headers={"Range": "bytes=0-9"}
        )
        assert response.status_code == 403
    assert httpx.get(f"{base}?{urlencode(tampered)}").json()["error"]["code"] == "invalid_signature"

    expires, signature = server.runtime.signer.sign(video.key, -1)
    stale = httpx.get(f"{base}?{urlencode({'expires': expires, 'signature': signature})}")
    assert stale.status_code == 403
    assert stale.json()["error"]["code"] == "invalid_signature"

    missing = server.url + server.runtime.storage.url("videos/nothing-here.mp4", 600)
    assert httpx.get(missing).status_code == 404
    assert httpx.get(missing, headers={"Range": "bytes=0-9"}).status_code == 404
    assert httpx.head(missing).status_code == 404
    folder = server.url + server.runtime.storage.url(video.key.rsplit("/", 1)[0], 600)
    assert httpx.get(folder).status_code == 404


@pytest.mark.parametrize(
    "signature",
    ["é" * 43, "сигнатура", "\U0001f600", "%FF%FE", ""],
)
def test_a_non_ascii_or_garbled_signature_is_a_403(
    video: Stored, server: LiveServer, signature: str
) -> None:
    url = urlsplit(video.url)
    expires = parse_qs(url.query)["expires"][0]
    link = f"{server.url}{url.path}?{urlencode({'expires': expires, 'signature': signature})}"
    for method in ("GET", "HEAD"):
        response = httpx.request(method, link)
        assert response.status_code == 403, response.text
    assert httpx.get(link).json()["error"]["code"] == "invalid_signature"


def test_a_nul_in_the_signature_is_a_400_naming_it(video: Stored, server: LiveServer) -> None:
    """A NUL is refused in every query parameter before routing, this one too."""
    url = urlsplit(video.url)
    expires = parse_qs(url.query)["expires"][0]
    query = urlencode({"expires": expires, "signature": "a\x00b"})
    response = httpx.get(f"{server.url}{url.path}?{query}")
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_value"
    assert "'signature'" in response.json()["error"]["message"]


@pytest.mark.parametrize("expires", ["9" * 30, "9" * 5000, "-1", "x"])
def test_an_out_of_range_expiry_is_refused_not_a_500(
    video: Stored, server: LiveServer, expires: str
) -> None:
    url = urlsplit(video.url)
    signature = parse_qs(url.query)["signature"][0]
    link = f"{server.url}{url.path}?{urlencode({'expires': expires, 'signature': signature})}"
    response = httpx.get(link)
    assert response.status_code in (400, 403), response.text
    assert response.json()["error"]["code"] in ("invalid_signature", "invalid_value")


def test_an_object_gone_between_size_and_read_is_a_404(
    video: Stored, server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first chunk is read before the headers go out, so a vanished object is a clean
    404, not a 200 with a broken body."""

    async def stale_size(self: LocalStorage, key: str) -> int:
        return SIZE

    monkeypatch.setattr(LocalStorage, "size", stale_size)
    assert server.runtime is not None
    missing = server.url + server.runtime.storage.url("videos/vanished.mp4", 600)
    response = httpx.get(missing)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")
def test_a_client_gone_mid_download_leaves_no_file_open(server: LiveServer, tmp_path: Path) -> None:
    """64 MB, more than the loopback's socket buffers hold: the server is still reading the
    file when the client hangs up, and closes it then rather than at garbage collection."""
    assert server.runtime is not None
    stored = Stored(server, random_file(tmp_path / "big.mp4", 64 * MB))
    path = str(server.runtime.storage.path_of(stored.key))  # type: ignore[attr-defined]

    def open_descriptors() -> int:
        count = 0
        for fd in os.listdir("/proc/self/fd"):
            try:
                count += os.readlink(f"/proc/self/fd/{fd}") == path
            except OSError:
                continue
        return count

    def eventually(expected: int) -> int:
        deadline = time.monotonic() + 10
        while open_descriptors() != expected and time.monotonic() < deadline:
            time.sleep(0.02)
        return open_descriptors()

    with httpx.stream("GET", stored.url) as response:
        chunks = response.iter_raw()
        next(chunks)
        assert eventually(1) == 1  # mid-stream, the file open
        time.sleep(0.2)
        assert open_descriptors() == 1  # and still: it waits on the client
        received = 0  # a few more chunks, then the client goes away
        while received < 4 * MB:
            received += len(next(chunks))
    assert eventually(0) == 0


def test_a_large_download_never_holds_the_file_in_memory(
    server: LiveServer, tmp_path: Path
) -> None:
    """A 48 MB file through put_file and a full and a ranged GET: the peak of Python's
    allocations (the server's thread is in this process) stays a small fraction of it."""
    size = 48 * MB
    source = random_file(tmp_path / "big.mp4", size)
    tracemalloc.start()
    try:
        stored = Stored(server, source)
        received = 0
        with httpx.stream("GET", stored.url) as response:
            assert response.status_code == 200
            for chunk in response.iter_raw():
                received += len(chunk)
        with httpx.stream("GET", stored.url, headers={"Range": f"bytes={MB}-"}) as response:
            assert response.status_code == 206
            for chunk in response.iter_raw():
                received += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == 2 * size - MB
    assert peak < size // 8, f"peak {peak} bytes for a {size}-byte file"
