"""LocalStorage's streaming half: files in by copy, byte ranges out in bounded chunks."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest

from creatix.storage.base import CHUNK_SIZE, ObjectNotFound, Storage
from creatix.storage.local import LocalStorage
from creatix.storage.signing import UrlSigner

MB = 1024 * 1024


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "files", UrlSigner("test-secret"))


def random_file(path: Path, size: int) -> Path:
    """A file of ``size`` random bytes, written a chunk at a time."""
    with path.open("wb") as handle:
        left = size
        while left:
            step = min(MB, left)
            handle.write(os.urandom(step))
            left -= step
    return path


async def collect(storage: Storage, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in storage.open_range(key, start, end)])


def temporaries(storage: LocalStorage) -> list[Path]:
    return [p for p in storage.root.rglob(".tmp-*")]


def open_descriptors_of(path: Path) -> int:
    """How many of this process's file descriptors point at ``path`` (Linux)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                count += 1
        except OSError:
            continue
    return count


async def test_put_file_copies_atomically_and_returns_the_size(
    storage: LocalStorage, tmp_path: Path
) -> None:
    source = random_file(tmp_path / "clip.mp4", 3 * MB + 17)
    size = await storage.put_file("videos/a/clip.mp4", source, "video/mp4")
    assert size == 3 * MB + 17
    assert await storage.size("videos/a/clip.mp4") == size
    assert await storage.get("videos/a/clip.mp4") == source.read_bytes()
    assert source.exists()  # the caller keeps its file
    assert temporaries(storage) == []

    replacement = random_file(tmp_path / "other.mp4", 1000)
    assert await storage.put_file("videos/a/clip.mp4", replacement, "video/mp4") == 1000
    assert await storage.get("videos/a/clip.mp4") == replacement.read_bytes()
    assert temporaries(storage) == []


async def test_put_file_of_a_missing_file_stores_nothing(
    storage: LocalStorage, tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError):
        await storage.put_file("videos/missing.mp4", tmp_path / "nope.mp4", "video/mp4")
    with pytest.raises(ObjectNotFound):
        await storage.size("videos/missing.mp4")
    assert temporaries(storage) == []


async def test_put_file_refuses_keys_outside_the_root(
    storage: LocalStorage, tmp_path: Path
) -> None:
    source = random_file(tmp_path / "clip.mp4", 10)
    with pytest.raises(ObjectNotFound):
        await storage.put_file("../escape.mp4", source, "video/mp4")
    assert not (storage.root.parent / "escape.mp4").exists()


async def test_size_of_missing_objects_and_folders_is_not_found(storage: LocalStorage) -> None:
    await storage.put("a/b.png", b"png", "image/png")
    assert await storage.size("a/b.png") == 3
    for key in ("a/c.png", "a", "a/b.png/x", "../x"):
        with pytest.raises(ObjectNotFound):
            await storage.size(key)


async def test_open_range_yields_exactly_the_bytes_asked(
    storage: LocalStorage, tmp_path: Path
) -> None:
    data = random_file(tmp_path / "clip.mp4", 2 * CHUNK_SIZE + 1000).read_bytes()
    await storage.put("clip.mp4", data, "video/mp4")
    size = len(data)
    assert await collect(storage, "clip.mp4") == data
    assert await collect(storage, "clip.mp4", 0, size - 1) == data
    assert await collect(storage, "clip.mp4", 100, 199) == data[100:200]
    assert await collect(storage, "clip.mp4", 7, 7) == data[7:8]
    assert await collect(storage, "clip.mp4", size - 500) == data[-500:]
    assert (
        await collect(storage, "clip.mp4", CHUNK_SIZE - 3, CHUNK_SIZE + 3)
        == (data[CHUNK_SIZE - 3 : CHUNK_SIZE + 4])
    )
    # Past the end: clipped; starting at or past it: nothing.
    assert await collect(storage, "clip.mp4", size - 10, size + 10_000) == data[-10:]
    assert await collect(storage, "clip.mp4", size) == b""
    assert await collect(storage, "clip.mp4", size + 5, size + 9) == b""


async def test_open_range_streams_in_bounded_chunks(storage: LocalStorage, tmp_path: Path) -> None:
    data = random_file(tmp_path / "clip.mp4", 5 * CHUNK_SIZE + 5).read_bytes()
    await storage.put("clip.mp4", data, "video/mp4")
    chunks = [chunk async for chunk in storage.open_range("clip.mp4")]
    assert len(chunks) == 6
    assert all(0 < len(chunk) <= CHUNK_SIZE for chunk in chunks)
    ranged = [chunk async for chunk in storage.open_range("clip.mp4", 10, 3 * CHUNK_SIZE)]
    assert all(0 < len(chunk) <= CHUNK_SIZE for chunk in ranged)
    assert b"".join(ranged) == data[10 : 3 * CHUNK_SIZE + 1]


async def test_open_range_of_nothing_raises_on_the_first_chunk(storage: LocalStorage) -> None:
    await storage.put("a/b.png", b"png", "image/png")
    for key in ("a/missing.mp4", "a", "../x"):
        chunks = storage.open_range(key)  # opening is lazy: nothing raised yet
        with pytest.raises(ObjectNotFound):
            await anext(chunks)


async def test_open_range_refuses_ranges_that_are_not_ranges(storage: LocalStorage) -> None:
    await storage.put("a.mp4", b"0123456789", "video/mp4")
    with pytest.raises(ValueError, match="not a byte range"):
        await collect(storage, "a.mp4", -1)
    with pytest.raises(ValueError, match="not a byte range"):
        await collect(storage, "a.mp4", 5, 4)


async def test_an_empty_object_streams_as_nothing(storage: LocalStorage, tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    assert await storage.put_file("empty.mp4", empty, "video/mp4") == 0
    assert await storage.size("empty.mp4") == 0
    assert await collect(storage, "empty.mp4") == b""


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)")
async def test_stopping_early_closes_the_file(storage: LocalStorage, tmp_path: Path) -> None:
    await storage.put_file("clip.mp4", random_file(tmp_path / "clip.mp4", 4 * CHUNK_SIZE), "")
    path = storage.path_of("clip.mp4")
    chunks = storage.open_range("clip.mp4")
    assert open_descriptors_of(path) == 0
    await anext(chunks)
    assert open_descriptors_of(path) == 1
    await chunks.aclose()  # type: ignore[attr-defined]
    assert open_descriptors_of(path) == 0
    assert await collect(storage, "clip.mp4", 0, 9) == (tmp_path / "clip.mp4").read_bytes()[:10]
    assert open_descriptors_of(path) == 0


async def test_a_large_file_goes_in_and_out_in_bounded_memory(
    storage: LocalStorage, tmp_path: Path
) -> None:
    """32 MB in by put_file and out by open_range, in full and in a range, while Python's
    allocations never peak above a few chunks: nothing holds the file whole."""
    size = 32 * MB
    source = random_file(tmp_path / "big.mp4", size)
    tracemalloc.start()
    try:
        assert await storage.put_file("videos/big.mp4", source, "video/mp4") == size
        total = 0
        async for chunk in storage.open_range("videos/big.mp4"):
            total += len(chunk)
        async for chunk in storage.open_range("videos/big.mp4", 5 * MB, 25 * MB):
            total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == size + 20 * MB + 1
    assert peak < 8 * CHUNK_SIZE, f"peak {peak} bytes while streaming {size}"
