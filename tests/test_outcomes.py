"""arena.outcomes: one set of outcome labels for the battle table, the store and the readers."""

from __future__ import annotations

from arena.battles import WINNER_LABELS as BATTLE_LABELS
from arena.outcomes import PAIR_COUNT_COLUMNS, WINNER_CODES, WINNER_LABELS, Outcome
from arena.service.rounds import Choice
from arena.store import OUTCOMES


def test_labels_follow_the_outcome_codes() -> None:
    assert [o.label for o in Outcome] == ["model_a", "model_b", "tie", "tie (bothbad)"]
    assert tuple(o.label for o in Outcome) == WINNER_LABELS
    assert len(PAIR_COUNT_COLUMNS) == len(Outcome)


def test_every_layer_uses_the_same_labels() -> None:
    assert OUTCOMES == WINNER_LABELS == BATTLE_LABELS
    assert [c.outcome for c in Choice] == list(WINNER_LABELS)


def test_fastchat_older_spelling_reads_as_both_bad() -> None:
    assert WINNER_CODES["tie(bothbad)"] is Outcome.BOTH_BAD
    assert {WINNER_CODES[label] for label in WINNER_LABELS} == set(Outcome)


def test_swapping_sides_exchanges_wins_and_keeps_ties() -> None:
    assert [o.swapped() for o in Outcome] == [Outcome.B, Outcome.A, Outcome.TIE, Outcome.BOTH_BAD]
