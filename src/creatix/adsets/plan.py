"""What an ad set is made of, decided before anything is enqueued: its placements, the copy
budget they allow, the copy job's request and JSON Schema, and each key visual's request.

Pure functions over the layout package's ``Placement``; every refusal is an
``InvalidRequest`` naming the canonical field (``placements[2]``, ``brief.cta``, ...).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from creatix.brands.schemas import BrandKit
from creatix.catalog.schemas import ImageLimits
from creatix.jobs.specs import ChatTurn, ImageSpec, TextConfig, TextSpec, seed_or_random
from creatix.kit.errors import InvalidRequest
from creatix.layout import (
    PLACEMENTS,
    AdCopy,
    FontFace,
    LayoutInputError,
    Placement,
    check_copy_fits,
    custom_placement,
    missing_glyphs,
)

MAX_PLACEMENTS = 12
MAX_VARIANTS = 6
VISUAL_NEGATIVE = "text, letters, words, typography, captions, watermark, logo"
VISUAL_STEP = 16
"""Key visuals' sides are multiples of this: what latent diffusion models need (8 for Stable
Diffusion 1.5 and XL, 16 for SD3 and FLUX); the layout step crops to each placement anyway."""


@dataclass(frozen=True)
class Brief:
    """What the ad set is about, in canonical terms."""

    product: str
    audience: str
    offer: str
    input_image: str | None = None
    cta: str | None = None
    """A call to action every variant uses (else the kit's default, else the copy model's)."""


@dataclass(frozen=True)
class CopyBudget:
    """The most characters each piece of copy may have: the smallest of the placements'."""

    headline: int
    body: int
    cta: int


@dataclass(frozen=True)
class CustomSize:
    width: int
    height: int


def resolve_placements(items: Sequence[str | CustomSize]) -> list[Placement]:
    """The placements asked for: preset names or custom sizes; a 400 naming the item."""
    if not items:
        raise InvalidRequest("placements must name at least one placement.", param="placements")
    if len(items) > MAX_PLACEMENTS:
        raise InvalidRequest(
            f"placements may name at most {MAX_PLACEMENTS} placements.", param="placements"
        )
    found: list[Placement] = []
    for index, item in enumerate(items):
        field = f"placements[{index}]"
        if isinstance(item, str):
            placement = PLACEMENTS.get(item)
            if placement is None:
                known = ", ".join(PLACEMENTS)
                raise InvalidRequest(
                    f"{field} '{item[:40]}' is not a placement; presets: {known}, or a custom "
                    "{width, height}.",
                    param=field,
                    code="unknown_placement",
                )
        else:
            try:
                placement = custom_placement(item.width, item.height)
            except LayoutInputError as exc:
                raise InvalidRequest(f"{field}: {exc.message}", param=field) from exc
        if any(other.name == placement.name for other in found):
            raise InvalidRequest(f"{field} '{placement.name}' is named twice.", param=field)
        found.append(placement)
    return found


def copy_budget(placements: Sequence[Placement]) -> CopyBudget:
    """The budget copy must keep to fit every placement. A placement without room for a body
    line (``body_chars`` 0) shows none, so it does not shorten the others' body."""
    bodies = [p.body_chars for p in placements if p.body_chars > 0]
    return CopyBudget(
        headline=min(p.headline_chars for p in placements),
        body=min(bodies, default=0),
        cta=min(p.cta_chars for p in placements),
    )


def fixed_cta(brief: Brief, kit: BrandKit) -> str | None:
    return brief.cta or kit.default_cta


def check_fixed_copy(brief: Brief, kit: BrandKit, placements: Sequence[Placement]) -> None:
    """The copy the brief and the kit fix (the call to action, the legal line) must fit
    every placement; a 400 naming the placement that it does not fit."""
    cta = fixed_cta(brief, kit)
    for index, placement in enumerate(placements):
        field = f"placements[{index}]"
        if cta is not None and len(cta) > placement.cta_chars:
            raise InvalidRequest(
                f"The call to action '{cta}' ({len(cta)} characters) does not fit the "
                f"placement {placement.name} ({field}), which takes at most "
                f"{placement.cta_chars}; choose a shorter one or leave that placement out.",
                param=field,
                code="copy_does_not_fit",
            )
        try:
            check_copy_fits(
                AdCopy(headline="A", body="", cta=cta or "Go", legal=kit.legal_line), placement
            )
        except LayoutInputError as exc:
            raise InvalidRequest(
                f"The brief's copy does not fit the placement {placement.name} ({field}): "
                f"{exc.message}",
                param=field,
                code="copy_does_not_fit",
            ) from exc


def check_fixed_glyphs(brief: Brief, kit: BrandKit, font: FontFace) -> None:
    """The copy the brief and the kit fix must be drawable in the kit's font: a 400 naming
    the characters it has no glyphs for (``brief.cta``, or the kit's: ``brand_kit_id``)."""
    fixed = [
        ("brief.cta", brief.cta),
        ("brand_kit_id", None if brief.cta else kit.default_cta),
        ("brand_kit_id", kit.legal_line),
    ]
    for field, text in fixed:
        missing = missing_glyphs(font, text) if text else []
        if missing:
            raise InvalidRequest(
                f"The kit's font {kit.font_name} has no glyphs for {''.join(missing[:20])!r} "
                f"in {text!r}; change the text or upload a font that has them.",
                param=field,
                code="font_missing_glyphs",
            )


def banned_pattern(words: Sequence[str]) -> str | None:
    """A case-insensitive RE2 pattern matching any of ``words`` as a whole word."""
    if not words:
        return None
    escaped = "|".join(re.escape(word) for word in sorted(set(words), key=len, reverse=True))
    return rf"(?i)(?:^|\W)(?:{escaped})(?:\W|$)"


