"""Judge battles (auto-arena): the pure parts, from judge prompts to agreement with humans.

A judge model compares two models' answers to a prompt in MT-Bench's pairwise style
(Zheng et al., 2023, "Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena"): it is
shown the question and both answers, as "Assistant A" and "Assistant B", and ends with
``[[A]]``, ``[[B]]`` or ``[[C]]`` (tie). Judges prefer the first (or second) position, so
every pair is judged in both orders and the two verdicts are combined by one rule
(:func:`combine_verdicts`): the model both orders prefer wins, anything else (the orders
disagree, or either says tie) is a tie. The combined verdicts are FastChat battles
(:func:`battle_record`), which the ratings engine reads like human votes.

:func:`judge_report` puts the judge's leaderboard beside the human one and measures how
often judge and humans agree: per model pair (the majority winner of each side) and per
battle (human votes on the very prompt the judge saw). Running the models and writing
files is :mod:`arena.harness._judge_run`; nothing here does I/O.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from arena.errors import UserError

__all__ = [
    "JUDGE_TEMPLATES",
    "REPORT_FORMATS",
    "JudgePrompt",
    "JudgeReport",
    "JudgeTemplate",
    "Judgment",
    "Verdict",
    "battle_agreement",
    "battle_record",
    "combine_verdicts",
    "judge_messages",
    "judge_report",
    "pair_agreement",
    "parse_verdict",
    "render_judge_report",
    "template_for",
]

#: A judge's verdict on one presentation: Assistant A better, B better, or a tie.
Verdict = Literal["A", "B", "tie"]

#: Formats of :func:`render_judge_report`.
REPORT_FORMATS: tuple[str, ...] = ("md", "csv", "json")

QuestionId = int | str


@dataclass(frozen=True)
class JudgeTemplate:
    """A pairwise judge prompt: a system message and a user message with fields.

    Attributes
    ----------
    name:
        MT-Bench's name of the prompt (``pair-v2``, ``pair-math-v1``, ...).
    system:
        The system message (the judging instructions and the verdict format).
    user:
        The user message, a :meth:`str.format` template with ``question``, ``answer_a``,
        ``answer_b`` (single turn) or ``question_1``, ``answer_a_1``, ... (two turns), and
        ``ref_answer_1``/``ref_answer_2`` for the reference-guided prompts.
    multi_turn:
        Whether the prompt judges the second turn of a two-turn conversation.
    reference:
        Whether the prompt shows a reference answer (math, reasoning, coding).
    """

    name: str
    system: str
    user: str
    multi_turn: bool = False
    reference: bool = False


_VERDICT_FORMAT = (
    "After providing your explanation, output your final verdict by strictly following this "
    'format: "[[A]]" if assistant A is better, "[[B]]" if assistant B is better, and "[[C]]" '
    "for a tie."
)
_UNBIASED = (
    "Avoid any position biases and ensure that the order in which the responses were presented "
    "does not influence your decision. Do not allow the length of the responses to influence "
    "your evaluation. Do not favor certain names of the assistants. Be as objective as "
    "possible. "
)
_ONE_TURN = (
    "[User Question]\n{question}\n\n{reference}[The Start of Assistant A's Answer]\n{answer_a}\n"
    "[The End of Assistant A's Answer]\n\n[The Start of Assistant B's Answer]\n{answer_b}\n"
    "[The End of Assistant B's Answer]"
)
_CONVERSATION = (
    "<|The Start of Assistant {side}'s Conversation with User|>\n\n### User:\n{{question_1}}\n\n"
    "### Assistant {side}:\n{{answer_{low}_1}}\n\n### User:\n{{question_2}}\n\n"
    "### Assistant {side}:\n{{answer_{low}_2}}\n\n"
    "<|The End of Assistant {side}'s Conversation with User|>"
)
_TWO_TURNS = (
    _CONVERSATION.format(side="A", low="a") + "\n\n\n" + _CONVERSATION.format(side="B", low="b")
)
_REFERENCE_ONE_TURN = (
    "[The Start of Reference Answer]\n{ref_answer_1}\n[The End of Reference Answer]\n\n"
)
_REFERENCE_TWO_TURNS = (
    "<|The Start of Reference Answer|>\n\n### User:\n{question_1}\n\n### Reference answer:\n"
    "{ref_answer_1}\n\n### User:\n{question_2}\n\n### Reference answer:\n{ref_answer_2}\n\n"
    "<|The End of Reference Answer|>\n\n\n"
)

#: MT-Bench's four pairwise judge prompts, word for word (FastChat ``judge_prompts.jsonl``).
JUDGE_TEMPLATES: dict[str, JudgeTemplate] = {
    t.name: t
    for t in (
        JudgeTemplate(
            "pair-v2",
            "Please act as an impartial judge and evaluate the quality of the responses "
            "provided by two AI assistants to the user question displayed below. You should "
            "choose the assistant that follows the user's instructions and answers the user's "
            "question better. Your evaluation should consider factors such as the helpfulness, "
            "relevance, accuracy, depth, creativity, and level of detail of their responses. "
            "Begin your evaluation by comparing the two responses and provide a short "
            "explanation. " + _UNBIASED + _VERDICT_FORMAT,
            _ONE_TURN.replace("{reference}", ""),
        ),
        JudgeTemplate(
            "pair-v2-multi-turn",
            "Please act as an impartial judge and evaluate the quality of the responses "
            "provided by two AI assistants to the user questions. You should choose the "
            "assistant that follows the user's instructions and answers the user's questions "
            "better. Your evaluation should consider factors such as the helpfulness, "
            "relevance, accuracy, depth, creativity, and level of detail of their responses. "
            "You should focus on who provides a better answer to the second user question. "
            "Begin your evaluation by comparing the responses of the two assistants and "
            "provide a short explanation. " + _UNBIASED + _VERDICT_FORMAT,
            _TWO_TURNS,
            multi_turn=True,
        ),
        JudgeTemplate(
            "pair-math-v1",
            "Please act as an impartial judge and evaluate the quality of the responses "
            "provided by two AI assistants to the user question displayed below. Your "
            "evaluation should consider correctness and helpfulness. You will be given a "
            "reference answer, assistant A's answer, and assistant B's answer. Your job is to "
            "evaluate which assistant's answer is better. Begin your evaluation by comparing "
            "both assistants' answers with the reference answer. Identify and correct any "
            "mistakes. " + _UNBIASED + _VERDICT_FORMAT,
            _ONE_TURN.replace("{reference}", _REFERENCE_ONE_TURN),
            reference=True,
        ),
        JudgeTemplate(
            "pair-math-v1-multi-turn",
            "Please act as an impartial judge and evaluate the quality of the responses "
            "provided by two AI assistants to the user questions. Your evaluation should "
            "consider correctness and helpfulness. You will be given reference answers, the "
            "assistant A's answers, the assistant B's answers. Your job is to determine which "
            "assistant provides correct and helpful answers to the second user question. "
            "Begin your evaluation by comparing both assistants' answers with the reference "
            "answers. Identify and correct any mistakes. " + _UNBIASED + _VERDICT_FORMAT,
            _REFERENCE_TWO_TURNS + _TWO_TURNS,
            multi_turn=True,
            reference=True,
        ),
    )
}


@dataclass(frozen=True)
class JudgePrompt:
    """One question of the prompt set the models answer and the judge judges.

    Attributes
    ----------
    id:
        The question's id (MT-Bench's ``question_id``), unique in the set.
    turns:
        The user turns; the first is judged, the second too with ``--second-turn``.
    category:
        The question's category (``writing``, ``math``, ...), written to the battles so
        that ``arena leaderboard --category`` can filter them.
    reference:
        Reference answers, one per turn, shown to the judge (MT-Bench does so for math,
        reasoning and coding); empty when there are none. A turn is judged against a
        reference only when it and the turns before have a non-empty one.
    """

    id: QuestionId
    turns: tuple[str, ...]
    category: str | None = None
    reference: tuple[str, ...] = ()

    def payload(self) -> dict[str, Any]:
        """The prompt as JSON (what the prompt set's hash covers)."""
        return {
            "id": self.id,
            "turns": list(self.turns),
            "category": self.category,
            "reference": list(self.reference),
        }


def template_for(prompt: JudgePrompt, turn: int) -> JudgeTemplate:
    """The judge prompt of a question's turn: reference-guided when it has references."""
    if turn not in (1, 2) or len(prompt.turns) < turn:
        raise ValueError(f"question {prompt.id!r} has no turn {turn}")
    reference = len(prompt.reference) >= turn and all(r.strip() for r in prompt.reference[:turn])
    if turn == 1:
        return JUDGE_TEMPLATES["pair-math-v1" if reference else "pair-v2"]
    return JUDGE_TEMPLATES["pair-math-v1-multi-turn" if reference else "pair-v2-multi-turn"]


def judge_messages(
    prompt: JudgePrompt,
    turn: int,
    answers_a: Sequence[str],
    answers_b: Sequence[str],
) -> tuple[tuple[str, str], ...]:
    """The judge's conversation ``((role, text), ...)``: system message, then the comparison.

    ``answers_a`` are shown as Assistant A's answers (one per turn, at least ``turn``),
    ``answers_b`` as Assistant B's; swap them for the other order.
    """
    template = template_for(prompt, turn)
    fields: dict[str, str] = {}
    if turn == 1:
        fields = {"question": prompt.turns[0], "answer_a": answers_a[0], "answer_b": answers_b[0]}
    else:
        fields = {
            "question_1": prompt.turns[0],
            "question_2": prompt.turns[1],
            "answer_a_1": answers_a[0],
            "answer_a_2": answers_a[1],
            "answer_b_1": answers_b[0],
            "answer_b_2": answers_b[1],
        }
    if template.reference:
        fields["ref_answer_1"] = prompt.reference[0]
        if turn == 2:
            fields["ref_answer_2"] = prompt.reference[1]
    return (("system", template.system), ("user", template.user.format(**fields)))


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
        messages += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
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


# -- judge and humans -------------------------------------------------------------------------


def _normalise_prompt(text: Any) -> str | None:
    if not isinstance(text, str):
        return None
    joined = " ".join(text.split())
    return joined or None


def _oriented(frame: pd.DataFrame) -> pd.DataFrame:
    """Battles as ``x, y, outcome, n``: ``x < y`` by name, outcome ``x | y | tie``.

    Both kinds of tie (``tie``, ``tie (bothbad)``) are ties; ``n`` is the row's count.
    """
    a = frame["model_a"].astype(str).to_numpy()
    b = frame["model_b"].astype(str).to_numpy()
    flip = a > b
    winner = frame["winner"].astype(str).str.strip().str.lower().to_numpy()
    outcome = np.where(
        winner == "model_a",
        np.where(flip, "y", "x"),
        np.where(winner == "model_b", np.where(flip, "x", "y"), "tie"),
    )
    out = pd.DataFrame(
        {
            "x": np.where(flip, b, a),
            "y": np.where(flip, a, b),
            "outcome": outcome,
            "n": frame["count"].to_numpy() if "count" in frame else np.ones(len(frame), int),
        }
    )
    if "prompt" in frame:
        out["prompt"] = [_normalise_prompt(p) for p in frame["prompt"]]
    return out


def _majorities(frame: pd.DataFrame) -> pd.DataFrame:
    """Per pair ``x, y``: battles and the majority winner (``x``'s or ``y``'s name, or tie)."""
    o = _oriented(frame)
    o["margin"] = np.where(o["outcome"] == "x", 1, np.where(o["outcome"] == "y", -1, 0)) * o["n"]
    g = o.groupby(["x", "y"], sort=True).agg(battles=("n", "sum"), margin=("margin", "sum"))
    g = g.reset_index()
    g["winner"] = np.where(g["margin"] > 0, g["x"], np.where(g["margin"] < 0, g["y"], "tie"))
    return g[["x", "y", "battles", "winner"]]


def pair_agreement(judge: pd.DataFrame, human: pd.DataFrame) -> pd.DataFrame:
    """Per model pair judged by both, whether the judge's majority winner is the humans'.

    Prompt-independent: all battles of a pair count, whatever their prompts. The majority
    winner of a side is the model with more wins over the other (ties count for neither),
    or ``tie`` when they won as often; two ties agree.

    Parameters
    ----------
    judge, human:
        Battles with ``model_a, model_b, winner`` (and ``count``, when rows aggregate).

    Returns
    -------
    pandas.DataFrame
        ``model_x, model_y, judge_battles, judge_winner, human_battles, human_winner,
        agree``, one row per pair present in both, sorted by names.
    """
    j = _majorities(judge).rename(columns={"battles": "judge_battles", "winner": "judge_winner"})
    h = _majorities(human).rename(columns={"battles": "human_battles", "winner": "human_winner"})
    both = j.merge(h, on=["x", "y"], how="inner").rename(columns={"x": "model_x", "y": "model_y"})
    both["agree"] = both["judge_winner"] == both["human_winner"]
    columns = ["model_x", "model_y", "judge_battles", "judge_winner", "human_battles"]
    return both[[*columns, "human_winner", "agree"]].reset_index(drop=True)


def battle_agreement(judge: pd.DataFrame, human: pd.DataFrame) -> tuple[int, int]:
    """Human votes on a prompt the judge judged, and how many of them the judge matched.

    A human battle matches a judge battle when both have the same two models (either
    side) and the same first user turn (``prompt``, compared with whitespace collapsed).
    It agrees when the outcomes are the same, ties included (both kinds of tie are ties).

    Returns
    -------
    tuple[int, int]
        ``(agreeing, matched)``; ``matched`` counts human battles (each with every judge
        battle on its prompt and pair), 0 when no human vote carries a judged prompt.
    """
    if "prompt" not in judge or "prompt" not in human:
        return 0, 0
    j = _oriented(judge).dropna(subset=["prompt"])
    h = _oriented(human).dropna(subset=["prompt"])
    if j.empty or h.empty:
        return 0, 0
    merged = h.merge(j, on=["x", "y", "prompt"], suffixes=("_human", "_judge"))
    weights = merged["n_human"].to_numpy()
    agree = (merged["outcome_human"] == merged["outcome_judge"]).to_numpy()
    return int(weights[agree].sum()), int(weights.sum())


@dataclass(frozen=True)
class JudgeReport:
    """The judge's leaderboard, beside the humans' when given, and their agreement.

    Attributes
    ----------
    table:
        One row per judged model, best first: ``model, judge_rating, judge_ci_lower,
        judge_ci_upper, judge_rank, judge_battles`` and, with human battles,
        ``human_rating, human_ci_lower, human_ci_upper, human_rank, human_battles``
        (NaN for a model without human battles; ranks among the models shown).
    spearman:
        Rank correlation of judge and human ratings over the common models (NaN without
        human battles or with fewer than three common models).
    pairs:
        :func:`pair_agreement` (empty without human battles).
    pair_agreement:
        Share of :attr:`pairs` that agree (NaN when there is none).
    battle_agreement:
        Share of matched human votes the judge agrees with (NaN when none matched).
    n_battle_matches:
        Human votes on a judged prompt and pair (:func:`battle_agreement`).
    summary:
        The judge run: judge, models, prompts, comparisons, failures, outcome counts.
    warnings:
        Warnings of the run and of the rating fits.
    """

    table: pd.DataFrame
    spearman: float
    pairs: pd.DataFrame
    pair_agreement: float
    battle_agreement: float
    n_battle_matches: int
    summary: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def has_human(self) -> bool:
        """Whether human battles were compared."""
        return "human_rating" in self.table.columns


def _ratings(battles: Any, prefix: str, messages: list[str]) -> pd.DataFrame:
    from arena.leaderboard import ArenaWarning, compute_leaderboard

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ArenaWarning)
        lb = compute_leaderboard(battles, method="bt", ci="sandwich")
    messages += [f"{prefix} leaderboard: {w}" for w in lb.warnings]
    t = lb.table
    return pd.DataFrame(
        {
            "model": t["model"].astype(str),
            f"{prefix}_rating": t["rating"].astype(float),
            f"{prefix}_ci_lower": t["ci_lower"].astype(float),
            f"{prefix}_ci_upper": t["ci_upper"].astype(float),
            f"{prefix}_battles": t["battles"].astype(int),
        }
    )


