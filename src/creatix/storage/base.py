"""Where bytes live (a local directory, later S3-compatible) and signed, expiring URLs.

Small outputs (images) go in and out whole, as ``bytes``. Large ones (videos of hundreds of
MB) never do: ``put_file`` streams a local file in, ``size`` and ``open_range`` stream any
byte range out in chunks of at most ``CHUNK_SIZE``, which is what ``/files`` serves HTTP
range requests from. ``list_objects`` pages through the objects under a folder with their
modification times, for the sweeper of orphaned outputs (``jobs/sweeper.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

CHUNK_SIZE = 256 * 1024
"""The most bytes one chunk of ``Storage.open_range`` holds."""


LIST_PAGE_SIZE = 1000
"""The most objects one page of ``Storage.list_objects`` holds (S3's own page size)."""


class ObjectNotFound(Exception):
    pass


@dataclass(frozen=True)
class StoredObject:
    key: str
    modified: datetime
    """When the object was last written (UTC; S3: ``LastModified``, which for a multipart
    upload is when the upload began)."""


class Storage(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes:
        """The whole object, in memory: for small ones only (see ``open_range``)."""
        ...

    async def delete(self, key: str) -> None: ...

    async def put_file(self, key: str, path: Path, content_type: str) -> int:
        """Store the local file ``path`` under ``key``, streaming it (never whole in memory),
        and return its size in bytes.

        Atomic: readers see the old object or the new one, never a part of it (S3: a single
        or multipart upload, which appears only once complete). The caller keeps ``path``.
        A missing ``path`` raises ``FileNotFoundError`` and stores nothing.
        """
        ...

    async def size(self, key: str) -> int:
        """The object's size in bytes (S3: ``HeadObject``'s ``Content-Length``); raises
        ``ObjectNotFound`` when there is none."""
        ...

    def open_range(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Bytes ``start`` to ``end`` of the object, both inclusive (``end=None``: to the
        last byte), as an async iterator of chunks of at most ``CHUNK_SIZE`` bytes.

        The arguments are an HTTP byte range already resolved against ``size``: an S3
        implementation sends them as one ranged ``GetObject`` (``Range: bytes=start-end``)
        and relays its body in chunks. ``end`` past the object's end is clipped to it; a
        ``start`` at or past the end yields nothing. ``start < 0`` or ``end < start`` is a
        ``ValueError``.

        Nothing is opened or requested until the first ``__anext__``, which raises
        ``ObjectNotFound`` (before any byte) when there is no object: a caller that must
        know before it commits to a response (``/files`` sends its headers only then)
        awaits the first chunk first. A caller that stops early calls ``aclose()`` on the
        iterator, where it has one, to release the file or connection at once.
        """
        ...

    def list_objects(
        self, folder: str, page_size: int = LIST_PAGE_SIZE
    ) -> AsyncIterator[list[StoredObject]]:
        """Every object whose key lies under ``folder`` (``"images/"``: a key prefix ending
        in ``/``), a page of at most ``page_size`` at a time, so that a caller never holds
        more than a page however many there are (S3: ``ListObjectsV2``, one request a page).

        No order is promised. An object written or deleted while the listing runs may or may
        not appear. A local directory also lists a write still in progress (its temporary
        file, named ``.tmp-…``), with the time it was last written to. A folder with nothing
        under it yields no page. A ``folder`` without its trailing ``/``, or with empty,
        ``.`` or ``..`` segments, is a ``ValueError``.
        """
        ...

    def url(self, key: str, expires_in: int) -> str:
        """A signed URL that stops working ``expires_in`` seconds from now.

        It may be relative (``/files/...``): the API then resolves it against its own base.
        """
        ...

    async def check(self) -> None:
        """Return when the storage can take objects now; raise (``OSError``, or the
        backend's error) saying why when it cannot. For readiness probes: cheap, no object
        is written (S3: ``HeadBucket``)."""
        ...


def folder_parts(folder: str) -> list[str]:
    """The segments of a ``list_objects`` folder; ``ValueError`` unless it is one."""
    parts = folder.split("/")
    if not folder.endswith("/") or any(part in ("", ".", "..") for part in parts[:-1]):
        raise ValueError(f"not a folder of keys: {folder!r}")
    return parts[:-1]
