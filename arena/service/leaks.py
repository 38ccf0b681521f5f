"""Identity-leak detection: whether an answer says which model, or whose model, wrote it.

A blind vote is only blind if neither answer names its model or maker ("As Gemma, a
model by Google, ..."). Such votes are recorded with ``identity_leak`` set, which the
anonymous leaderboard leaves out (as LMArena does).

The word list is built from every configured model (name, display name, organization,
codename, and the stem of the name such as ``gemma`` for ``gemma-3-270m``) plus
configurable extra words (:data:`arena.service.config.DEFAULT_LEAK_WORDS`). Matching
ignores case and treats spaces, hyphens, dots and underscores inside a term alike, so
"Hugging Face", "hugging-face" and "HuggingFace" all match; a term must start at a word
boundary and, unless it ends in a digit, end at one ("Llama" matches "Llama3" but not
"llamas").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["LeakDetector", "leak_terms"]

#: Name parts too common to mean a model (never used as stems).
_GENERIC = frozenset(
    {
        "base",
        "chat",
        "fake",
        "instruct",
        "large",
        "medium",
        "mini",
        "model",
        "open",
        "preview",
        "small",
        "test",
        "tiny",
    }
)
_WORD = re.compile(r"[a-z0-9]+")


def _stem(name: str) -> str | None:
    """First word of a model name without trailing digits (``smollm2-135m`` -> ``smollm``)."""
    words = _WORD.findall(name.lower())
    if not words:
        return None
    stem = words[0].rstrip("0123456789")
    return stem if len(stem) >= 4 and stem not in _GENERIC else None


def leak_terms(
    models: Iterable[tuple[str, str | None, str | None, str | None]], extra: Iterable[str] = ()
) -> tuple[str, ...]:
    """The word list: ``(name, display_name, organization, codename)`` per model, plus extra.

    Returns lower-case terms, each at least three characters, sorted and deduplicated.
    """
    terms: set[str] = set()
    for name, display, organization, codename in models:
        for value in (name, display, organization, codename):
            if value:
                terms.add(value)
        for value in (name, display):
            stem = _stem(value) if value else None
            if stem:
                terms.add(stem)
    terms.update(w for w in extra if w)
    cleaned = {" ".join(_WORD.findall(t.lower())) for t in terms}
    return tuple(sorted(t for t in cleaned if len(t.replace(" ", "")) >= 3))


def _pattern(term: str) -> str:
    words = term.split(" ")
    body = r"[\s\-_./]*".join(re.escape(w) for w in words)
    end = "" if term[-1].isdigit() else r"(?![a-z])"
    return rf"(?<![a-z0-9]){body}{end}"


@dataclass(frozen=True)
class LeakDetector:
    """Finds the leak terms in texts; build it once per word list."""

    terms: tuple[str, ...]

    def __post_init__(self) -> None:
        # Longest first, so "google deepmind" is reported rather than "google".
        ordered = sorted(self.terms, key=len, reverse=True)
        regex = re.compile("|".join(_pattern(t) for t in ordered)) if ordered else None
        object.__setattr__(self, "_regex", regex)

    def find(self, texts: Iterable[str]) -> list[str]:
        """The distinct terms found in ``texts`` (as written there), in order of appearance."""
        regex: re.Pattern[str] | None = self._regex  # type: ignore[attr-defined]
        if regex is None:
            return []
        found: dict[str, None] = {}
        for text in texts:
            for match in regex.finditer(text.lower()):
                found.setdefault(match.group(0), None)
        return list(found)

    def leaks(self, texts: Iterable[str]) -> bool:
        """Whether any text names a model or maker."""
        return bool(self.find(texts))
