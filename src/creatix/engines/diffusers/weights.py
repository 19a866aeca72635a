"""Fetching a model's weights ahead of serving: ``creatix models pull``.

The engine never downloads at request time; this is the one place that does. A hub id
(``stabilityai/sd-turbo``) is downloaded into ``models_dir`` in the Hugging Face cache layout
(``models_dir/models--stabilityai--sd-turbo/snapshots/<commit>``, named by ``refs/main``),
where ``config.model_dir`` finds it. ``DiffusionPipeline.download`` picks the files a pipeline
needs: each component's folder, safetensors where the repository has them, and the weights
without a variant suffix, which is what the engine loads. The hub is ``HF_ENDPOINT``
(huggingface.co by default); ``HF_TOKEN`` authenticates for gated and private repositories.

Every failure becomes a ``PullError`` saying what happened and what to do. The snapshot is
downloaded by commit and ``refs/main`` is pointed at it only once it is complete, so a
half-fetched snapshot never looks like a model, to ``models list`` or to a server running
meanwhile; the files fetched so far stay in the cache and the next pull goes on from them.
"""

from __future__ import annotations

import errno
import importlib
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

from creatix.engines.base import PullError
from creatix.engines.diffusers.config import model_dir, weights_problem

log = logging.getLogger(__name__)

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
"""A Hugging Face repository id, ``org/name``; anything else is a path on this machine."""
REVISION = "main"
MESSAGE_CHARS = 300


def is_hub_id(engine_model: str) -> bool:
    return HUB_ID.fullmatch(engine_model) is not None and ".." not in engine_model


def hub_cache_folder(engine_model: str, models_dir: Path) -> Path:
    """The Hugging Face cache folder of a hub id under ``models_dir``."""
    return models_dir / f"models--{engine_model.replace('/', '--')}"


def pull_pipeline(engine_model: str, models_dir: Path | None) -> Path:
    """Download the hub id ``engine_model``'s pipeline into ``models_dir``; its folder.

    A pipeline folder already put under ``models_dir`` by hand (``org--name``) is used as it is
    and nothing is downloaded. Raises ``PullError`` with a message for a person.
    """
    if not is_hub_id(engine_model):
        raise PullError(
            f"{engine_model!r} is a local path, not a Hugging Face hub id (org/name): there is "
            "nothing to download; put the pipeline folder (the one holding model_index.json) "
            "there yourself."
        )
    if models_dir is None:
        raise PullError("The engine has no models_dir to download into; set one in the catalog.")
    found = model_dir(engine_model, models_dir)
    cache = hub_cache_folder(engine_model, models_dir)
    if weights_problem(found) is None and cache not in found.parents:
        log.info("weights already in place", extra={"model": engine_model, "path": str(found)})
        return found

    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        folder, commit = _download(engine_model, models_dir)
    except PullError:
        raise
    except Exception as exc:
        log.info("pull failed", exc_info=True, extra={"model": engine_model})
        raise PullError(explain_pull_failure(exc, engine_model, models_dir)) from exc
    problem = weights_problem(folder)
    if problem is not None:
        raise PullError(
            f"{engine_model} was downloaded but is not a diffusers pipeline: {problem}."
        )
    try:
        write_ref(cache / "refs" / REVISION, commit)
    except OSError as exc:
        raise PullError(explain_pull_failure(exc, engine_model, models_dir)) from exc
    return folder


def _download(engine_model: str, models_dir: Path) -> tuple[Path, str]:
    """The snapshot of ``engine_model``'s ``main`` and its commit, downloaded into
    ``models_dir`` by ``DiffusionPipeline.download`` (diffusers' own warnings quiet: every
    failure is reported by the ``PullError`` instead).

    The download is asked for by commit, so the hub library writes no ``refs/main`` while it
    runs: a server reading the cache meanwhile never sees a half-fetched snapshot."""
    from diffusers import DiffusionPipeline  # noqa: PLC0415
    from diffusers.utils import logging as diffusers_logging  # noqa: PLC0415
    from huggingface_hub import HfApi  # noqa: PLC0415

    commit = HfApi().repo_info(engine_model, revision=REVISION).sha
    if commit is None:
        raise PullError(f"The hub named no commit for {engine_model}'s '{REVISION}' revision.")
    verbosity = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()
    try:
        folder = DiffusionPipeline.download(
            engine_model, cache_dir=str(models_dir), revision=commit
        )
    finally:
        diffusers_logging.set_verbosity(verbosity)
    return Path(folder), commit


