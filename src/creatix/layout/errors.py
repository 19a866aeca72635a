"""The one error the layout step raises for bad input: which field, and why."""

from __future__ import annotations

import functools
from typing import Any


class LayoutInputError(ValueError):
    """Input the layout step cannot use: a non-font, a hostile logo, copy that cannot fit.

    ``field`` names the offending input ("font", "logo", "copy.headline", ...); ``placement``
    names the placement when the copy does not fit one. The caller maps it to a 400.
    """

    def __init__(self, field: str, message: str, *, placement: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.placement = placement

    def __reduce__(self) -> tuple[Any, ...]:
        # Raised in a worker process (``brands/file_checks.py``), it is pickled back.
        return functools.partial(type(self), placement=self.placement), (self.field, self.message)
