"""Where bytes live (a local directory, later S3-compatible) and signed, expiring URLs.

Small outputs (images) go in and out whole, as ``bytes``. Large ones (videos of hundreds of
MB) never do: ``put_file`` streams a local file in, ``size`` and ``open_range`` stream any
byte range out in chunks of at most ``CHUNK_SIZE``, which is what ``/files`` serves HTTP
range requests from.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Protocol

CHUNK_SIZE = 256 * 1024
"""The most bytes one chunk of ``Storage.open_range`` holds."""


class ObjectNotFound(Exception):
    pass


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
