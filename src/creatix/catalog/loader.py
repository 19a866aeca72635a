"""Reads the catalog: the YAML shipped in the package, or an operator's file replacing it.

An operator's file may start from another catalog with ``extends``: ``shipped`` (the package's
own) or a path relative to the file. Each top-level section the file gives (``engines``,
``models``, ``styles``, ``plans``, ``default_plan``, ``visible_marks``) replaces the base's
whole; the others are the base's. So a file that routes models to other engines needs no copy
of the styles and plans.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from PIL import Image
from pydantic import ValidationError

from creatix.catalog.schemas import Catalog, ContentPolicyEntry
from creatix.policy.blocklists import PolicyFileError, load_blocklists

SHIPPED = "shipped"


class CatalogError(Exception):
    pass


def load_catalog(path: Path | None = None) -> Catalog:
    source = str(path) if path is not None else "the shipped catalog"
    try:
        catalog = Catalog.model_validate(_sections(path, seen=()))
    except ValidationError as exc:
        raise CatalogError(f"invalid catalog in {source}: {exc}") from exc
    base = path.parent if path is not None else None
    resolved: dict[str, ContentPolicyEntry] = {}
    for name, policy in catalog.content_policy.policies.items():
        try:
            load_blocklists(policy.blocklists, base)
        except PolicyFileError as exc:
            raise CatalogError(f"content policy {name!r}: blocklist {exc}") from None
        except OSError as exc:
            raise CatalogError(f"content policy {name!r}: cannot read blocklist: {exc}") from None
        # Paths relative to the catalog file, made absolute, so whoever loads them later
        # (the job core, the worker) reads the files this check read.
        files = [
            str(base / file) if base is not None and file != SHIPPED else file
            for file in policy.blocklists
        ]
        resolved[name] = policy.model_copy(update={"blocklists": files})
    section = catalog.content_policy.model_copy(update={"policies": resolved})
    return catalog.model_copy(update={"content_policy": section})


def _sections(path: Path | None, seen: tuple[Path, ...]) -> dict[str, Any]:
    """The catalog's top-level sections, with those of the catalog it extends filled in."""
    data = _read(path)
    if path is not None:
        _resolve_logos(data, path)
    base = data.pop("extends", None)
    if base is None:
        return data
    if path is None or not isinstance(base, str):
        raise CatalogError(f"invalid catalog in {path}: extends must name a catalog")
    base_path = None if base == SHIPPED else (path.parent / base).resolve()
    if base_path is not None and base_path in seen:
        raise CatalogError(f"catalog {path} extends itself through {base}")
    return {**_sections(base_path, (*seen, path.resolve())), **data}


def _resolve_logos(data: dict[str, Any], path: Path) -> None:
    """Make each visible mark's logo path absolute (relative paths are the file's) and check
    it is a picture that can be read, so a wrong path fails at start, not on every job."""
    marks = data.get("visible_marks")
    styles = marks.get("marks") if isinstance(marks, dict) else None
    if not isinstance(styles, dict):
        return
    for name, style in styles.items():
        logo = style.get("logo") if isinstance(style, dict) else None
        if not isinstance(logo, str) or not logo:
            continue
        resolved = (path.parent / logo).resolve()
        try:
            with Image.open(resolved) as picture:
                picture.verify()
        except (OSError, ValueError) as exc:
            raise CatalogError(
                f"invalid catalog in {path}: visible_marks.marks.{name}.logo: cannot read "
                f"{resolved}: {exc}"
            ) from exc
        style["logo"] = str(resolved)


def _read(path: Path | None) -> dict[str, Any]:
    if path is None:
        text = resources.files("creatix.catalog").joinpath("catalog.yaml").read_text()
    else:
        try:
            text = path.read_text()
        except OSError as exc:
            raise CatalogError(f"cannot read catalog {path}: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogError(f"invalid catalog in {path or 'the shipped catalog'}: {exc}") from exc
    if not isinstance(data, dict):
        raise CatalogError(f"invalid catalog in {path or 'the shipped catalog'}: not a mapping")
    return data
