"""Reads the catalog: the YAML shipped in the package, or an operator's file replacing it."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from creatix.catalog.schemas import Catalog


class CatalogError(Exception):
    pass


def load_catalog(path: Path | None = None) -> Catalog:
    if path is None:
        text = resources.files("creatix.catalog").joinpath("catalog.yaml").read_text()
        source = "the shipped catalog"
    else:
        try:
            text = path.read_text()
        except OSError as exc:
            raise CatalogError(f"cannot read catalog {path}: {exc}") from exc
        source = str(path)
    try:
        return Catalog.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as exc:
        raise CatalogError(f"invalid catalog in {source}: {exc}") from exc
