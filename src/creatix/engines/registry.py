"""Builds the catalog's engines and tells which are available.

Which engine serves a model is catalog configuration; this module maps an engine ``type`` to
its implementation. An engine that fails to start is reported, not hidden: its models are
listed as unavailable and submitting to them answers 503.

Factories get the instance's catalog options and an ``EngineContext`` from settings: the model
cache (``DATA_DIR/models``), the default ``models_dir`` of engines that keep weights, and each
upstream provider's base URL and key.

A model has one route or several (``ModelEntry.routes``): a job goes to the first route whose
engine is running and available; the worker falls back along the rest on a provider outage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from creatix.catalog.schemas import Catalog, EngineEntry, ModelEntry, ParamValue, Route
from creatix.engines.base import ImageEngine, TextEngine, VideoEngine
from creatix.kit.errors import Unavailable

log = logging.getLogger(__name__)

EngineOptions = Mapping[str, ParamValue]
Engine = ImageEngine | TextEngine | VideoEngine


@dataclass(frozen=True)
class EngineContext:
    models_dir: Path | None = None
    """The settings' model cache: ``models_dir`` of engines whose options name none."""
    providers: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)
    """Each upstream provider's (base URL, key), from settings."""


def _preview(options: EngineOptions, context: EngineContext) -> ImageEngine:
    from creatix.engines.preview import PreviewEngine

    return PreviewEngine(delay_seconds=float(options.get("delay_seconds", 0.0)))


def _diffusers(options: EngineOptions, context: EngineContext) -> ImageEngine:
    from creatix.engines.diffusers import DiffusersEngine

    return DiffusersEngine.from_options(_with_models_dir(options, context))


def _with_models_dir(options: EngineOptions, context: EngineContext) -> EngineOptions:
    """The options, with the model cache as ``models_dir`` when they name none."""
    if context.models_dir is None or options.get("models_dir"):
        return options
    return {**options, "models_dir": str(context.models_dir)}


def _preview_text(options: EngineOptions, context: EngineContext) -> Engine:
    from creatix.engines.preview_text import PreviewTextEngine

    return PreviewTextEngine.from_options(options)


def _preview_video(options: EngineOptions, context: EngineContext) -> Engine:
    from creatix.engines.preview_video import PreviewVideoEngine

    return PreviewVideoEngine.from_options(options)


def _transformers(options: EngineOptions, context: EngineContext) -> Engine:
    from creatix.engines.transformers import TransformersEngine

    return TransformersEngine.from_options(_with_models_dir(options, context))


def _upstream(provider: str) -> Callable[[EngineOptions, EngineContext], Engine]:
    def build(options: EngineOptions, context: EngineContext) -> Engine:
        from creatix.engines.upstream import ProviderAccess, UpstreamEngine, UpstreamOptions
        from creatix.engines.upstream.providers import PROVIDERS

        parsed = UpstreamOptions.parse(options)
        base_url, key = context.providers.get(provider, ("", None))
        access = parsed.access(ProviderAccess(base_url=base_url, api_key=key))
        return UpstreamEngine(PROVIDERS[provider](parsed, access), concurrency=parsed.concurrency)

    return build


TAKES_MODELS_DIR = frozenset({"diffusers", "transformers"})
"""Engine types that keep weights on disk, under ``models_dir``."""

FACTORIES: dict[str, Callable[[EngineOptions, EngineContext], Engine]] = {
    "preview": _preview,
    "preview_text": _preview_text,
    "preview_video": _preview_video,
    "diffusers": _diffusers,
    "transformers": _transformers,
    **{provider: _upstream(provider) for provider in ("openai", "fal", "replicate", "gemini")},
}


@dataclass(frozen=True)
class ResolvedRoute:
    """A route with its running engine."""

    instance: str
    engine: Engine
    engine_model: str
    params: Mapping[str, ParamValue]

    @property
    def image_engine(self) -> ImageEngine:
        if not isinstance(self.engine, ImageEngine):
            raise Unavailable(f"Engine '{self.instance}' does not make images.")
        return self.engine

    @property
    def text_engine(self) -> TextEngine:
        if not isinstance(self.engine, TextEngine):
            raise Unavailable(f"Engine '{self.instance}' does not write text.")
        return self.engine

    @property
    def video_engine(self) -> VideoEngine:
        if not isinstance(self.engine, VideoEngine):
            raise Unavailable(f"Engine '{self.instance}' does not make videos.")
        return self.engine


