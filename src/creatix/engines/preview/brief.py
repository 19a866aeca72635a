"""Reading the prompt into a ``Brief`` (palette, scene, motifs, headline); digests and RNG."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from random import Random

from creatix.engines.preview.colour import (
    RGB,
    darken,
    from_hsv,
    lighten,
    luminance,
    mix,
    resembles,
    to_hsv,
    vividness,
)
from creatix.engines.preview.vocabulary import (
    CAPTION_WORDS,
    COLOR_WORDS,
    DEFAULT_LOOK,
    HEADLINE_CONTENT_WORDS,
    HEADLINE_MAX_WORDS,
    LOOKS,
    MOTIF_WORDS,
    STOPWORDS,
    Look,
    Scene,
)
from creatix.jobs.specs import ImageSpec


@dataclass(frozen=True)
class Roles:
    """The palette by job: ``ramp`` runs dark to light, ``accent`` is the most vivid colour."""

    ramp: tuple[RGB, ...]
    accent: RGB

    @property
    def deep(self) -> RGB:
        return self.ramp[0]

    @property
    def mid(self) -> RGB:
        return self.ramp[len(self.ramp) // 2]

    @property
    def light(self) -> RGB:
        return self.ramp[-1]


@dataclass(frozen=True)
class Brief:
    """Everything the picture takes from (model, spec) except the seed."""

    palette: tuple[RGB, ...]
    roles: Roles
    scene: Scene
    motifs: frozenset[str]
    headline: str
    caption: str
    product_word: str
    look: Look
    detailed: bool
    night: bool


def _words(text: str) -> list[str]:
    return re.findall(r"[0-9A-Za-z\u00c0-\u024f][0-9A-Za-z\u00c0-\u024f'&-]*", text)


def _stem(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _lookup_forms(words: Iterable[str]) -> list[str]:
    forms: list[str] = []
    for word in words:
        lower = word.lower()
        forms.append(lower)
        if _stem(lower) != lower:
            forms.append(_stem(lower))
    return forms


def prompt_digest(model: str, spec: ImageSpec) -> bytes:
    """What fixes the look: everything that is not the seed, the size or the file format."""
    fields = (model, spec.prompt, spec.negative_prompt or "", spec.style or "", spec.quality)
    return hashlib.sha256("\x1f".join(fields).encode()).digest()


def read_brief(model: str, spec: ImageSpec) -> Brief:
    # The fallback palette follows the prompt alone, so a prompt keeps its colours across styles.
    prompt_hash = hashlib.sha256(f"{spec.prompt}\x1f{spec.negative_prompt or ''}".encode())
    palette_rng = Random(int.from_bytes(prompt_hash.digest(), "big"))
    look = LOOKS.get(spec.style or "", DEFAULT_LOOK)
    prompt_words = _words(spec.prompt)
    forms = _lookup_forms(prompt_words)
    excluded = [
        c for w in _lookup_forms(_words(spec.negative_prompt or "")) for c in COLOR_WORDS.get(w, ())
    ]
    palette = tuple(_treat(c, look) for c in _palette(forms, excluded, palette_rng))
    motifs = frozenset(m for m, words in MOTIF_WORDS.items() if words.intersection(forms))
    headline, caption = _headline(prompt_words)
    product_words = [w for w in forms if w in MOTIF_WORDS["product"] and w != "product"]
    return Brief(
        palette=palette,
        roles=_roles(palette),
        scene=_scene(motifs),
        motifs=motifs,
        headline=headline.upper() if look.uppercase else headline,
        caption=caption,
        product_word=(product_words[0] if product_words else "").upper(),
        look=look,
        detailed=spec.quality == "hd",
        night=look.night or "night" in motifs,
    )


def _scene(motifs: frozenset[str]) -> Scene:
    subjects: tuple[Scene, ...] = ("product", "portrait", "city")
    for scene in subjects:
        if scene in motifs:
            return scene
    if motifs & {"mountain", "water", "sun", "moon", "trees", "landscape"}:
        return "landscape"
    return "abstract"


def _headline(words: Sequence[str]) -> tuple[str, str]:
    """The first few content words, and (smaller) the words after them."""
    start = 0
    while start < len(words) and words[start].lower() in STOPWORDS:
        start += 1
    end, content = start, 0
    while (
        end < len(words) and content < HEADLINE_CONTENT_WORDS and end - start < HEADLINE_MAX_WORDS
    ):
        content += words[end].lower() not in STOPWORDS
        end += 1
    while end > start + 1 and words[end - 1].lower() in STOPWORDS:
        end -= 1
    headline = " ".join(words[start:end]) or "Untitled"
    caption = " ".join(words[end : end + CAPTION_WORDS]).lower()
    return headline, caption


def _palette(forms: Sequence[str], excluded: Sequence[RGB], rng: Random) -> list[RGB]:
    named: list[RGB] = []
    for form in forms:
        for colour in COLOR_WORDS.get(form, ()):
            if colour not in named and not any(resembles(colour, x) for x in excluded):
                named.append(colour)
    colours = named[:6] or _hash_palette(rng, excluded)
    return _complete(colours, rng, excluded)


def _hash_palette(rng: Random, excluded: Sequence[RGB]) -> list[RGB]:
    base_hue = rng.random()
    scheme = rng.choice(
        [(0.0, 0.08, -0.08), (0.0, 0.5, 0.06), (0.0, 0.33, 0.66), (0.0, 0.42, 0.58)]
    )
    colours: list[RGB] = []
    for offset in scheme:
        hue, sat, val = base_hue + offset, rng.uniform(0.45, 0.8), rng.uniform(0.55, 0.95)
        colour = from_hsv(hue, sat, val)
        for _ in range(4):
            if not any(resembles(colour, x) for x in excluded):
                break
            hue += 0.25
            colour = from_hsv(hue, sat, val)
        colours.append(colour)
    return colours


def _complete(colours: list[RGB], rng: Random, excluded: Sequence[RGB]) -> list[RGB]:
    """At least four colours, with a dark and a light end, in the named colours' family."""
    base = colours[0]
    hue, sat, val = to_hsv(base)
    candidates = [
        from_hsv(hue + rng.uniform(-0.03, 0.03), sat * 0.9, val * 0.38),
        lighten(base, 0.55),
        from_hsv(hue + rng.choice((-0.07, 0.07)), sat * rng.uniform(0.8, 1.0), val),
    ]
    completed = list(colours)
    for candidate in candidates:
        if len(completed) >= 4:
            break
        if not any(resembles(candidate, x) for x in excluded):
            completed.append(candidate)
    while len(completed) < 4:
        completed.append(darken(completed[-1], 0.3))
    return completed


def _treat(colour: RGB, look: Look) -> RGB:
    hue, sat, val = to_hsv(colour)
    treated = from_hsv(hue, sat * look.saturation, val * look.brightness)
    treated = mix(treated, look.tint, look.tint_amount)
    return lighten(treated, look.pastel)


def _roles(palette: Sequence[RGB]) -> Roles:
    return Roles(ramp=tuple(sorted(palette, key=luminance)), accent=max(palette, key=vividness))


def image_rng(digest: bytes, seed: int, index: int) -> Random:
    """The composition's randomness for image ``index`` of a spec: seed-, not process-, bound."""
    material = digest + seed.to_bytes(4, "big") + index.to_bytes(4, "big")
    return Random(int.from_bytes(hashlib.sha256(material).digest(), "big"))