def judge_report(
    judge: Any,
    human: Any | None = None,
    *,
    judge_frame: pd.DataFrame | None = None,
    summary: Mapping[str, Any] | None = None,
    warnings_: Sequence[str] = (),
) -> JudgeReport:
    """Rate the judge battles (Bradley–Terry, sandwich intervals) and compare with humans.

    Parameters
    ----------
    judge:
        The judge battles (:class:`arena.battles.Battles`).
    human:
        Human battles (:class:`arena.battles.Battles`, e.g. ``arena votes``), or None.
    judge_frame:
        The judge battles for the per-battle agreement: ``model_a, model_b, winner,
        prompt``, first-turn battles only (a second-turn battle has the same first user
        turn but judges another answer). Default: ``judge.to_frame()``.
    summary, warnings_:
        Carried into the report (the run's counts and warnings).

    Raises
    ------
    UserError
        No judge battle (every comparison failed), or fewer than two models in them.
    """
    if len(judge) == 0:
        raise UserError("there are no judge battles to rate: every comparison failed")
    messages = list(warnings_)
    table = _ratings(judge, "judge", messages)
    table.insert(4, "judge_rank", table["judge_rating"].rank(ascending=False, method="min"))
    table["judge_rank"] = table["judge_rank"].astype(int)
    spearman = math.nan
    pairs = pd.DataFrame(
        columns=[
            "model_x",
            "model_y",
            "judge_battles",
            "judge_winner",
            "human_battles",
            "human_winner",
            "agree",
        ]
    )
    pair_rate = battle_rate = math.nan
    matched = 0
    if human is not None:
        try:
            human_table = _ratings(human, "human", messages)
        except UserError as exc:
            raise UserError(f"the human battles (--human) cannot be rated: {exc}") from None
        table = table.merge(human_table, on="model", how="left")
        common = table.dropna(subset=["human_rating"])
        ranks = common["human_rating"].rank(ascending=False, method="min")
        table["human_rank"] = ranks.reindex(table.index).astype("Int64")
        table = table[
            [
                "model",
                "judge_rating",
                "judge_ci_lower",
                "judge_ci_upper",
                "judge_rank",
                "judge_battles",
                "human_rating",
                "human_ci_lower",
                "human_ci_upper",
                "human_rank",
                "human_battles",
            ]
        ]
        table["human_battles"] = table["human_battles"].astype("Int64")
        if len(common) >= 3:
            from scipy import stats

            spearman = float(
                stats.spearmanr(common["judge_rating"], common["human_rating"]).statistic
            )
        human_frame = human.to_frame()
        pairs = pair_agreement(judge.to_frame(), human_frame)
        if len(pairs):
            pair_rate = float(pairs["agree"].mean())
        frame = judge.to_frame() if judge_frame is None else judge_frame
        agreeing, matched = battle_agreement(frame, human_frame)
        if matched:
            battle_rate = agreeing / matched
    table = table.sort_values("judge_rating", ascending=False, kind="stable")
    return JudgeReport(
        table.reset_index(drop=True),
        spearman,
        pairs,
        pair_rate,
        battle_rate,
        matched,
        dict(summary or {}),
        tuple(messages),
    )


