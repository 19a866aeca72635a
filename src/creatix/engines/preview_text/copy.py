"""The ad-copy writer: pieces of copy (headlines, taglines, bodies, bullets, calls to action,
subject lines, hashtags) composed from a ``CopyBrief`` and a small vocabulary.

A ``Writer`` is seeded: the same brief and random generator write the same copy. Each piece
respects the brief's character and word limits for its kind (a template that fits is
preferred; otherwise the shortest is cut at a word boundary), and no two pieces of one kind
repeat while the templates last.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from random import Random
from typing import Any

from creatix.engines.preview_text.brief import CopyBrief, Kind, Limit, words
from creatix.engines.preview_text.vocabulary import (
    BODY_SENTENCES,
    BULLETS,
    COLOURS,
    HEADLINES,
    PLATFORMS,
    PRODUCT_CTAS,
    RATIONALES,
    SHORT_HEADLINES,
    SUBJECT_LINES,
    TAGLINES,
    TONES,
    word_set,
)

LABELS: dict[Kind, tuple[str, str]] = {
    "headline": ("Headline", "Headlines"),
    "tagline": ("Tagline", "Taglines"),
    "body": ("Body", "Body options"),
    "cta": ("Call to action", "Calls to action"),
    "subject": ("Subject line", "Subject lines"),
    "bullets": ("Key points", "Key points"),
    "hashtags": ("Hashtags", "Hashtags"),
}
NAME_KINDS: tuple[tuple[str, frozenset[str]], ...] = tuple(
    (kind, word_set(names))
    for kind, names in (
        ("hashtag", "hashtag hashtags tags tag"),
        ("subject", "subject subjects"),
        (
            "tagline",
            "tagline taglines slogan slogans strapline motto subheadline subtitle subheading "
            "preheader kicker catchphrase",
        ),
        ("cta", "cta ctas action actions button buttons"),
        ("headline", "headline headlines title titles heading header hook hooks"),
        (
            "bullet",
            "bullet bullets feature features benefit benefits point points highlight highlights "
            "usp usps selling",
        ),
        (
            "rationale",
            "rationale reason reasons reasoning explanation why notes note comment justification",
        ),
        ("url", "url urls link links website href landing uri"),
        ("email", "email emails mail"),
        ("visual", "image visual visuals photo picture prompt alt illustration"),
        (
            "body",
            "description descriptions body copy text content message caption summary blurb "
            "paragraph details post tweet story intro pitch",
        ),
        ("tone", "tone voice mood style vibe sentiment"),
        ("product", "product products brand name item offer service"),
        ("audience", "audience target segment persona demographic customer customers"),
        ("keyword", "keyword keywords"),
        ("platform", "platform platforms channel channels network placement"),
        ("language", "language locale lang"),
        ("color", "color colour colors colours"),
        ("slug", "id slug handle key sku code ref"),
        ("headline", "variant variants option options version versions idea ideas angle"),
    )
)
NUMBER_HINTS: tuple[tuple[frozenset[str], float], ...] = tuple(
    (word_set(names), value)
    for names, value in (
        ("price cost amount budget spend fee", 29.99),
        ("discount percent percentage off savings saving", 20),
        ("rating stars score", 4.5),
        ("year", 2026),
        ("month", 6),
        ("day", 14),
        ("age", 30),
        ("length chars characters", 42),
        ("words", 8),
        ("minutes duration seconds hours days time", 15),
        ("confidence probability ratio share weight", 0.9),
        ("count quantity qty number num total items units", 3),
    )
)
BRIEF_KINDS = {
    "headline": "headline",
    "tagline": "tagline",
    "bullet": "bullets",
    "hashtag": "hashtags",
    "cta": "cta",
    "subject": "subject",
    "body": "body",
}
VARIANT_NAMES = word_set(
    "variant variants option options version versions idea ideas alternatives ads"
)
FALSE_HINTS = word_set("disabled deleted archived hidden nsfw sensitive spam expired draft private")
NAME_TOKEN = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
TRIM_CHARS = " ,:;-–—/&"


def name_tokens(name: str) -> list[str]:
    """``callToAction``, ``call_to_action`` and ``call-to-action`` alike: lower-case words."""
    return [token.lower() for token in NAME_TOKEN.findall(name)]


def kind_for(name: str) -> str:
    """Which piece a JSON property (or an array of them) named ``name`` should hold."""
    tokens = set(name_tokens(name))
    for kind, names in NAME_KINDS:
        if tokens & names:
            return kind
    return "tagline"


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def fits(text: str, limit: Limit) -> bool:
    return (limit.chars is None or len(text) <= limit.chars) and (
        limit.words is None or len(text.split()) <= limit.words
    )


def trim(text: str, limit: Limit) -> str:
    """``text`` cut at a word boundary to fit ``limit`` (mid-word only when one word is too
    long)."""
    if limit.words is not None and len(text.split()) > limit.words:
        text = " ".join(text.split()[: limit.words]).rstrip(TRIM_CHARS)
    if limit.chars is not None and len(text) > limit.chars:
        cut = text[: limit.chars + 1]
        space = cut.rfind(" ")
        shorter = cut[:space].rstrip(TRIM_CHARS) if space > 0 else ""
        text = shorter or text[: limit.chars].rstrip()
    return text


class Writer:
    """Writes the pieces of one answer from a brief; seeded by ``rng``."""

    def __init__(self, brief: CopyBrief, rng: Random) -> None:
        self.brief = brief
        self.rng = rng
        self.tone = TONES[brief.tone]
        self._pieces: dict[tuple[str, int], str] = {}
        self._used: set[str] = set()
        """Every piece written so far, normalised: no two pieces repeat while choices last."""
        self._adjectives = _Cycle(self.tone.adjectives, rng)
        self._benefits = _Cycle(self.tone.benefits, rng)

    # -- pieces ------------------------------------------------------------------------------

    def piece(self, kind: str, index: int = 0) -> str:
        """Piece ``index`` of ``kind`` (the same each time it is asked for)."""
        key = (kind, index)
        if key not in self._pieces:
            self._pieces[key] = self._write(kind, index)
        return self._pieces[key]

    def _write(self, kind: str, index: int) -> str:
        if kind == "headline":
            first = SHORT_HEADLINES if self.brief.short else HEADLINES
            rest = HEADLINES if self.brief.short else SHORT_HEADLINES
            return self._choose("headline", first, "headline", fallback=rest, named=index % 2 == 0)
        if kind == "tagline":
            return self._choose("tagline", TAGLINES, "tagline", named=index % 2 == 0)
        if kind == "body":
            return self._body()
        if kind == "cta":
            # "Try Lumen today" reads well; "Try desk lamp today" does not.
            named = any(w[:1].isupper() for w in words(self.brief.product))
            return self._choose("cta", (*self.tone.ctas, *(PRODUCT_CTAS if named else ())), "cta")
        if kind == "subject":
            return self._choose("subject", SUBJECT_LINES, "subject", named=index % 2 == 0)
        if kind == "bullet":
            return self._choose("bullet", BULLETS, "bullets")
        if kind == "rationale":
            return self._choose("rationale", RATIONALES, "body")
        if kind == "hashtags":
            count = self.brief.count("hashtags") or 3
            return " ".join(self.hashtag(i) for i in range(count))
        if kind == "visual":
            adjective = self.rng.choice(self.tone.adjectives)
            return f"A {adjective} studio photo of {self.brief.product} on a clean background"
        raise ValueError(f"unknown kind of copy {kind!r}")

    def hashtag(self, index: int) -> str:
        product_tag = "#" + "".join(
            capitalised(w) for w in words(self.brief.product) if w.isalnum()
        )
        tags = [product_tag if len(product_tag) > 1 else "#Launch", *self.tone.hashtags, "#NewIn"]
        return tags[index % len(tags)] + (str(index // len(tags) + 1) if index >= len(tags) else "")

    def _values(self) -> dict[str, str]:
        first, second = self._adjectives.next(), self._adjectives.next()
        benefit = self._benefits.next()
        product = self.brief.product
        return {
            "product": product,
            "Product": capitalised(product),
            "adj": first,
            "Adj": capitalised(first),
            "adj2": second,
            "Adj2": capitalised(second),
            "benefit": benefit,
            "Benefit": capitalised(benefit),
            "audience": self.brief.audience or "you",
            "tone": self.brief.tone,
        }

    def _usable(self, templates: Sequence[str]) -> list[str]:
        usable = [t for t in templates if self.brief.audience or "{audience}" not in t]
        return self.rng.sample(usable, len(usable))

    def _choose(
        self,
        kind: str,
        templates: Sequence[str],
        limit_kind: Kind,
        fallback: Sequence[str] = (),
        named: bool = False,
    ) -> str:
        """A fresh piece from ``templates`` (then ``fallback``) within the kind's limit; with
        ``named``, one that names the product where one fits."""
        limit = self.brief.limit(limit_kind)
        candidates = [t.format(**self._values()) for t in self._usable(templates)]
        candidates += [t.format(**self._values()) for t in self._usable(fallback)]
        if named:  # a stable sort: the seeded order stays within each group
            product = self.brief.product.lower()
            candidates.sort(key=lambda c: product not in c.lower())
        fresh = [c for c in candidates if _normal(c) not in self._used] or candidates
        chosen = next((c for c in fresh if fits(c, limit)), None)
        if chosen is None:
            chosen = trim(min(fresh, key=len), limit)
        self._used.add(_normal(chosen))
        return chosen

    def _body(self) -> str:
        limit = self.brief.limit("body")
        wanted = 1 if self.brief.short else 3 if self.brief.long else 2
        sentences: list[str] = []
        for template in self._usable(BODY_SENTENCES):
            sentence = template.format(**self._values())
            if _normal(sentence) in self._used:
                continue
            if fits(" ".join([*sentences, sentence]), limit):
                sentences.append(sentence)
            if len(sentences) == wanted:
                break
        if not sentences:  # too tight for a sentence of the body: a tagline, or a cut one
            short = self._choose("body", (*TAGLINES, BODY_SENTENCES[0]), "body", named=True)
            sentences = [short]
        self._used.update(_normal(sentence) for sentence in sentences)
        return " ".join(sentences)

    # -- by property name --------------------------------------------------------------------

    def texts_for(self, name: str, index: int = 0, item: bool = False) -> list[str]:
        """Strings a JSON property named ``name`` (or, with ``item``, the items of an array
        property named so) could hold, the most fitting first."""
        kind = kind_for(name)
        if kind == "hashtag":
            plural = name_tokens(name)[-1:] in (["hashtags"], ["tags"])
            return [self.piece("hashtags")] if plural and not item else [self.hashtag(index)]
        product = self.brief.product
        slug = self.slug()
        simple: dict[str, list[str]] = {
            "url": [f"https://www.example.com/{slug}"],
            "email": [f"hello@{slug}.example.com"],
            "tone": [self.brief.tone],
            "product": [capitalised(product)],
            "audience": [self.brief.audience or "everyone"],
            "keyword": [w.lower() for w in words(product)] or [product],
            "platform": [PLATFORMS[index % len(PLATFORMS)]],
            "language": ["en"],
            "color": [COLOURS[index % len(COLOURS)]],
            "slug": [f"{slug}-{index + 1}"],
        }
        if kind in simple:
            return simple[kind]
        return [self.piece(kind, index), self.piece(kind, index + 1), self.piece("tagline", index)]

    def count_for(self, name: str) -> int | None:
        """How many items an array property named ``name`` should have, as the prompt says
        (``3 headlines``, ``5 variants``), or None."""
        if set(name_tokens(name)) & VARIANT_NAMES:
            most = max([self.brief.variants, *(count for _, count in self.brief.kinds)])
            return most if most > 1 else None
        return self.brief.count(BRIEF_KINDS.get(kind_for(name), ""))

    def number_for(self, name: str, index: int = 0) -> float:
        tokens = set(name_tokens(name))
        if tokens & {"priority", "rank", "position", "index", "order", "step"}:
            return index + 1
        for names, value in NUMBER_HINTS:
            if tokens & names:
                return value
        return self.rng.randint(1, 10)

    def boolean_for(self, name: str) -> bool:
        return not set(name_tokens(name)) & FALSE_HINTS

    def slug(self) -> str:
        text = re.sub(r"[^a-z0-9]+", "-", self.brief.product.lower()).strip("-")
        return text[:40].strip("-") or "product"

    # -- whole answers -----------------------------------------------------------------------

    def plain(self) -> str:
        """The text/plain answer (without the preview label)."""
        kinds = self.brief.kinds
        if len(kinds) == 1:
            kind, count = kinds[0]
            return self._single(kind, max(count, self.brief.variants))
        blocks = [self._block(variant) for variant in range(self.brief.variants)]
        if len(blocks) == 1:
            return blocks[0]
        return "\n\n".join(f"Variant {i + 1}\n{block}" for i, block in enumerate(blocks))

    def _block(self, variant: int) -> str:
        if not self.brief.asked:  # the default set reads as an ad, without labels
            return "\n\n".join(self.piece(kind, variant) for kind in ("headline", "body", "cta"))
        parts = []
        for kind, count in self.brief.kinds:
            label = LABELS[kind][count > 1]
            if kind == "bullets":
                lines = [f"- {self.piece('bullet', variant * count + i)}" for i in range(count)]
                parts.append(f"{label}:\n" + "\n".join(lines))
            elif kind == "hashtags":
                parts.append(f"{label}: {self.piece('hashtags')}")
            elif count == 1:
                parts.append(f"{label}: {self.piece(kind, variant)}")
            else:
                items = [self.piece(kind, variant * count + i) for i in range(count)]
                parts.append(f"{label}:\n" + "\n".join(_numbered(items)))
        return "\n".join(parts)

    def _single(self, kind: Kind, count: int) -> str:
        if kind == "bullets":
            return "\n".join(f"- {self.piece('bullet', i)}" for i in range(count))
        if kind == "hashtags":
            return self.piece("hashtags")
        items = [self.piece(kind, i) for i in range(count)]
        if count == 1:
            return items[0]
        return ("\n\n" if kind == "body" else "\n").join(_numbered(items))

    def default_json(self) -> dict[str, Any]:
        """The JSON answer when no schema is given."""
        return {
            "headline": self.piece("headline"),
            "body": self.piece("body"),
            "call_to_action": self.piece("cta"),
        }


class _Cycle:
    """The words of a list in a seeded order, over and over: neighbours differ."""

    def __init__(self, choices: Sequence[str], rng: Random) -> None:
        self.order = rng.sample(list(choices), len(choices))
        self.position = 0

    def next(self) -> str:
        word = self.order[self.position % len(self.order)]
        self.position += 1
        return word


def _normal(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def _numbered(items: Sequence[str]) -> list[str]:
    return [f"{i + 1}. {item}" for i, item in enumerate(items)]