def write_ref(ref: Path, commit: str) -> None:
    """Point ``ref`` (``refs/main``) at ``commit``, atomically: the pulled snapshot becomes
    the one ``config.model_dir`` finds."""
    ref.parent.mkdir(parents=True, exist_ok=True)
    scratch = ref.with_name(f".{ref.name}.{os.getpid()}.tmp")
    scratch.write_text(commit)
    os.replace(scratch, ref)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it was raised from or while handling, nearest first."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)


def _first(
    exc: BaseException, kind: type[BaseException] | tuple[type[BaseException], ...]
) -> BaseException | None:
    return next((e for e in _chain(exc) if isinstance(e, kind)), None)


def _short(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


def explain_pull_failure(exc: BaseException, engine_model: str, models_dir: Path) -> str:  # noqa: PLR0912
    """What went wrong pulling ``engine_model``, and what to do about it, in one message."""
    from huggingface_hub import constants  # noqa: PLC0415
    from huggingface_hub.errors import (  # noqa: PLC0415
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    # The HTTP client the hub library uses (httpx, or httpx2 in huggingface_hub 2).
    client = importlib.import_module("huggingface_hub.utils").httpx
    unreachable = (client.TransportError, ConnectionError, TimeoutError)
    hub = constants.ENDPOINT
    token = "set HF_TOKEN to an access token of an account that may read it"
    if (gated := _first(exc, GatedRepoError)) is not None:
        return (
            f"{engine_model} is gated on the hub ({hub}/{engine_model}): accept its terms there "
            f"while logged in, then {token} ({_status(gated)})."
        )
    if (missing := _first(exc, RepositoryNotFoundError)) is not None:
        return (
            f"There is no repository {engine_model} on the hub at {hub} ({_status(missing)}). "
            f"Check the catalog's engine_model; if the repository is private or gated, {token}."
        )
    if _first(exc, RevisionNotFoundError) is not None:
        return f"{engine_model} has no '{REVISION}' revision on the hub ({hub})."
    if (entry := _first(exc, RemoteEntryNotFoundError)) is not None:
        url = str(getattr(getattr(entry, "response", None), "url", ""))
        name = url.partition("/resolve/")[2].partition("/")[2] or "a file"
        if name == "model_index.json":
            return (
                f"{engine_model} has no model_index.json on the hub ({hub}): it is not a "
                "diffusers pipeline."
            )
        return (
            f"The hub ({hub}) could not serve {name} of {engine_model} ({_status(entry)}); "
            "try again later, or tell the repository's owners."
        )
    http = _first(exc, HfHubHTTPError)
    status = _status_code(http)
    if status in (401, 403):
        return f"The hub ({hub}) refused access to {engine_model} (HTTP {status}): {token}."
    if status is not None and status >= 500:
        return (
            f"The hub ({hub}) failed (HTTP {status}) downloading {engine_model}; try again later."
        )
    if (offline := _first(exc, OfflineModeIsEnabled)) is not None:
        return f"HF_HUB_OFFLINE is set, so nothing can be downloaded ({_short(offline)})."
    if (network := _first(exc, unreachable)) is not None:
        return (
            f"Could not reach the Hugging Face hub at {hub} ({_short(network)}). Check the "
            "network connection, a proxy (HTTPS_PROXY) and HF_ENDPOINT."
        )
    disk = next(
        (
            e
            for e in _chain(exc)
            if isinstance(e, OSError) and not isinstance(e, HfHubHTTPError) and e.errno
        ),
        None,
    )
    if isinstance(disk, OSError):
        if disk.errno in (errno.ENOSPC, errno.EDQUOT):
            return (
                f"No space left writing {engine_model} to {models_dir}: free some, then pull again."
            )
        if disk.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return f"Cannot write to {models_dir} ({_short(disk)}): check its permissions."
        return f"Disk error writing {engine_model} to {models_dir}: {_short(disk)}"
    if http is not None:
        return f"The hub ({hub}) refused the download of {engine_model}: {_short(http)}"
    return f"Downloading {engine_model} failed: {_short(exc)}"


def _status_code(exc: BaseException | None) -> int | None:
    response = getattr(exc, "response", None)
    code = getattr(response, "status_code", None)
    return code if isinstance(code, int) else None


def _status(exc: BaseException) -> str:
    code = _status_code(exc)
    return f"HTTP {code}" if code is not None else type(exc).__name__
