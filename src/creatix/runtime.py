"""Wiring: builds every part from the settings, once per process."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from creatix.accounts.keycache import KeyCache
from creatix.billing.ratelimit import RateLimiter
from creatix.catalog.loader import load_catalog
from creatix.catalog.schemas import Catalog, ModelEntry
from creatix.config import Settings
from creatix.engines.registry import EngineContext, EngineRegistry, EngineStatus
from creatix.jobs.events import JobEvents
from creatix.jobs.records import QueueSettings
from creatix.jobs.service import JobService
from creatix.kit.db import Database
from creatix.kit.metrics import Metrics
from creatix.people.service import People, SessionPolicy
from creatix.people.throttle import SigninThrottle
from creatix.policy.moderation import ModerationEngine
from creatix.provenance.service import OutputProvenance
from creatix.storage.base import Storage
from creatix.storage.factory import storage_from_settings
from creatix.storage.signing import UrlSigner
from creatix.webhooks.delivery import Deliverer
from creatix.worker import Worker


def engine_context(settings: Settings) -> EngineContext:
    """What engines take from settings: the model cache and the providers' URLs and keys."""
    return EngineContext(models_dir=settings.models_dir, providers=settings.provider_access())


def moderation_engine(settings: Settings) -> ModerationEngine | None:
    """The content policy's moderation engine, where one is configured."""
    if not settings.moderation_base_url:
        return None
    key = settings.moderation_api_key
    return ModerationEngine(
        settings.moderation_base_url, key.get_secret_value() if key is not None else None
    )


def output_provenance(settings: Settings) -> OutputProvenance:
    """The server id and C2PA signing identity of this server's outputs; a
    ``CredentialsError`` naming the setting when the configured one cannot be used."""
    return OutputProvenance.load(
        settings.resolved_server_id(),
        settings.data_dir,
        cert=settings.c2pa_cert,
        key=settings.c2pa_key,
        tsa_url=settings.c2pa_tsa_url,
        trust_anchors=settings.c2pa_trust_anchors,
    )


@dataclass(frozen=True)
class ListedModel:
    entry: ModelEntry
    engine: EngineStatus


@dataclass
class Runtime:
    settings: Settings
    catalog: Catalog
    db: Database
    engines: EngineRegistry
    storage: Storage
    signer: UrlSigner
    jobs: JobService
    rate_limiter: RateLimiter
    metrics: Metrics
    people: People
    signin_throttle: SigninThrottle
    provenance: OutputProvenance
    keys: KeyCache

    @classmethod
    def build(cls, settings: Settings) -> Runtime:
        catalog = load_catalog(settings.catalog)
        db = Database(settings.resolved_database_url)
        engines = EngineRegistry.from_catalog(catalog, engine_context(settings))
        signer = UrlSigner(settings.resolved_secret_key())
        queue = QueueSettings(
            lease_seconds=settings.lease_seconds,
            poll_interval_seconds=settings.poll_interval_seconds,
            max_attempts=settings.max_attempts,
        )
        metrics = Metrics()
        return cls(
            settings=settings,
            catalog=catalog,
            db=db,
            engines=engines,
            storage=storage_from_settings(settings, signer),
            signer=signer,
            jobs=JobService(
                db,
                catalog,
                engines,
                JobEvents(),
                queue,
                metrics=metrics,
                moderation=moderation_engine(settings),
                models_dir=settings.models_dir,
            ),
            rate_limiter=RateLimiter(settings.rate_limiter_uri),
            metrics=metrics,
            people=People(db, SessionPolicy.from_settings(settings)),
            signin_throttle=SigninThrottle(
                settings.rate_limiter_uri,
                per_email=settings.signin_attempts_per_email,
                per_address=settings.signin_attempts_per_address,
                window_seconds=settings.signin_window_seconds,
            ),
            provenance=output_provenance(settings),
            keys=KeyCache(db),
        )

    def worker(self, models: Collection[str] | None = None) -> Worker:
        return Worker(
            self.jobs,
            self.storage,
            concurrency=self.settings.worker_concurrency,
            lease_seconds=self.settings.lease_seconds,
            poll_interval_seconds=self.settings.poll_interval_seconds,
            models=models,
            provenance=self.provenance,
        )

    def deliverer(self) -> Deliverer:
        return Deliverer(
            self.jobs,
            self.storage,
            self.settings,
            poll_interval_seconds=min(1.0, self.settings.poll_interval_seconds),
            metrics=self.metrics,
        )

    def models(self) -> list[ListedModel]:
        return [ListedModel(m, self.engines.model_status(m)) for m in self.catalog.models]

    async def close(self) -> None:
        await self.jobs.following.close()
        await self.engines.close()
        if self.jobs.policy.moderation is not None:
            await self.jobs.policy.moderation.close()
        self.provenance.close()
        await self.db.dispose()