@dataclass(frozen=True)
class EngineStatus:
    instance: str
    type: str
    available: bool
    reason: str | None = None


class EngineRegistry:
    def __init__(
        self, engines: Mapping[str, EngineEntry], context: EngineContext | None = None
    ) -> None:
        self.context = context or EngineContext()
        self._engines: dict[str, Engine] = {}
        self._status: dict[str, EngineStatus] = {}
        for instance, entry in engines.items():
            self._start(instance, entry)

    @classmethod
    def from_catalog(cls, catalog: Catalog, context: EngineContext | None = None) -> EngineRegistry:
        return cls(catalog.engines, context)

    def _start(self, instance: str, entry: EngineEntry) -> None:
        factory = FACTORIES.get(entry.type)
        if factory is None:
            reason = f"unknown engine type {entry.type!r}; known: {', '.join(FACTORIES)}"
            self._status[instance] = EngineStatus(instance, entry.type, False, reason)
            log.error("engine unavailable", extra={"engine": instance, "reason": reason})
            return
        try:
            self._engines[instance] = factory(entry.options, self.context)
        except Exception as exc:
            log.exception("engine failed to start", extra={"engine": instance})
            self._status[instance] = EngineStatus(instance, entry.type, False, str(exc))
            return
        self._status[instance] = EngineStatus(instance, entry.type, True)

    def status(self, instance: str) -> EngineStatus:
        return self._status[instance]

    def engine(self, instance: str) -> Engine:
        engine = self._engines.get(instance)
        if engine is None:
            reason = self._status[instance].reason if instance in self._status else "not configured"
            raise Unavailable(f"Engine '{instance}' is not available: {reason}")
        return engine

    def resolve(self, route: Route) -> ResolvedRoute:
        """The route with its engine; ``Unavailable`` when that engine is not running."""
        return ResolvedRoute(
            route.engine, self.engine(route.engine), route.engine_model, route.params
        )

    def _problem(self, route: Route) -> str | None:
        """Why ``route`` cannot serve now, or None."""
        engine = self._engines.get(route.engine)
        if engine is None:
            return self._status[route.engine].reason or "not running"
        return engine.unavailable_reason(route.engine_model)

    def available_routes(self, model: ModelEntry) -> list[ResolvedRoute]:
        """The model's routes that can serve now, in catalog order."""
        return [self.resolve(route) for route in model.routes() if self._problem(route) is None]

    def route_for(self, model: ModelEntry) -> ResolvedRoute:
        """Where a new job of ``model`` goes: its first route that can serve now;
        ``Unavailable`` (naming why) when none can."""
        routes = self.available_routes(model)
        if routes:
            return routes[0]
        raise Unavailable(f"Model '{model.id}' is not available: {self._reasons(model)}")

    def _reasons(self, model: ModelEntry) -> str:
        problems = [(route.engine, self._problem(route)) for route in model.routes()]
        if len(problems) == 1:
            return str(problems[0][1])
        return "; ".join(f"{instance}: {problem}" for instance, problem in problems)

    def model_status(self, model: ModelEntry) -> EngineStatus:
        """The status of the engine a new job of ``model`` would go to, or why none can take it
        (whose weights may be missing, or whose provider has no key)."""
        routes = self.available_routes(model)
        if routes:
            return self.status(routes[0].instance)
        primary = self.status(model.engine)
        return EngineStatus(primary.instance, primary.type, False, self._reasons(model))

    def max_batch_by_engine(self) -> dict[str, int]:
        return {
            instance: getattr(engine, "max_batch", 1) for instance, engine in self._engines.items()
        }

    def concurrency_by_engine(self) -> dict[str, int]:
        """Engines that declare how many jobs a worker may run on them at once."""
        return {
            instance: concurrency
            for instance, engine in self._engines.items()
            if (concurrency := getattr(engine, "concurrency", None)) is not None
        }

    async def close(self) -> None:
        for engine in self._engines.values():
            await engine.close()
