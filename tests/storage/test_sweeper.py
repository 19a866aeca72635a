"""The sweeper of orphaned outputs over local files: what no row names and is older than the
grace period goes; what an asset, upload or ad-set creative row names, what is younger, and
what lies outside the output folders stays. (The same against S3: ``test_s3.py``.) Also
``list_objects``."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from orphans import LAYOUT, name_in_rows, stored_layout

from creatix.background import BackgroundWork
from creatix.jobs.sweeper import OrphanSweeper
from creatix.kit.clock import utcnow
from creatix.kit.db import Database
from creatix.kit.migrate import upgrade_database
from creatix.runtime import Runtime
from creatix.storage.local import LocalStorage
from creatix.storage.signing import UrlSigner
from support import make_settings

HOURS = 3600


async def all_keys(storage: LocalStorage) -> list[str]:
    return sorted(
        path.relative_to(storage.root).as_posix()
        for path in storage.root.rglob("*")
        if path.is_file()
    )


def backdate(storage: LocalStorage, keys: list[str], seconds: float) -> None:
    then = time.time() - seconds
    for key in keys:
        os.utime(storage.path_of(key), (then, then))


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "files", UrlSigner("test-secret"))


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    upgrade_database(url)
    database = Database(url)
    yield database
    await database.dispose()


async def test_list_objects_pages_through_a_folder(storage: LocalStorage) -> None:
    keys = [f"images/a/job_{i}/{j}.png" for i in range(4) for j in range(3)]
    for key in [*keys, "uploads/a/u.png", "imagesque/not-under.png"]:
        await storage.put(key, b"x", "image/png")
    backdate(storage, ["images/a/job_0/0.png"], 2 * HOURS)

    pages = [page async for page in storage.list_objects("images/", page_size=5)]
    assert [len(page) for page in pages] == [5, 5, 2]
    listed = {item.key: item.modified for page in pages for item in page}
    assert sorted(listed) == sorted(keys)
    age = (utcnow() - listed["images/a/job_0/0.png"]).total_seconds()
    assert 2 * HOURS - 60 < age < 2 * HOURS + 60
    assert all(
        (utcnow() - when).total_seconds() < HOURS
        for key, when in listed.items()
        if key != "images/a/job_0/0.png"
    )

    assert [page async for page in storage.list_objects("videos/")] == []
    for bad in ("images", "../", "images//", ""):
        with pytest.raises(ValueError, match="not a folder"):
            _ = [page async for page in storage.list_objects(bad)]


async def test_the_sweeper_deletes_old_files_no_row_names(
    storage: LocalStorage, db: Database
) -> None:
    await stored_layout(storage)
    await name_in_rows(
        db,
        assets=LAYOUT.named_by_asset,
        uploads=LAYOUT.named_by_upload,
        creatives=LAYOUT.named_by_creative,
    )
    everything_but_young = sorted(
        set(LAYOUT.survivors + LAYOUT.old_orphans) - set(LAYOUT.young_orphans)
    )
    backdate(storage, everything_but_young, 2 * HOURS)

    # Pages of two keys: the sweep is page by page, never the whole listing at once.
    sweeper = OrphanSweeper(db, storage, grace_seconds=HOURS, interval_seconds=HOURS, page_size=2)
    first, second = await asyncio.gather(sweeper.sweep(), sweeper.sweep())

    assert await all_keys(storage) == LAYOUT.survivors
    # Two sweeps at once (two workers of a cluster) share the work, and fail on nothing.
    assert first.deleted + second.deleted >= len(LAYOUT.old_orphans)
    again = await sweeper.sweep()
    assert again.deleted == 0
    assert again.old == sum(
        map(len, (LAYOUT.named_by_asset, LAYOUT.named_by_upload, LAYOUT.named_by_creative))
    )


async def test_nothing_goes_before_the_grace_period(storage: LocalStorage, db: Database) -> None:
    await stored_layout(storage)
    await name_in_rows(
        db,
        assets=LAYOUT.named_by_asset,
        uploads=LAYOUT.named_by_upload,
        creatives=LAYOUT.named_by_creative,
    )
    backdate(storage, LAYOUT.old_orphans, 30 * 60)

    sweeper = OrphanSweeper(db, storage, grace_seconds=HOURS, interval_seconds=HOURS)
    swept = await sweeper.sweep()

    assert swept.deleted == 0
    assert await all_keys(storage) == sorted(LAYOUT.survivors + LAYOUT.old_orphans)


async def test_every_worker_process_sweeps_in_the_background(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, orphan_sweep_interval_seconds=0.2, orphan_grace_seconds=600)
    upgrade_database(settings.resolved_database_url)
    runtime = Runtime.build(settings)
    storage = runtime.storage
    assert isinstance(storage, LocalStorage)
    await stored_layout(storage)
    await name_in_rows(
        runtime.db,
        assets=LAYOUT.named_by_asset,
        uploads=LAYOUT.named_by_upload,
        creatives=LAYOUT.named_by_creative,
    )
    backdate(
        storage, LAYOUT.named_by_asset + LAYOUT.named_by_upload + LAYOUT.old_orphans, 2 * HOURS
    )

    background = BackgroundWork(runtime, worker=True)
    background.start()
    try:
        deadline = time.monotonic() + 30
        while await all_keys(storage) != LAYOUT.survivors:
            assert time.monotonic() < deadline, await all_keys(storage)
            await asyncio.sleep(0.1)
    finally:
        await background.stop(0)
        await runtime.close()
