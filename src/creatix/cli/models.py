"""``creatix models``: list the catalog's models and pull their weights (and those of the
image classifiers the catalog's content policies name)."""

from __future__ import annotations

import asyncio
import difflib
import json
import logging
from collections.abc import Collection
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from creatix.catalog.schemas import Catalog, ModelEntry, Route
from creatix.cli.common import (
    AsJson,
    CatalogFile,
    DataDir,
    catalog_of,
    console,
    error,
    fail,
    settings_from,
)
from creatix.config import Settings
from creatix.engines.base import PullError, PullsWeights
from creatix.engines.registry import TAKES_MODELS_DIR, Engine, EngineRegistry
from creatix.kit.errors import Unavailable
from creatix.runtime import engine_context

app = typer.Typer(no_args_is_help=True, help="List the catalog's models and pull their weights.")

WEIGHTS_MISSING = "missing"
WEIGHTS_PRESENT = "present"
WEIGHTS_UNKNOWN = "unknown"


def _engines(
    settings: Settings, loaded: Catalog, only: Collection[str] | None = None
) -> EngineRegistry:
    """The catalog's engines (or only the instances ``only``) started as ``serve`` starts
    them; an engine that fails to start is reported in the output, not as a logged traceback."""
    logging.getLogger("creatix.engines.registry").setLevel(logging.CRITICAL)
    engines = {
        instance: entry
        for instance, entry in loaded.engines.items()
        if only is None or instance in only
    }
    return EngineRegistry(engines, engine_context(settings))


def _running(registry: EngineRegistry, instance: str) -> Engine | None:
    try:
        return registry.engine(instance)
    except Unavailable:
        return None


def _weights(registry: EngineRegistry, route: Route) -> str | None:
    """present / missing for an engine that keeps weights (unknown when it did not start);
    None for an engine that has none."""
    engine = _running(registry, route.engine)
    if engine is None:
        kind = registry.status(route.engine).type
        return WEIGHTS_UNKNOWN if kind in TAKES_MODELS_DIR else None
    if not isinstance(engine, PullsWeights):
        return None
    problem = engine.unavailable_reason(route.engine_model)
    return WEIGHTS_PRESENT if problem is None else WEIGHTS_MISSING


def _listed_model(registry: EngineRegistry, entry: ModelEntry) -> dict[str, Any]:
    """A model as ``models list`` shows it: the route a new job would take (the primary one
    when none can), its weights, and whether the model can be served now."""
    status = registry.model_status(entry)
    routes = entry.routes()
    route = next((r for r in routes if r.engine == status.instance), routes[0])
    return {
        "id": entry.id,
        "kind": entry.kind.value,
        "engine": route.engine,
        "engine_type": status.type,
        "engine_model": route.engine_model,
        "weights": _weights(registry, route),
        "available": status.available,
        "reason": status.reason,
    }


@app.command("list")
def models_list(
    as_json: AsJson = False, data_dir: DataDir = None, catalog: CatalogFile = None
) -> None:
    """The catalog's models: engine, weights, and whether each can be served now (and why not)."""
    settings = settings_from(data_dir=data_dir, catalog=catalog)
    loaded = catalog_of(settings)
    registry = _engines(settings, loaded)
    try:
        rows = [_listed_model(registry, entry) for entry in loaded.models]
    finally:
        asyncio.run(registry.close())
    if as_json:
        print(json.dumps(rows))
        return
    console.print(_models_table(rows))
    _print_folded(f"model cache  {settings.models_dir.resolve()}")
    if any(row["weights"] == WEIGHTS_MISSING for row in rows):
        flag = f" --catalog {catalog}" if catalog else ""
        _print_folded(f"fetch missing weights  creatix models pull MODEL{flag}")


def _models_table(rows: list[dict[str, Any]]) -> Table:
    """The rows as a table that fits the terminal, 80 columns included: ids, hub ids and paths
    are long words, folded onto more lines, never cut short. The weights column only appears
    when some engine keeps weights."""
    with_weights = any(row["weights"] is not None for row in rows)
    table = Table()
    table.add_column("model", overflow="fold")
    table.add_column("kind")
    table.add_column("engine", overflow="fold")
    if with_weights:
        table.add_column("weights")
    table.add_column("available", overflow="fold")
    for row in rows:
        available = "yes" if row["available"] else f"[red]no[/red]: {escape(row['reason'] or '')}"
        weights = [row["weights"] or "—"] if with_weights else []
        table.add_row(escape(row["id"]), row["kind"], _engine_cell(row), *weights, available)
    return table


def _engine_cell(row: dict[str, Any]) -> str:
    """The engine instance (and its type where the names differ), then, dimmed, the engine's
    own name for the model where it is not the catalog id."""
    engine = row["engine"]
    if row["engine_type"] != engine:
        engine = f"{engine} ({row['engine_type']})"
    cell = escape(engine)
    if row["engine_model"] != row["id"]:
        cell += f"\n[dim]{escape(row['engine_model'])}[/dim]"
    return cell


