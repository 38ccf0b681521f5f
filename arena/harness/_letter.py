"""Multiple choice by generated letter, for models that give no prompt log-probabilities.

Hosted chat APIs and some engines cannot score a continuation, so a multiple-choice task
cannot be run by log-likelihood there. As inspect_ai's ``multiple_choice()`` solver does,
the question is asked with its options lettered A, B, C, ... and an instruction to answer
``ANSWER: $LETTER``; the letter is parsed from the reply (:func:`parse_letter`). The metric
is ``acc_letter`` (never ``acc``: the two methods give different numbers), with
``unparsed``, the share of replies in which no option letter was found (counted wrong, and
shown, so a model that ignores the format is never a silent zero).
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

__all__ = ["LETTER_METRICS", "letter_labels", "letter_prompt", "parse_letter"]

#: Metrics of a multiple-choice task run by generated letter, headline first.
LETTER_METRICS = ("acc_letter", "unparsed")

#: inspect_ai's single-answer template (``solver/_multiple_choice.py``), in its words.
_INSTRUCTION = (
    "Answer the following multiple choice question. The entire content of your response "
    "should be of the following format: 'ANSWER: $LETTER' (without quotes) where LETTER "
    "is one of {letters}."
)
#: "ANSWER: B", "answer : (b)", "**Answer:** C" ... (the first such line wins).
_ANSWER = re.compile(r"answer\W{0,4}:\W{0,4}\(?\s*([A-Za-z])\b", re.IGNORECASE)
#: A reply that starts with the letter itself: "B", "B)", "(B) ...", "B. Paris" (not "A
#: bird ...": a letter followed by a space is a word).
_LEADING = re.compile(r"^\W{0,3}\(?([A-Za-z])(?:[).:\]]|\s*$|\s*\n)")


def letter_labels(n: int, labels: Sequence[str] = ()) -> tuple[str, ...]:
    """The option letters: the task's labels when they are letters, else A, B, C, ..."""
    if len(labels) == n and all(len(x) == 1 and x.isalpha() for x in labels):
        return tuple(x.upper() for x in labels)
    if n > len(string.ascii_uppercase):
        raise ValueError(f"{n} options: at most 26 can be lettered")
    return tuple(string.ascii_uppercase[:n])


def letter_prompt(question: str, choices: Sequence[str], letters: Sequence[str]) -> str:
    """The question as inspect_ai asks it: instruction, question, then lettered options.

    ``choices`` empty means the question already lists its options (MMLU's prompt does:
    its choices are the letters themselves), so they are not listed twice.
    """
    head = _INSTRUCTION.format(letters=",".join(letters))
    body = question.strip()
    if choices:
        options = "\n".join(f"{x}) {c.strip()}" for x, c in zip(letters, choices, strict=True))
        return f"{head}\n\n{body}\n\n{options}"
    return f"{head}\n\n{body}"


def parse_letter(reply: str, letters: Sequence[str]) -> int | None:
    """Index of the option the reply names, or None when it names none of ``letters``.

    ``ANSWER: X`` anywhere (the first one), else a reply that opens with the letter.
    A letter that is not an option ("ANSWER: Z" with four options) is not an answer.
    """
    wanted = [x.upper() for x in letters]
    for pattern in (_ANSWER, _LEADING):
        match = pattern.search(reply)
        if match is not None:
            got = match.group(1).upper()
            return wanted.index(got) if got in wanted else None
    return None
