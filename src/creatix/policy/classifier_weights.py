"""Fetching a policy classifier's weights ahead of serving: ``creatix models pull HUB_ID``.

Like a diffusers pipeline's pull (``engines/diffusers/weights.py``, whose hub cache layout,
error messages and ``refs/main`` naming this shares): the hub id is downloaded into the model
cache (``models_dir/models--org--name/snapshots/<commit>``) by commit, and ``refs/main`` is
pointed at it only once it is complete, so a half-fetched checker is never found by a worker
running meanwhile. Only what the checker needs is fetched: ``config.json``,
``preprocessor_config.json`` and the weights (safetensors where the repository has them).
"""

from __future__ import annotations

import logging
from fnmatch import fnmatch
from pathlib import Path

from creatix.engines.base import PullError
from creatix.policy.classifier import CONFIG, PREPROCESSOR, classifier_folder, weights_problem

log = logging.getLogger(__name__)

SAFETENSORS = ("model.safetensors", "model.safetensors.index.json", "model-*-of-*.safetensors")
PICKLES = ("pytorch_model.bin", "pytorch_model.bin.index.json", "pytorch_model-*-of-*.bin")


def pull_classifier(model: str, models_dir: Path) -> Path:
    """Download the hub id ``model``'s safety checker into ``models_dir``; its folder.

    A folder already put under ``models_dir`` by hand (``org--name``) is used as it is and
    nothing is downloaded. Raises ``PullError`` with a message for a person (also when the
    diffusers extra, which the hub client comes with, is not installed).
    """
    try:
        from creatix.engines.diffusers.weights import (  # noqa: PLC0415
            REVISION,
            explain_pull_failure,
            hub_cache_folder,
            is_hub_id,
            write_ref,
        )
    except ImportError as exc:
        raise PullError(f"{exc}") from None
    if not is_hub_id(model):
        raise PullError(
            f"{model!r} is a local path, not a Hugging Face hub id (org/name): there is nothing "
            f"to download; put the checker's folder ({CONFIG}, {PREPROCESSOR} and its weights) "
            "there yourself."
        )
    found = classifier_folder(model, models_dir)
    cache = hub_cache_folder(model, models_dir)
    if weights_problem(found) is None and cache not in found.parents:
        log.info("weights already in place", extra={"model": model, "path": str(found)})
        return found
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
        folder, commit = _download(model, models_dir, REVISION)
    except PullError:
        raise
    except Exception as exc:
        log.info("pull failed", exc_info=True, extra={"model": model})
        raise PullError(explain_pull_failure(exc, model, models_dir)) from exc
    problem = weights_problem(folder)
    if problem is not None:
        raise PullError(f"{model} was downloaded but is not a safety checker: {problem}.")
    try:
        write_ref(cache / "refs" / REVISION, commit)
    except OSError as exc:
        raise PullError(explain_pull_failure(exc, model, models_dir)) from exc
    return folder


def _download(model: str, models_dir: Path, revision: str) -> tuple[Path, str]:
    """The snapshot of ``model``'s ``revision`` (its config, image processor config and
    weights) and its commit. Asked for by commit, so the hub library writes no ref."""
    from huggingface_hub import HfApi, snapshot_download  # noqa: PLC0415

    info = HfApi().model_info(model, revision=revision)
    if info.sha is None:
        raise PullError(f"The hub named no commit for {model}'s '{revision}' revision.")
    files = {sibling.rfilename for sibling in info.siblings or []}
    has_safetensors = any(fnmatch(name, pattern) for name in files for pattern in SAFETENSORS)
    weights = SAFETENSORS if has_safetensors else PICKLES
    folder = snapshot_download(
        model,
        revision=info.sha,
        cache_dir=str(models_dir),
        allow_patterns=[CONFIG, PREPROCESSOR, *weights],
    )
    return Path(folder), info.sha
