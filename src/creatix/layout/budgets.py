"""Character budgets: copy that is longer than a placement allows is refused before layout."""

from __future__ import annotations

from typing import TYPE_CHECKING

from creatix.layout.errors import LayoutInputError
from creatix.layout.presets import Placement

if TYPE_CHECKING:
    from creatix.layout.compose import AdCopy

MAX_LEGAL_CHARS = 200


def _budget(role: str, placement: Placement) -> int:
    return {
        "headline": placement.headline_chars,
        "body": placement.body_chars,
        "cta": placement.cta_chars,
    }[role]


def check_copy_fits(copy: AdCopy, placement: Placement) -> None:
    """Raise ``LayoutInputError`` naming the placement when a text is over its budget.

    A placement without room for a body line (``body_chars == 0``) does not show the body, so
    the body is not measured there.
    """
    if not copy.headline.strip():
        raise LayoutInputError("copy.headline", "the headline is empty")
    for role in ("headline", "body", "cta"):
        text = " ".join(getattr(copy, role).split())
        budget = _budget(role, placement)
        if role == "body" and budget == 0:
            continue
        if len(text) > budget:
            raise LayoutInputError(
                f"copy.{role}",
                f"the {role} is {len(text)} characters; placement {placement.name} "
                f"allows at most {budget}",
                placement=placement.name,
            )
    legal = " ".join((copy.legal or "").split())
    if len(legal) > MAX_LEGAL_CHARS:
        raise LayoutInputError(
            "copy.legal",
            f"the legal line is {len(legal)} characters; at most {MAX_LEGAL_CHARS} are set",
            placement=placement.name,
        )
