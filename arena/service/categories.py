"""The category of a prompt, for the leaderboard's category switch.

A small, transparent rule set (no model): ``coding`` when the prompt holds code or asks
about programming, ``math`` when it asks for a calculation or a proof, else ``general``.
The category is stored with the battle's conversation when the battle starts.
"""

from __future__ import annotations

import re

__all__ = ["CATEGORIES", "categorize"]

#: Every category :func:`categorize` returns.
CATEGORIES: tuple[str, ...] = ("coding", "math", "general")

_CODING = re.compile(
    r"```|\b(python|javascript|typescript|java|rust|golang|c\+\+|sql|html|css|bash|regex|"
    r"function|compile[rd]?|debug|bug|stack ?trace|exception|api|algorithm|code|coding|"
    r"program(ming)?|script|class|method|variable|def|import|git)\b",
    re.IGNORECASE,
)
_MATH = re.compile(
    r"\b(math|maths|mathematics|equation|integral|derivative|prove|proof|theorem|lemma|"
    r"probability|algebra|geometry|calculus|matrix|solve|sum of|factor(i[sz]e)?|prime)\b"
    r"|\d+\s*[-+*/^×÷=]\s*\d+",
    re.IGNORECASE,
)


def categorize(prompt: str) -> str:
    """``coding``, ``math`` or ``general`` (coding wins when both match)."""
    if _CODING.search(prompt):
        return "coding"
    if _MATH.search(prompt):
        return "math"
    return "general"
