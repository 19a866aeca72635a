"""Reading a conversation into a ``CopyBrief``: product, audience, tone and format cues.

The last user message is read first, then the system instruction (for what the message does
not say). Everything here is plain pattern matching over English; what is not understood is
left to the defaults (friendly tone, a headline, a short body and a call to action).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from creatix.engines.preview_text.vocabulary import (
    AUDIENCE_NOUNS,
    DEFAULT_PRODUCT,
    DEFAULT_TONE,
    MAX_COUNT,
    NUMBER_WORDS,
    STOPWORDS,
    TONE_WORDS,
    word_set,
)
from creatix.jobs.specs import TextSpec

Kind = str
"""A piece of copy: headline, tagline, body, cta, subject, bullets or hashtags."""

KIND_PATTERNS: dict[Kind, str] = {
    "subject": r"subject[- ]lines?|email subjects?",
    "headline": r"headlines?|titles?|headings?|headers?",
    "tagline": r"taglines?|slogans?|straplines?|catchphrases?|mottos?",
    "bullets": r"bullet(?:ed)?[- ]?(?:points?|list)?|bullets|key (?:points|benefits|features)",
    "hashtags": r"hashtags?",
    "cta": r"ctas?\b|calls?[- ]to[- ]action|buttons?(?: text| label)?",
    "body": (
        r"descriptions?|body(?: copy| text)?|paragraphs?|blurbs?|captions?|posts?|tweets?"
        r"|product copy"
    ),
}
KIND_RE = re.compile(
    "|".join(f"(?P<{kind}>\\b(?:{pattern}))" for kind, pattern in KIND_PATTERNS.items()),
    re.IGNORECASE,
)
COUNT_WORD = r"\d{1,2}|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))
COUNT_WINDOW = 4
"""Words before a piece's name that may say how many (``3 short punchy headlines``)."""
COUNT_CHARS = 200
"""How far before a piece's name those words are looked for (each look is then bounded)."""
COUNT_STOP = frozenset(("and", "or", "with", "plus", "then"))
VARIANTS_RE = re.compile(
    rf"\b(?:(?P<count>{COUNT_WORD})\s+(?:[\w'-]+\s+){{0,2}}?)?"
    r"(?P<word>variants?|versions?|options?|alternatives?|variations?|ideas?|takes?|ads)\b",
    re.IGNORECASE,
)
SHORT_RE = re.compile(
    r"\b(?:short|shorter|brief|concise|punchy|snappy|succinct|one[- ]liners?|one[- ]line|"
    r"single[- ]line|tight)\b",
    re.IGNORECASE,
)
LONG_RE = re.compile(r"\b(?:long|longer|detailed|in-depth|thorough)\b", re.IGNORECASE)
LIMIT_RE = re.compile(
    r"(?P<op>\b(?:under|below|less than|fewer than|shorter than|maximum of|max(?:imum)?|"
    r"at most|no more than|not more than|within|up to|limit(?:ed)? (?:of|to)|at least|"
    r"minimum of|min(?:imum)?|over|more than)\b\s*+|<=\s*+|<\s*+|≤\s*+)?"
    r"(?P<n>\d{1,4})\s*+-?\s*+(?P<unit>characters?|chars?|letters|words?)\b",
    re.IGNORECASE,
)
NEAR_BEFORE = re.compile(r"[\s(:–-]*(?:[\w']+\s+){0,3}?[\s(:–-]*")
"""What may stand between a piece's name and its limit: a few words, no clause break."""
SPACES_AND_DASHES = re.compile(r"[ -]*+")
EACH_RE = re.compile(r"\s*(?:each|apiece|per (?:piece|line|item|variant|option))\b", re.I)
STRICT_OPS = ("under", "below", "less than", "fewer than", "shorter than", "<")
IGNORED_OPS = ("at least", "minimum", "min", "over", "more than")
LABEL_RE = r"(?im)^[^\S\n]*(?:{labels})\s*[:=\-–]\s*(?P<value>[^\n]+)$"
PRODUCT_LABEL = re.compile(
    LABEL_RE.format(labels=r"product(?: name)?|brand|item|offer|service|app"),
)
AUDIENCE_LABEL = re.compile(LABEL_RE.format(labels=r"(?:target )?audience|target|for whom"))
TONE_LABEL = re.compile(LABEL_RE.format(labels=r"tone(?: of voice)?|voice|style|mood"))
CALLED = re.compile(r"\b(?:called|named|brand name)\s+", re.IGNORECASE)
QUOTED = re.compile(r"[\"“](?P<value>[^\"”\n]{2,48})[\"”]")
SUBJECT_INTRO = re.compile(
    r"\b(?:for|about|promoting|promote|advertising|advertise|selling|sell|launching|launch|"
    r"introducing|introduce|announcing|announce|featuring|feature|showcasing|showcase|of)\s+",
    re.IGNORECASE,
)
AUDIENCE_INTRO = re.compile(
    r"\b(?:aimed at|targeting|targeted at|targeted to|geared (?:to|toward|towards)|"
    r"tailored (?:to|for)|speaking to|written for|for an audience of|audience of|"
    r"audience is)\s+",
    re.IGNORECASE,
)
FOR = re.compile(r"\bfor\s+", re.IGNORECASE)
PHRASE_END = re.compile(
    r"(?<!\s)\s++(?:(?:for|about|to|that|which|who|whose|aimed|targeting|targeted|with|under|"
    r"below|using|as|and|in|on|at|by|within|while|so|because|but|or|plus|including|like|please|"
    r"max)\b|-\s|\d)|[,.;:!?()\n\[\]\"“”]",
    re.IGNORECASE,
)
LEADING = word_set(
    """a an the our my your their his her its this these that those some new brand-new
    latest upcoming all-new next"""
)
TRAILING = word_set(
    """ad ads advert adverts advertisement campaign campaigns copy launch launches promo
    promotion post posts headline headlines tagline taglines slogan slogans description
    descriptions caption captions email emails banner banners"""
)
WORD = re.compile(r"[0-9A-Za-z\u00c0-\u024f][0-9A-Za-z\u00c0-\u024f'&+-]*")
MAX_PHRASE_WORDS = 5


