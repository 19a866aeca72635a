"""Where a local model's folder is: shared by the engines that keep weights on disk.

A model's ``engine_model`` is an absolute path, a path under ``models_dir`` (or, without one,
relative to the working directory), or a hub id such as ``org/name``, looked up as
``models_dir/org--name`` or in a Hugging Face cache layout
(``models_dir/models--org--name/snapshots/<refs/main>``, where ``creatix models pull`` puts
it). No torch here, and nothing is ever downloaded.
"""

from __future__ import annotations

from pathlib import Path


def model_dir(engine_model: str, models_dir: Path | None, marker: str) -> Path:
    """The folder holding ``marker`` (``model_index.json``, ``config.json``) for
    ``engine_model``, or where it would be."""
    given = Path(engine_model).expanduser()
    if given.is_absolute() or models_dir is None:
        return given
    candidates = [models_dir / given]
    if "/" in engine_model:
        flat = engine_model.strip("/").replace("/", "--")
        candidates.insert(0, models_dir / flat)
        snapshot = _hub_cache_snapshot(models_dir / f"models--{flat}")
        if snapshot is not None:
            candidates.append(snapshot)
    for candidate in candidates:
        if (candidate / marker).is_file():
            return candidate
    return candidates[0]


def _hub_cache_snapshot(repo: Path) -> Path | None:
    """The snapshot ``refs/main`` names in a Hugging Face cache folder, if there is one."""
    ref = repo / "refs" / "main"
    if not ref.is_file():
        return None
    return repo / "snapshots" / ref.read_text().strip()
