"""Markdown style features of an answer, for style-controlled leaderboards.

LMArena's style control explains part of a vote by how an answer *looks* (length,
headers, lists, bold) rather than what it says. This module computes the same four raw
features from answer text, so that inputs without FastChat's precomputed
``conv_metadata`` can still be style-controlled. Counting rules follow FastChat's
``count_markdown_elements`` (same header, list and bold patterns), except that:

* fenced code blocks are removed the CommonMark way (a line opening with ``````` or
  ``~~~`` starts a block that the next fence of the same kind closes; an unclosed fence
  runs to the end of the text), and everything inside them is ignored, tokens included;
* the length is a word/punctuation count (see :func:`markdown_features`) instead of a
  model tokenizer's, because the core must not depend on a tokenizer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

__all__ = ["STYLE_FEATURES", "features_for_texts", "markdown_features", "strip_code_blocks"]

#: Names of the per-side style features, in the column order of :func:`features_for_texts`.
STYLE_FEATURES: tuple[str, ...] = ("tokens", "headers", "list_items", "bold")

#: A token is a run of word characters or one character that is neither a word character
#: nor whitespace (so ``"Hello, world!"`` has four tokens).
_TOKEN = re.compile(r"\w+|[^\w\s]")
_HEADER = re.compile(r"^#{1,6}\s", re.MULTILINE)
_LIST_ITEM = re.compile(r"^\s*[-*+]\s|^\s*\d+[.)]\s", re.MULTILINE)
_BOLD = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")
#: An opening or closing code fence: up to three spaces of indentation, then three or
#: more backticks or tildes, then the rest of the line (an info string for an opening).
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def _is_closing(line: str, opener: str) -> bool:
    """Tell whether ``line`` closes a block opened by the fence run ``opener``."""
    match = _FENCE.match(line)
    if match is None:
        return False
    run, rest = match.groups()
    return run[0] == opener[0] and len(run) >= len(opener) and not rest.strip()


def strip_code_blocks(text: str) -> str:
    """Remove every fenced code block (fence lines included) from markdown text.

    A backtick fence whose info string contains a backtick is inline code, not a fence
    (CommonMark rule), so ````` ```x``` ````` on one line does not open a block.
    """
    if "```" not in text and "~~~" not in text:
        return text
    kept: list[str] = []
    opener: str | None = None
    for line in text.split("\n"):
        if opener is not None:
            if _is_closing(line, opener):
                opener = None
            continue
        match = _FENCE.match(line)
        if match is not None and not (match.group(1)[0] == "`" and "`" in match.group(2)):
            opener = match.group(1)
            continue
        kept.append(line)
    return "\n".join(kept)


def markdown_features(text: str) -> tuple[float, float, float, float]:
    r"""Count the style features of one answer: ``(tokens, headers, list_items, bold)``.

    Parameters
    ----------
    text:
        The answer, as markdown.

    Returns
    -------
    tuple of float
        Counted outside fenced code blocks:

        * ``tokens``: runs of word characters (``\w+``) plus each standalone punctuation
          or symbol character, a tokenizer-free proxy for answer length;
        * ``headers``: lines starting with 1-6 ``#`` then whitespace (``#hashtag`` is no
          header);
        * ``list_items``: lines starting (after indentation, so nested items count) with
          ``-``, ``*`` or ``+`` or a number and ``.`` or ``)``, then whitespace;
        * ``bold``: ``**x**`` or ``__x__`` spans within one line.
    """
    prose = strip_code_blocks(text)
    return (
        float(len(_TOKEN.findall(prose))),
        float(len(_HEADER.findall(prose))),
        float(len(_LIST_ITEM.findall(prose))),
        float(len(_BOLD.findall(prose))),
    )


def features_for_texts(texts: Iterable[str | None]) -> NDArray[np.float64]:
    """Count style features of many answers: one row per text, columns :data:`STYLE_FEATURES`.

    A missing text (``None`` or a float NaN, as pandas gives for an empty cell) counts as
    an empty answer, i.e. all features 0, so one missing answer does not drop the
    feature for the whole table.
    """
    rows = [markdown_features(t) if isinstance(t, str) else (0.0, 0.0, 0.0, 0.0) for t in texts]
    if not rows:
        return np.zeros((0, len(STYLE_FEATURES)), np.float64)
    return np.asarray(rows, dtype=np.float64)
