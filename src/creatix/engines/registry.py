"""Builds the catalog's engines and tells which are available.

Which engine serves a model is catalog configuration; this module maps an engine ``type`` to
its implementation. An engine that fails to start is reported, not hidden: its models are
listed as unavailable and submitting to them answers 503.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from creatix.catalog.schemas import Catalog, EngineEntry, ModelEntry
from creatix.engines.base import ImageEngine
from creatix.kit.errors import Unavailable

log = logging.getLogger(__name__)

EngineOptions = Mapping[str, str | int | float | bool]


def _preview(options: EngineOptions) -> ImageEngine:
    from creatix.engines.preview import PreviewEngine

    return PreviewEngine(delay_seconds=float(options.get("delay_seconds", 0.0)))


def _diffusers(options: EngineOptions) -> ImageEngine:
    from creatix.engines.diffusers import DiffusersEngine

    return DiffusersEngine.from_options(options)


FACTORIES: dict[str, Callable[[EngineOptions], ImageEngine]] = {
    "preview": _preview,
    "diffusers": _diffusers,
}


@dataclass(frozen=True)
class EngineStatus:
    instance: str
    type: str
    available: bool
    reason: str | None = None


class EngineRegistry:
    def __init__(self, engines: Mapping[str, EngineEntry]) -> None:
        self._engines: dict[str, ImageEngine] = {}
        self._status: dict[str, EngineStatus] = {}
        for instance, entry in engines.items():
            self._start(instance, entry)

    @classmethod
    def from_catalog(cls, catalog: Catalog) -> EngineRegistry:
        return cls(catalog.engines)

    def _start(self, instance: str, entry: EngineEntry) -> None:
        factory = FACTORIES.get(entry.type)
        if factory is None:
            reason = f"unknown engine type {entry.type!r}; known: {', '.join(FACTORIES)}"
            self._status[instance] = EngineStatus(instance, entry.type, False, reason)
            log.error("engine unavailable", extra={"engine": instance, "reason": reason})
            return
        try:
            self._engines[instance] = factory(entry.options)
        except Exception as exc:
            log.exception("engine failed to start", extra={"engine": instance})
            self._status[instance] = EngineStatus(instance, entry.type, False, str(exc))
            return
        self._status[instance] = EngineStatus(instance, entry.type, True)

    def status(self, instance: str) -> EngineStatus:
        return self._status[instance]

    def engine(self, instance: str) -> ImageEngine:
        engine = self._engines.get(instance)
        if engine is None:
            reason = self._status[instance].reason if instance in self._status else "not configured"
            raise Unavailable(f"Engine '{instance}' is not available: {reason}")
        return engine

    def engine_for(self, model: ModelEntry) -> ImageEngine:
        """The engine serving ``model``; ``Unavailable`` if it, or the model, cannot run now."""
        engine = self.engine(model.engine)
        reason = engine.unavailable_reason(model.engine_model or model.id)
        if reason is not None:
            raise Unavailable(f"Model '{model.id}' is not available: {reason}")
        return engine

    def model_status(self, model: ModelEntry) -> EngineStatus:
        """The engine's status, narrowed to this model (whose weights may be missing)."""
        status = self.status(model.engine)
        engine = self._engines.get(model.engine)
        if engine is None:
            return status
        reason = engine.unavailable_reason(model.engine_model or model.id)
        if reason is None:
            return status
        return EngineStatus(status.instance, status.type, False, reason)

    def max_batch_by_engine(self) -> dict[str, int]:
        return {instance: engine.max_batch for instance, engine in self._engines.items()}

    async def close(self) -> None:
        for engine in self._engines.values():
            await engine.close()