def copy_schema(
    variants: int, budget: CopyBudget, cta: str | None, banned: Sequence[str]
) -> dict[str, Any]:
    """The JSON Schema the copy job's answer must meet: ``variants`` items of headline, body
    and call to action within ``budget``, the fixed call to action where there is one, and
    none of the banned words (``not`` a pattern of them)."""
    pattern = banned_pattern(banned)
    refuse: dict[str, Any] = {"not": {"pattern": pattern}} if pattern else {}

    def text(most: int, least: int = 1) -> dict[str, Any]:
        return {"type": "string", "minLength": least, "maxLength": most, **refuse}

    return {
        "type": "object",
        "required": ["variants"],
        "additionalProperties": False,
        "properties": {
            "variants": {
                "type": "array",
                "minItems": variants,
                "maxItems": variants,
                "items": {
                    "type": "object",
                    "required": ["headline", "body", "cta"],
                    "additionalProperties": False,
                    "properties": {
                        "headline": text(budget.headline),
                        "body": text(budget.body, 0) if budget.body else {"const": ""},
                        "cta": {"const": cta} if cta is not None else text(budget.cta),
                    },
                },
            }
        },
    }


def copy_spec(
    brief: Brief, kit: BrandKit, placements: Sequence[Placement], variants: int
) -> TextSpec:
    """The copy job: every variant's headline, body line and call to action, as JSON."""
    budget = copy_budget(placements)
    cta = fixed_cta(brief, kit)
    rules = [f"You write ad copy for the brand {kit.name}."]
    if kit.tone_of_voice:
        rules.append(f"Tone of voice: {kit.tone_of_voice}.")
    if kit.banned_words:
        rules.append(f"Never use these words: {', '.join(kit.banned_words)}.")
    rules.append("Answer with the JSON value only.")
    ask = [
        f"Product: {brief.product}",
        f"Audience: {brief.audience}",
        f"Offer: {brief.offer}",
        f"Write {variants} variants, each a headline under {budget.headline + 1} characters, "
        + (f"a body line under {budget.body + 1} characters" if budget.body else "no body")
        + (
            f" and the call to action {json.dumps(cta)}."
            if cta
            else f" and a call to action under {budget.cta + 1} characters."
        ),
    ]
    return TextSpec(
        messages=[ChatTurn(role="user", content="\n".join(ask))],
        system_instruction=" ".join(rules),
        config=TextConfig(
            response_mime_type="application/json",
            response_json_schema=copy_schema(variants, budget, cta, kit.banned_words),
        ),
    )


def visual_placement(placements: Sequence[Placement]) -> int:
    """The index of the placement the key visuals are sized for: the largest by area."""
    return max(range(len(placements)), key=lambda i: placements[i].width * placements[i].height)


def visual_size(placement: Placement, limits: ImageLimits, index: int) -> tuple[int, int]:
    """The key visual's size for ``placement`` (the ``index``-th): its sides rounded to
    multiples of ``VISUAL_STEP`` within the model's sides; a placement larger than the model
    makes is a 400 naming it."""
    if max(placement.width, placement.height) > limits.max_side:
        raise InvalidRequest(
            f"placements[{index}] needs a key visual of {placement.width}x{placement.height}, "
            f"and the image model makes sides of at most {limits.max_side} px.",
            param=f"placements[{index}]",
            code="size_out_of_range",
        )

    def side(length: int) -> int:
        stepped = max(VISUAL_STEP, int(length / VISUAL_STEP + 0.5) * VISUAL_STEP)
        while stepped > limits.max_side:
            stepped -= VISUAL_STEP
        while stepped < limits.min_side:
            stepped += VISUAL_STEP
        return stepped

    return side(placement.width), side(placement.height)


def visual_spec(
    brief: Brief,
    kit: BrandKit,
    size: tuple[int, int],
    variant: int,
    engine_params: dict[str, str | int | float | bool],
) -> ImageSpec:
    """A key visual without text, of ``size`` (the layout step crops it to each placement)."""
    # The product first: an engine that sets the prompt's first words as type (the preview
    # engine's headline) shows the product, and real models weigh early words most.
    prompt = (
        f"{brief.product}, an advertising key visual for {brief.audience}; {brief.offer}. "
        f"Brand colours {kit.colors.primary} and {kit.colors.secondary}. One clear subject, "
        f"calm space around it, variation {variant + 1}. No text, no lettering, no logos."
    )
    return ImageSpec(
        prompt=prompt,
        negative_prompt=VISUAL_NEGATIVE,
        width=size[0],
        height=size[1],
        seed=seed_or_random(None),
        input_image=brief.input_image,
        engine_params=dict(engine_params),
    )


def parse_copy(text: str, variants: int, banned: Sequence[str]) -> list[AdCopy]:
    """The copy job's answer as each variant's copy; ``ValueError`` when it is not (the
    schema was enforced, so this is the last word on banned words, not the first)."""
    value = json.loads(text)
    items = value["variants"]
    if not isinstance(items, list) or len(items) != variants:
        raise ValueError(f"the answer holds {len(items)} variants, not {variants}")
    pattern = banned_pattern(banned)
    found = []
    for item in items:
        copy = AdCopy(headline=str(item["headline"]), body=str(item["body"]), cta=str(item["cta"]))
        if pattern and any(
            re.search(pattern, piece) for piece in (copy.headline, copy.body, copy.cta)
        ):
            raise ValueError("the copy uses a banned word")
        found.append(copy)
    return found
