from __future__ import annotations

from typing import Protocol


class ObjectNotFound(Exception):
    pass


class Storage(Protocol):
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...

    def url(self, key: str, expires_in: int) -> str:
        """A signed URL that stops working ``expires_in`` seconds from now.

        It may be relative (``/files/...``): the API then resolves it against its own base.
        """
        ...
