"""The four outcomes of a battle and their FastChat / LMArena labels, written once.

The battle table stores an :class:`Outcome` code, the vote store and every export the
``winner`` label; readers also accept FastChat's older ``tie(bothbad)`` spelling and the
columns of pair-count files. This module depends on nothing (standard library only), so
the battle table, the store, the service and the readers all take the labels from here.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "PAIR_COUNT_COLUMNS",
    "WINNER_CODES",
    "WINNER_LABELS",
    "Outcome",
]


class Outcome(IntEnum):
    """Outcome codes, in the order of the FastChat ``winner`` labels."""

    A = 0
    B = 1
    TIE = 2
    BOTH_BAD = 3

    @property
    def label(self) -> str:
        """The FastChat ``winner`` label of this outcome (as stored and exported)."""
        return WINNER_LABELS[self]

    def swapped(self) -> Outcome:
        """The same outcome seen with the two sides exchanged (A's win is B's, ties stay)."""
        return _SWAPPED.get(self, self)


#: FastChat / LMArena ``winner`` labels, indexed by :class:`Outcome`.
WINNER_LABELS: tuple[str, ...] = ("model_a", "model_b", "tie", "tie (bothbad)")

#: Every ``winner`` value a file may hold, and its outcome (FastChat's older spelling too).
WINNER_CODES: dict[str, Outcome] = {
    **{label: Outcome(code) for code, label in enumerate(WINNER_LABELS)},
    "tie(bothbad)": Outcome.BOTH_BAD,
}

#: Columns of a pair-count file, per outcome (in :class:`Outcome` order): each tuple
#: lists the names the column may have.
PAIR_COUNT_COLUMNS: tuple[tuple[str, ...], ...] = (
    ("wins_a",),
    ("wins_b",),
    ("tie", "ties"),
    ("tie_bothbad", "tie (bothbad)", "tie(bothbad)"),
)

_SWAPPED = {Outcome.A: Outcome.B, Outcome.B: Outcome.A}
