"""Checking a request's texts against a policy's blocklist, before anything is queued."""

from __future__ import annotations

from collections.abc import Mapping

from creatix.kit.errors import ContentPolicyViolation
from creatix.policy.blocklists import Blocklist, Match


def first_violation(blocklist: Blocklist, texts: Mapping[str, str]) -> tuple[str, Match] | None:
    """The first field (by the mapping's order) whose text the blocklist matches."""
    for field, text in texts.items():
        found = blocklist.first_match(text)
        if found is not None:
            return field, found
    return None


def refuse_blocked(blocklist: Blocklist, texts: Mapping[str, str]) -> None:
    """Raise ``ContentPolicyViolation`` naming the field and category of the first match."""
    violation = first_violation(blocklist, texts)
    if violation is None:
        return
    field, found = violation
    raise ContentPolicyViolation(
        f"The {field} was refused by the content policy (category: {found.category}).",
        category=found.category,
        param=field,
    )