# -- rendering --------------------------------------------------------------------------------


def _num(value: Any, digits: int = 1) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, int | np.integer):
        return str(int(value))
    return f"{float(value):.{digits}f}"


def _rate(rate: float, n: int, what: str) -> str:
    if math.isnan(rate):
        return f"{what}: none to compare"
    return f"{what}: {round(rate * n)}/{n} = {100 * rate:.1f} %"


def _summary_line(summary: Mapping[str, Any]) -> str:
    if not summary:
        return ""
    outcomes = summary.get("outcomes", {})
    counts = ", ".join(f"{k} {v}" for k, v in outcomes.items())
    return (
        f"Judge {summary.get('judge')}: {summary.get('prompts')} prompts, "
        f"{summary.get('comparisons')} comparisons of {len(summary.get('models', []))} models "
        f"(each judged in both orders), {summary.get('battles')} battles ({counts}), "
        f"{summary.get('failed')} failed."
    )


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {str(k): _json_value(v) for k, v in row.items()}
        for row in frame.astype(object).to_dict(orient="records")
    ]


def render_judge_report(report: JudgeReport, fmt: str) -> str:
    """The report as Markdown (tables and agreement lines), CSV (the table) or JSON (all)."""
    if fmt not in REPORT_FORMATS:
        raise UserError(
            f"unknown report format '{fmt}'; expected one of {', '.join(REPORT_FORMATS)}"
        )
    t = report.table
    if fmt == "csv":
        return str(t.to_csv(index=False))
    if fmt == "json":
        data = {
            "summary": report.summary,
            "table": _records(t),
            "spearman": _json_value(report.spearman),
            "pair_agreement": _json_value(report.pair_agreement),
            "n_pairs": len(report.pairs),
            "battle_agreement": _json_value(report.battle_agreement),
            "n_battle_matches": report.n_battle_matches,
            "pairs": _records(report.pairs),
            "warnings": list(report.warnings),
        }
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    lines = []
    if report.summary:
        lines += [_summary_line(report.summary), ""]
    header = ["model", "judge rating", "95 % CI", "judge rank", "judge battles"]
    if report.has_human:
        header += ["human rating", "95 % CI", "human rank", "human battles"]
    lines += ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for r in t.to_dict(orient="records"):
        cells = [
            str(r["model"]).replace("|", "\\|"),
            _num(r["judge_rating"]),
            f"{_num(r['judge_ci_lower'])} to {_num(r['judge_ci_upper'])}"
            if not pd.isna(r["judge_ci_lower"])
            else "",
            _num(r["judge_rank"]),
            _num(r["judge_battles"]),
        ]
        if report.has_human:
            has = not pd.isna(r["human_rating"])
            cells += [
                _num(r["human_rating"]) if has else "",
                f"{_num(r['human_ci_lower'])} to {_num(r['human_ci_upper'])}" if has else "",
                _num(r["human_rank"]) if has else "",
                _num(r["human_battles"]) if has else "",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    if report.has_human:
        n_common = int(t["human_rating"].notna().sum())
        spearman = "n/a (fewer than 3)" if math.isnan(report.spearman) else f"{report.spearman:.3f}"
        lines += [
            "",
            f"Spearman rank correlation of judge and human ratings over {n_common} common "
            f"models: {spearman}",
            _rate(
                report.pair_agreement,
                len(report.pairs),
                "Agreement on model pairs (majority winner, ties included)",
            ),
            _rate(
                report.battle_agreement,
                report.n_battle_matches,
                "Agreement per battle (human votes on a judged prompt)",
            ),
        ]
        if len(report.pairs):
            lines += ["", "| pair | judge winner | human winner | agree |", "|---|---|---|---|"]
            for p in report.pairs.itertuples(index=False):
                lines.append(
                    f"| {p.model_x} vs {p.model_y} | {p.judge_winner} ({p.judge_battles}) "
                    f"| {p.human_winner} ({p.human_battles}) | {'yes' if p.agree else 'no'} |"
                )
    if report.warnings:
        lines += [""] + [f"warning: {w}" for w in report.warnings]
    return "\n".join(lines) + "\n"
