"""What a generation costs, from the catalog: never from code."""

from __future__ import annotations

from creatix.catalog.schemas import ModelEntry
from creatix.jobs.specs import ImageSpec
from creatix.kit.errors import InvalidRequest


def credits_per_image(model: ModelEntry, spec: ImageSpec) -> int:
    """The price of one image of ``spec`` on ``model``."""
    table = model.price_table
    if table is None:
        return model.credits_per_image
    key = table.key(spec.engine_params)
    if key not in table.prices:
        choices = ", ".join(sorted(table.prices))
        raise InvalidRequest(
            f"{model.id} has no price for {'/'.join(table.by)} = {key}; priced: {choices}.",
            param=table.by[0],
            code="invalid_value",
        )
    return table.prices[key]
