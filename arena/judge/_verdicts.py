"""What the judge said: its verdicts, the two orders combined, the battles they give.

Judges prefer the first (or second) position, so every pair is judged in both orders
and the two verdicts are combined by one rule (:func:`combine_verdicts`): the model both
orders prefer wins, anything else (the orders disagree, or either says tie) is a tie.
A comparison's outcome is a :class:`Judgment`; a judged one is a FastChat battle
(:func:`battle_record`), which the ratings engine reads like human votes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from arena.backends import Message
from arena.judge._prompts import JudgePrompt, QuestionId, template_for

__all__ = [
    "CONSISTENT",
    "Judgment",
    "Verdict",
    "battle_record",
    "combine_verdicts",
    "parse_verdict",
]

#: A judge's verdict on one presentation: Assistant A better, B better, or a tie.
Verdict = Literal["A", "B", "tie"]

#: Verdict pairs (forward, backward) that name the same model, or a tie, in both orders.
CONSISTENT: frozenset[tuple[Verdict, Verdict]] = frozenset(
    {("A", "B"), ("B", "A"), ("tie", "tie")}
)


#: ``[[A]]``, ``[[B]]``, ``[[C]]`` as judges write them: any case, spaces or ``**``/quotes
#: inside the brackets, and ``[[Tie]]``.
_VERDICT = re.compile(r"\[\[\s*[\"'*]*\s*(A|B|C|tie)\s*[\"'*]*\s*\]\]", re.IGNORECASE)


def parse_verdict(text: str) -> Verdict | None:
    """The verdict of a judge's output, or None when it has none.

    The last ``[[A]]``/``[[B]]``/``[[C]]`` marker counts: the final verdict ends the output,
    while the explanation before it may quote the format ("[[A]] if assistant A is better").
    FastChat took the first marker in the order A, B, C, which reads such a quote as a
    verdict for A. Lower case, inner spaces and ``[[Tie]]`` are accepted.
    """
    found = _VERDICT.findall(text)
    if not found:
        return None
    last = str(found[-1]).upper()
    if last == "A":
        return "A"
    if last == "B":
        return "B"
    return "tie"


def combine_verdicts(forward: Verdict, backward: Verdict) -> str:
    """Combine the verdicts of the two orders into a FastChat ``winner``.

    Parameters
    ----------
    forward:
        The verdict with ``model_a``'s answer shown as Assistant A.
    backward:
        The verdict with the answers swapped (``model_b``'s answer shown as Assistant A).

    Returns
    -------
    str
        ``"model_a"`` when both orders prefer model_a (forward A, backward B),
        ``"model_b"`` when both prefer model_b, and ``"tie"`` otherwise: the orders
        disagree (the judge followed the position, not the answer) or either says tie.
        MT-Bench's agreement analysis counts a disagreement as inconsistent; here it is
        a tie, so that position bias cancels instead of deciding battles.
    """
    if forward == "A" and backward == "B":
        return "model_a"
    if forward == "B" and backward == "A":
        return "model_b"
    return "tie"


@dataclass(frozen=True)
class Judgment:
    """The judge's decision on one model pair, question and turn (both orders).

    Attributes
    ----------
    question_id, turn:
        Which question and turn were judged.
    model_a, model_b:
        The two models; ``model_a``'s answer is Assistant A in the forward order.
    forward, backward:
        The verdict of each order (backward: answers swapped), None when it failed.
    winner:
        The combined verdict (:func:`combine_verdicts`), None when the comparison failed.
    error:
        Why it failed: a model did not answer, the judge failed, or its output held no
        verdict after the retries. Failed comparisons give no battle but are counted.
    outputs:
        The judge's last raw output in each order (None when there was none).
    """

    question_id: QuestionId
    turn: int
    model_a: str
    model_b: str
    forward: Verdict | None = None
    backward: Verdict | None = None
    winner: str | None = None
    error: str | None = None
    outputs: tuple[str | None, str | None] = (None, None)

    @property
    def failed(self) -> bool:
        """Whether the comparison gave no battle."""
        return self.winner is None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (a line of ``judgments.jsonl``)."""
        return {
            "question_id": self.question_id,
            "turn": self.turn,
            "model_a": self.model_a,
            "model_b": self.model_b,
            "forward": self.forward,
            "backward": self.backward,
            "winner": self.winner,
            "error": self.error,
            "output_forward": self.outputs[0],
            "output_backward": self.outputs[1],
        }


def _conversation(turns: Sequence[str], answers: Sequence[str]) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    for question, answer in zip(turns, answers, strict=True):
        messages += [Message("user", question).to_dict(), Message("assistant", answer).to_dict()]
    return messages


def battle_record(
    judgment: Judgment,
    prompt: JudgePrompt,
    answers_a: Sequence[str],
    answers_b: Sequence[str],
    *,
    judge: str,
    tstamp: float,
) -> dict[str, Any]:
    """One judged comparison as a FastChat battle (a line of ``judge_battles.jsonl``).

    The fields ``arena leaderboard`` reads: ``model_a, model_b, winner`` (``model_a``,
    ``model_b`` or ``tie``; the pairwise prompt has no "both bad"), ``tstamp``, ``anony``
    (False: the judge is not a blind human), ``judge`` (read as the voter),
    ``conversation_a/b`` (the turns up to the judged one and each model's answers) and
    ``category`` when the question has one; besides, ``question_id``, ``turn``, the
    judge prompt's name and ``g1_winner``/``g2_winner``, the verdict of each order in
    model terms as MT-Bench writes them.
    """
    if judgment.winner is None or judgment.forward is None or judgment.backward is None:
        raise ValueError("a failed comparison gives no battle")
    in_model_terms = {"A": "model_a", "B": "model_b", "tie": "tie"}
    swapped = {"A": "model_b", "B": "model_a", "tie": "tie"}
    turns = prompt.turns[: judgment.turn]
    record: dict[str, Any] = {
        "question_id": judgment.question_id,
        "turn": judgment.turn,
        "model_a": judgment.model_a,
        "model_b": judgment.model_b,
        "winner": judgment.winner,
        "judge": judge,
        "judge_prompt": template_for(prompt, judgment.turn).name,
        "g1_winner": in_model_terms[judgment.forward],
        "g2_winner": swapped[judgment.backward],
        "anony": False,
        "tstamp": tstamp,
        "conversation_a": _conversation(turns, answers_a[: judgment.turn]),
        "conversation_b": _conversation(turns, answers_b[: judgment.turn]),
    }
    if prompt.category:
        record["category"] = prompt.category
    return record
