"""Blocklists: terms and patterns with categories, matched in linear time.

Terms are NFKC-normalised and casefolded, then joined into one RE2 alternation with word
boundaries, so a 10,000-term list is one pass over the text. Patterns are compiled by RE2
through ``kit/patterns.py``; a pattern RE2 cannot run is refused when the file loads.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

import re2
import yaml

from creatix.kit.patterns import UnsafePattern, compile_linear

CATEGORIES = frozenset(
    {"competitor", "regulated_claim", "sexual", "violence", "hate", "self_harm", "illegal"}
)


class PolicyFileError(ValueError):
    """A blocklist file that does not load: the file, the line and why."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class Match:
    category: str
    matched: str


def normalise(text: str) -> str:
    """NFKC, casefolded; a lone surrogate (which RE2's UTF-8 cannot carry) becomes ``?``."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    if not folded.isascii():
        folded = folded.encode("utf-8", "replace").decode("utf-8")
    return folded


class Blocklist:
    def __init__(self, terms: dict[str, str], patterns: list[tuple[str, str]]) -> None:
        self.source_terms = dict(terms)
        self.source_patterns = list(patterns)
        self._terms = {normalise(term): category for term, category in terms.items()}
        self._term_regex = (
            compile_linear(
                r"\b(" + "|".join(re2.escape(term) for term in sorted(self._terms)) + r")\b"
            )
            if self._terms
            else None
        )
        self._patterns = [(compile_linear(pattern), category) for pattern, category in patterns]

    def first_match(self, text: str) -> Match | None:
        folded = normalise(text)
        if self._term_regex is not None:
            found = self._term_regex.search(folded)
            if found is not None:
                term = found.group(1)
                return Match(self._terms[term], term)
        for regex, category in self._patterns:
            found = regex.search(folded)
            if found is not None:
                return Match(category, found.group(0))
        return None


def load_blocklist(path: Path) -> Blocklist:
    """Read ``terms: {category: [term, ...]}`` and ``patterns: {category: [regex, ...]}``."""
    text = path.read_text(encoding="utf-8")
    try:
        document = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise PolicyFileError(path, mark.line + 1 if mark else 1, str(exc)) from None
    terms: dict[str, str] = {}
    patterns: list[tuple[str, str]] = []
    if document is None:
        return Blocklist(terms, patterns)
    if not isinstance(document, yaml.MappingNode):
        raise PolicyFileError(path, document.start_mark.line + 1, "expected a mapping")
    for key_node, section in document.value:
        key = key_node.value
        if key not in ("terms", "patterns"):
            raise PolicyFileError(path, key_node.start_mark.line + 1, f"unknown section {key!r}")
        if not isinstance(section, yaml.MappingNode):
            raise PolicyFileError(path, section.start_mark.line + 1, "expected a mapping")
        _read_section(path, key, section, terms, patterns)
    return Blocklist(terms, patterns)


def _read_section(
    path: Path,
    key: str,
    section: yaml.MappingNode,
    terms: dict[str, str],
    patterns: list[tuple[str, str]],
) -> None:
    for category_node, entries in section.value:
        category = category_node.value
        if category not in CATEGORIES:
            raise PolicyFileError(
                path, category_node.start_mark.line + 1, f"unknown category {category!r}"
            )
        if not isinstance(entries, yaml.SequenceNode):
            raise PolicyFileError(path, entries.start_mark.line + 1, "expected a list")
        for entry in entries.value:
            line = entry.start_mark.line + 1
            if not isinstance(entry, yaml.ScalarNode) or not entry.value.strip():
                raise PolicyFileError(path, line, "expected a non-empty string")
            if key == "terms":
                terms[entry.value] = category
                continue
            try:
                compile_linear(entry.value)
            except UnsafePattern as exc:
                raise PolicyFileError(path, line, f"pattern refused: {exc}") from None
            patterns.append((entry.value, category))


SHIPPED = "shipped"


def shipped_blocklist_path() -> Path:
    return Path(__file__).with_name("default_blocklist.yaml")


def load_blocklists(names: list[str], base: Path | None = None) -> Blocklist:
    """One ``Blocklist`` from several files; ``shipped`` is the default list."""
    terms: dict[str, str] = {}
    patterns: list[tuple[str, str]] = []
    for name in names:
        path = shipped_blocklist_path() if name == SHIPPED else Path(name)
        if base is not None and not path.is_absolute():
            path = base / path
        one = load_blocklist(path)
        terms.update(one.source_terms)
        patterns.extend(one.source_patterns)
    return Blocklist(terms, patterns)
