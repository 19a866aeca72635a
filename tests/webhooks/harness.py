"""A job core, storage and deliverer over a real SQLite file, with a clock the test moves."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from creatix.accounts import service as accounts
from creatix.accounts.schemas import Principal
from creatix.catalog.loader import load_catalog
from creatix.config import Settings
from creatix.engines.registry import EngineRegistry
from creatix.jobs.events import JobEvents
from creatix.jobs.records import QueueSettings
from creatix.jobs.service import JobService
from creatix.jobs.specs import ImageSpec
from creatix.kit.clock import utcnow
from creatix.kit.db import Database
from creatix.kit.migrate import upgrade_database
from creatix.storage.local import LocalStorage
from creatix.storage.signing import UrlSigner
from creatix.webhooks import service as webhooks
from creatix.webhooks.delivery import Deliverer
from creatix.webhooks.schemas import DeliveryInfo
from support import make_settings


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class Hooks:
    def __init__(self, data_dir: Path, **settings: Any) -> None:
        self.settings: Settings = make_settings(data_dir, **settings)
        upgrade_database(self.settings.resolved_database_url)
        self.db = Database(self.settings.resolved_database_url)
        catalog = load_catalog()
        self.jobs = JobService(
            self.db, catalog, EngineRegistry.from_catalog(catalog), JobEvents(), QueueSettings()
        )
        self.storage = LocalStorage(self.settings.files_dir, UrlSigner("test-secret"))
        self.clock = FakeClock(utcnow())
        self.deliverer = Deliverer(self.jobs, self.storage, self.settings, clock=self.clock)

    async def principal(self, name: str = "hooks") -> Principal:
        info = await accounts.ensure_account(self.db, name, "free", "free")
        return Principal(account_id=info.id, account_name=info.name, plan="free", key_id="key_t")

    async def delivery_to(self, url: str, account: str = "hooks") -> DeliveryInfo:
        """A job of ``account`` that ended (canceled) owing ``url`` an event: one pending
        delivery, due now.

        The clock is moved to the outbox row's creation so the delivery is due on it.
        """
        job = await self.jobs.intake.submit_image(
            await self.principal(account),
            "creatix-flash",
            ImageSpec(prompt="a webhook test", width=512, height=512, n=1, seed=1),
            webhook_url=url,
        )
        await self.jobs.lifecycle.cancel(job.id, job.account_id)
        [delivery] = await webhooks.deliveries_of(self.db, job.id)
        self.clock.now = max(self.clock.now, delivery.created_at)
        return delivery

    async def delivery(self, delivery_id: str, job_id: str) -> DeliveryInfo:
        [found] = [d for d in await webhooks.deliveries_of(self.db, job_id) if d.id == delivery_id]
        return found

    async def close(self) -> None:
        await self.deliverer.aclose()
        await self.db.dispose()
