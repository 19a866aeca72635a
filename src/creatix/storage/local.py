"""Files under a local directory, served by the API's ``/files`` route with signed links."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import stat
import tempfile
from collections.abc import AsyncIterator, Generator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from creatix.storage.base import (
    CHUNK_SIZE,
    LIST_PAGE_SIZE,
    ObjectNotFound,
    StoredObject,
    folder_parts,
)
from creatix.storage.signing import UrlSigner


def _open_regular(path: Path, start: int) -> BinaryIO:
    """``path`` opened for reading at ``start``; ``FileNotFoundError`` unless a regular file."""
    handle = path.open("rb")
    try:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise FileNotFoundError(path)
        handle.seek(start)
    except BaseException:
        handle.close()
        raise
    return handle


class LocalStorage:
    def __init__(self, root: Path, signer: UrlSigner) -> None:
        self.root = root.resolve()
        self.signer = signer
        self.root.mkdir(parents=True, exist_ok=True)

    def path_of(self, key: str) -> Path:
        """The file a key names; refuses keys that would escape the root, and keys no file
        can have (a NUL byte, which the OS refuses with a ValueError)."""
        if "\x00" in key:
            raise ObjectNotFound(key)
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root) or path == self.root:
            raise ObjectNotFound(key)
        return path

    def _write(self, key: str, data: bytes) -> None:
        path = self.path_of(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a crash never leaves a half-written file under the key.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _copy_in(self, key: str, source: Path) -> int:
        path = self.path_of(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # As _write: a temporary file beside the target, renamed over it once complete.
        # copyfile copies in the kernel (sendfile) or in bounded chunks, never whole.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            os.close(fd)
            shutil.copyfile(source, tmp)
            size = os.stat(tmp).st_size
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return size

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        await asyncio.to_thread(self._write, key, data)

    async def put_file(self, key: str, path: Path, content_type: str) -> int:
        return await asyncio.to_thread(self._copy_in, key, path)

    async def get(self, key: str) -> bytes:
        try:
            return await asyncio.to_thread(self.path_of(key).read_bytes)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise ObjectNotFound(key) from exc

    async def size(self, key: str) -> int:
        try:
            info = await asyncio.to_thread(os.stat, self.path_of(key))
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise ObjectNotFound(key) from exc
        if not stat.S_ISREG(info.st_mode):
            raise ObjectNotFound(key)
        return info.st_size

    async def open_range(
        self, key: str, start: int = 0, end: int | None = None
    ) -> AsyncIterator[bytes]:
        if start < 0 or (end is not None and end < start):
            raise ValueError(f"not a byte range: {start}-{end}")
        path = self.path_of(key)
        try:
            handle = await asyncio.to_thread(_open_regular, path, start)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as exc:
            raise ObjectNotFound(key) from exc
        # Closed however iteration ends: exhausted, aclose() by a caller that stops early,
        # or a cancellation (a client gone mid-download) while a read is in flight.
        with handle:
            remaining = None if end is None else end - start + 1
            while remaining is None or remaining > 0:
                wanted = CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining)
                chunk = await asyncio.to_thread(handle.read, wanted)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    def _files_under(self, directory: Path) -> Generator[StoredObject]:
        """Every regular file under ``directory``, depth first. ``scandir`` reads entries
        as they are asked for, so no directory's listing is ever held whole."""
        try:
            entries = os.scandir(directory)
        except (FileNotFoundError, NotADirectoryError):
            return
        with entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        yield from self._files_under(Path(entry.path))
                        continue
                    info = entry.stat(follow_symlinks=False)
                except FileNotFoundError:  # deleted while listing
                    continue
                if stat.S_ISREG(info.st_mode):
                    key = Path(entry.path).relative_to(self.root).as_posix()
                    yield StoredObject(key, datetime.fromtimestamp(info.st_mtime, UTC))

    async def list_objects(
        self, folder: str, page_size: int = LIST_PAGE_SIZE
    ) -> AsyncIterator[list[StoredObject]]:
        files = self._files_under(self.root.joinpath(*folder_parts(folder)))
        try:
            while page := await asyncio.to_thread(list, itertools.islice(files, page_size)):
                yield page
        finally:
            files.close()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path_of(key).unlink, True)

    def url(self, key: str, expires_in: int) -> str:
        expires, signature = self.signer.sign(key, expires_in)
        return f"/files/{quote(key)}?expires={expires}&signature={signature}"

    async def check(self) -> None:
        if not await asyncio.to_thread(os.access, self.root, os.W_OK | os.X_OK):
            raise OSError("the files directory is missing or not writable")