@dataclass(frozen=True)
class Limit:
    """The most characters and words one piece of copy may have (None: no limit)."""

    chars: int | None = None
    words: int | None = None

    def tighter(self, other: Limit) -> Limit:
        return Limit(_least(self.chars, other.chars), _least(self.words, other.words))


@dataclass(frozen=True)
class CopyBrief:
    product: str
    """As the prompt wrote it (``cold brew coffee``), or ``DEFAULT_PRODUCT``."""
    audience: str | None
    tone: str
    kinds: tuple[tuple[Kind, int], ...]
    """The pieces asked for, in the prompt's order, with how many of each."""
    variants: int
    """How many versions of the whole set of pieces."""
    short: bool = False
    long: bool = False
    limits: dict[Kind | None, Limit] = field(default_factory=dict)
    """Per piece kind; the ``None`` key holds limits said of the copy as a whole."""
    asked: bool = False
    """Whether the prompt asked for particular pieces (else the default set is written)."""

    def limit(self, kind: Kind) -> Limit:
        general = self.limits.get(None, Limit())
        own = self.limits.get(kind)
        return general if own is None else general.tighter(own)

    def count(self, kind: Kind) -> int | None:
        return next((count for k, count in self.kinds if k == kind), None)


def _least(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)


def read_brief(spec: TextSpec) -> CopyBrief:
    user = next((t.content for t in reversed(spec.messages) if t.role == "user"), "")
    system = spec.system_instruction
    product = _product(user) or _product(system) or DEFAULT_PRODUCT
    audience = _audience(user, product) or _audience(system, product)
    kinds, asked = _kinds(user)
    if not asked:
        kinds, asked = _kinds(system)
    if not asked:
        kinds = (("headline", 1), ("body", 1), ("cta", 1))
    limits = _limits(system)
    for kind, limit in _limits(user).items():  # the message's limits win over the system's
        limits[kind] = limit
    return CopyBrief(
        product=product,
        audience=audience,
        tone=_tone(user) or _tone(system) or DEFAULT_TONE,
        kinds=kinds,
        variants=_variants(user),
        short=bool(SHORT_RE.search(user) or SHORT_RE.search(system)),
        long=bool(LONG_RE.search(user)),
        limits=limits,
        asked=asked,
    )


def words(text: str) -> list[str]:
    return WORD.findall(text)


def _phrase(text: str) -> str:
    """The noun phrase ``text`` starts with: up to the next clause word or punctuation, without
    leading articles and possessives or trailing format words."""
    end = PHRASE_END.search(text)
    found = words(text[: end.start()] if end else text)
    while found and found[0].lower() in LEADING:
        found.pop(0)
    while found and found[-1].lower() in TRAILING:
        found.pop()
    return " ".join(found[:MAX_PHRASE_WORDS])


def _has_content(phrase: str) -> bool:
    return any(word.lower() not in STOPWORDS for word in words(phrase))


def _is_audience(phrase: str) -> bool:
    found = words(phrase)
    return bool(found) and found[-1].lower() in AUDIENCE_NOUNS


