r"""Identity-leak detection: whether an answer says which model, or whose model, wrote it.

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

Answers that try to slip a name past the rule are normalised first (:func:`normalise`):

* Unicode compatibility forms folded (NFKC: fullwidth ``Ｃｌａｕｄｅ``, mathematical
  ``𝐂𝐥𝐚𝐮𝐝𝐞``, ligatures), accents dropped, invisible characters removed (zero-width
  spaces and joiners, soft hyphens, word joiners, bidirectional controls, variation
  selectors, tag characters: every format character);
* text after a right-to-left override (U+202E) reversed, as the browser shows it;
* letters that look Latin folded to it (Cyrillic ``Сlаudе``, Greek ``Ｇеmіnі``...);
* HTML entities decoded (``&#67;laude``, twice for ``&amp;#67;``), HTML tags and Markdown
  emphasis, code and escape marks removed (``Cl<b></b>aude``, ``**Cl**aude``,
  ``C\laude``);
* letter-spaced words joined: three or more single letters separated each by one to
  three spaces, dashes, dots, underscores, slashes or middle dots (``C-l-a-u-d-e``,
  ``C l a u d e``, ``C.l.a.u.d.e``) become one word; the text is searched with and
  without the join, and without underscores.

Ordinary text is left alone by all of these except the join, which only fires on runs
of single letters (rare in prose: "x y z", "U.S.A."), and a joined run still has to be
one of the terms.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["LeakDetector", "leak_terms", "normalise"]

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

#: Letters of other scripts drawn like Latin ones (Unicode's confusables, only those a
#: reader takes for the Latin letter, so that ordinary Cyrillic or Greek text does not
#: turn into Latin words): applied before lower-casing, upper and lower case apart.
_CONFUSABLES = str.maketrans(
    dict(
        zip(
            # Cyrillic upper, lower; Greek upper, lower; Armenian; Latin look-alikes.
            "АВЕКМНОРСТХУІЈЅԚԜ" "аеорсухіјѕԁһӏԛԝүɡ"
            "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧ" "αοικνρυχϲϳ"
            "օսհոցզ" "ıȷɑɩʟ",
            "ABEKMHOPCTXYIJSQW" "aeopcyxijsdhlqwyg"
            "ABEZHIKMNOPTYX" "aoikvpuxcj"
            "ouhngq" "ijail",
            strict=True,
        )
    )
)
_OVERRIDE = re.compile("\u202e([^\u202c\u2069\n]*)")
_TAG = re.compile(r"<[^<>\n]{0,200}>")
_MARKS = str.maketrans("", "", "*`~\\")  # emphasis, code, strike-through, escapes
# Single letters (or digits) separated each by one space, dash, dot, underscore, slash
# or middle dot, three or more of them: "c l a u d e", "c-l-a-u-d-e".
_SPACED = re.compile(r"(?<![a-z0-9'’])[a-z0-9](?:[\s\-._/·]{1,3}[a-z0-9](?![a-z0-9])){2,}")
_SPACERS = re.compile(r"[\s\-._/·]")


def _visible(char: str) -> bool:
    """Not a format character (zero-width, soft hyphen, bidi, tags) nor a combining mark."""
    category = unicodedata.category(char)
    return not (category == "Cf" or category.startswith("M") or char in "\u034f\u115f\u1160")


def normalise(text: str) -> str:
    """The text as the leak rule reads it (see the module docstring), lower case."""
    # Right-to-left override: what follows is shown reversed ("\u202eedualC" reads
    # "Claude"), up to the closing mark or the end of the line.
    text = _OVERRIDE.sub(lambda m: m.group(1)[::-1], text)
    for _ in range(2):  # "&amp;#67;" -> "&#67;" -> "C"
        text = html.unescape(text)
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if _visible(c))
    text = unicodedata.normalize("NFC", text)  # (what NFKD split and the marks left)
    text = text.translate(_CONFUSABLES).lower()
    text = _TAG.sub("", text)
    return text.translate(_MARKS)


def _joined(text: str) -> str:
    """``text`` with letter-spaced runs joined into words (``c-l-a-u-d-e`` -> ``claude``)."""
    return _SPACED.sub(lambda m: _SPACERS.sub("", m.group(0)), text)


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
            plain = normalise(text)
            # Also joined, and without underscores ("cl__aude" is not two words).
            for form in (plain, _joined(plain), plain.replace("_", "")):
                for match in regex.finditer(form):
                    found.setdefault(match.group(0), None)
        return list(found)

    def leaks(self, texts: Iterable[str]) -> bool:
        """Whether any text names a model or maker."""
        return bool(self.find(texts))