def _print_folded(line: str) -> None:
    """A line of plain text, folded at the terminal's width (a path may be longer)."""
    console.print(line, markup=False, highlight=False, soft_wrap=False, overflow="fold")


def _pullable(registry: EngineRegistry, entry: ModelEntry) -> list[tuple[Route, PullsWeights]]:
    """The model's routes whose engines keep weights, with those engines; exit 1 when none
    does (or the one that would is not running)."""
    found: list[tuple[Route, PullsWeights]] = []
    down: list[str] = []
    for route in entry.routes():
        engine = _running(registry, route.engine)
        status = registry.status(route.engine)
        if isinstance(engine, PullsWeights):
            found.append((route, engine))
        elif engine is None and status.type in TAKES_MODELS_DIR:
            down.append(
                f"engine {route.engine!r} ({status.type}) is not available: {status.reason}"
            )
    if found:
        return found
    if down:
        raise error("; ".join(down))
    status = registry.status(entry.engine)
    raise error(
        f"model {entry.id!r} runs on engine {entry.engine!r} ({status.type}), "
        "which has no weights to pull."
    )


def _classifier_policies(loaded: Catalog) -> dict[str, list[str]]:
    """Each image classifier the catalog's content policies name, with those policies."""
    named: dict[str, list[str]] = {}
    for name, policy in loaded.content_policy.policies.items():
        if policy.classifier is not None:
            named.setdefault(policy.classifier.model, []).append(name)
    return named


def _pull_classifier(settings: Settings, model: str, policies: list[str], as_json: bool) -> None:
    """Pull the image classifier ``model`` that ``policies`` name into the model cache."""
    from creatix.policy.classifier_weights import pull_classifier  # noqa: PLC0415

    used_by = ("content policy " if len(policies) == 1 else "content policies ") + ", ".join(
        policies
    )
    if not as_json:
        console.print(f"Pulling {escape(model)} for {escape(used_by)}…", highlight=False)
    try:
        path = pull_classifier(model, settings.models_dir)
    except PullError as exc:
        raise error(str(exc)) from exc
    if as_json:
        body = {
            "model": model,
            "pulled": [{"policies": policies, "engine_model": model, "path": str(path)}],
            "available": True,
            "reason": None,
        }
        print(json.dumps(body))
        return
    console.print(f"Weights of {escape(model)} are at {escape(str(path))}.", highlight=False)
    console.print(
        f"Output images under {escape(used_by)} are classified with {escape(model)}.",
        highlight=False,
    )


@app.command("pull")
def models_pull(
    model: Annotated[
        str,
        typer.Argument(
            help="A catalog model id, as `models list` shows it, or the image classifier a "
            "content policy names (its classifier.model)."
        ),
    ],
    as_json: AsJson = False,
    data_dir: DataDir = None,
    catalog: CatalogFile = None,
) -> None:
    """Download a model's weights into the model cache (DATA_DIR/models) ahead of serving.

    Its engine_model must be a Hugging Face hub id (org/name); HF_TOKEN is used for gated and
    private repositories, HF_ENDPOINT names another hub. A content policy's image classifier
    (such as CompVis/stable-diffusion-safety-checker) is pulled by its hub id.
    """
    settings = settings_from(data_dir=data_dir, catalog=catalog)
    loaded = catalog_of(settings)
    entry = loaded.model(model)
    classifiers = _classifier_policies(loaded)
    if entry is None and model in classifiers:
        _pull_classifier(settings, model, classifiers[model], as_json)
        return
    if entry is None:
        known = [m.id for m in loaded.models] + list(classifiers)
        close = difflib.get_close_matches(model, known, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise fail(
            f"unknown model {model!r}{hint}; `creatix models list` shows the catalog's models"
        )
    registry = _engines(settings, loaded, only={route.engine for route in entry.routes()})
    pulled: list[dict[str, str]] = []
    try:
        for route, engine in _pullable(registry, entry):
            if not as_json:
                console.print(
                    f"Pulling {escape(route.engine_model)} for {escape(entry.id)}…",
                    highlight=False,
                )
            try:
                path = engine.pull(route.engine_model)
            except PullError as exc:
                raise error(str(exc)) from exc
            pulled.append(
                {"engine": route.engine, "engine_model": route.engine_model, "path": str(path)}
            )
            if not as_json:
                console.print(
                    f"Weights of {escape(route.engine_model)} are at {escape(str(path))}.",
                    highlight=False,
                )
        status = registry.model_status(entry)
    finally:
        asyncio.run(registry.close())
    if as_json:
        body = {
            "model": entry.id,
            "pulled": pulled,
            "available": status.available,
            "reason": status.reason,
        }
        print(json.dumps(body))
        raise typer.Exit(code=0 if status.available else 1)
    if not status.available:
        raise error(f"{entry.id} is still unavailable: {status.reason}")
    console.print(f"{escape(entry.id)} is available: creatix serve serves it.", highlight=False)