def _product(text: str) -> str | None:
    if not text:
        return None
    label = PRODUCT_LABEL.search(text)
    called = CALLED.search(text)
    quoted = QUOTED.search(text)
    for phrase in (
        _phrase(label["value"]) if label else "",
        _phrase(text[called.end() :]) if called else "",
        quoted["value"].strip() if quoted else "",
    ):
        if _has_content(phrase):
            return phrase
    for intro in SUBJECT_INTRO.finditer(text):
        phrase = _phrase(text[intro.end() :])
        if _has_content(phrase) and not _is_audience(phrase):
            return phrase
    return _content_run(text)


def _content_run(text: str) -> str | None:
    """The longest run (up to three) of words that are neither instructions nor fillers."""
    best: list[str] = []
    run: list[str] = []
    for word in [*words(text), ""]:
        if word and word.lower() not in STOPWORDS and not word.isdigit():
            run.append(word)
            continue
        if len(run) > len(best):
            best = run[:3]
        run = []
    return " ".join(best) or None


def _audience(text: str, product: str) -> str | None:
    if not text:
        return None
    label = AUDIENCE_LABEL.search(text)
    intro = AUDIENCE_INTRO.search(text)
    for phrase in (
        _phrase(label["value"]) if label else "",
        _phrase(text[intro.end() :]) if intro else "",
    ):
        if _has_content(phrase):
            return phrase
    for found in FOR.finditer(text):
        phrase = _phrase(text[found.end() :])
        if phrase and phrase != product and _is_audience(phrase):
            return phrase
    return None


def _tone(text: str) -> str | None:
    label = TONE_LABEL.search(text)
    scope = [label.group("value"), text] if label else [text]
    for part in scope:
        for word in words(part):
            tone = TONE_WORDS.get(word.lower())
            if tone is not None:
                return tone
    return None


def _count(word: str) -> int:
    lowered = word.lower()
    count = int(lowered) if lowered.isdigit() else NUMBER_WORDS.get(lowered, 1)
    return max(1, min(MAX_COUNT, count))


def _kinds(text: str) -> tuple[tuple[tuple[Kind, int], ...], bool]:
    kinds: dict[Kind, int] = {}
    for match in KIND_RE.finditer(text):
        kind = match.lastgroup
        if kind is None:
            continue
        plural = match.group(0).lower().endswith("s") and kind != "body"
        default = 3 if kind in ("bullets", "hashtags") or plural else 1
        count = _count_before(text[max(0, match.start() - COUNT_CHARS) : match.start()]) or default
        kinds[kind] = max(kinds.get(kind, 0), count)
    return tuple(kinds.items()), bool(kinds)


def _count_before(text: str) -> int | None:
    """The number among the last few words of ``text`` (nearest first), if any."""
    tail = re.split(r"[,.;:!?()\n]", text)[-1].split()[-COUNT_WINDOW:]
    for word in reversed(tail):
        lowered = word.lower()
        if lowered in COUNT_STOP:
            return None
        if lowered.isdigit() or lowered in NUMBER_WORDS:
            return _count(lowered)
    return None


def _variants(text: str) -> int:
    for match in VARIANTS_RE.finditer(text):
        if match.group("count"):
            return _count(match.group("count"))
        if match.group("word").lower() != "ads":
            return 3
    if re.search(r"\ba/b\b", text, re.IGNORECASE):
        return 2
    return 1


def _limits(text: str) -> dict[Kind | None, Limit]:
    limits: dict[Kind | None, Limit] = {}
    for match in LIMIT_RE.finditer(text):
        op = (match.group("op") or "").strip().lower()
        if op.startswith(IGNORED_OPS):
            continue
        n = int(match.group("n")) - (1 if op.startswith(STRICT_OPS) else 0)
        if n < 1:
            continue
        unit = match.group("unit").lower()
        limit = Limit(words=n) if unit.startswith("word") else Limit(chars=n)
        each = EACH_RE.match(text, match.end())
        kind = None if each else _kind_near(text, match.start(), match.end())
        limits[kind] = limits.get(kind, Limit()).tighter(limit)
    return limits


def _kind_near(text: str, start: int, end: int) -> Kind | None:
    """The piece a limit is said of: one named just before it (``the headline under 40
    characters``, ``a description (max 150 chars)``) or just after it (``a 60-character
    headline``); else None, the copy as a whole."""
    for before in KIND_RE.finditer(text[max(0, start - 60) : start]):
        between = text[max(0, start - 60) + before.end() : start]
        if NEAR_BEFORE.fullmatch(between):
            return before.lastgroup
    after = KIND_RE.match(text, SPACES_AND_DASHES.match(text, end).end())  # type: ignore[union-attr]
    return after.lastgroup if after else None
